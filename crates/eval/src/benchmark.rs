//! The two benchmarks: Real-Edit (paper-notes.md, "Real-Edit": 80 photos x 7 types) read with
//! core's reader, and the world benchmark, a fixed held-out split of the edit world described
//! by a versioned spec (`eval/world-benchmark.toml`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use rewardedit_core::formats::read_real_edit;
use rewardedit_core::image_io::load_rgb;
use rewardedit_core::EditType;
use rewardedit_world::{sample_triplet, PhrasingSet, WorldConfig};
use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// The world benchmark spec committed with the code; used when no spec file is given.
pub const BUILTIN_WORLD_SPEC: &str = include_str!("../../../eval/world-benchmark.toml");

/// The world benchmark's definition (see `eval/world-benchmark.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// Spec version; bump it whenever anything else changes.
    pub version: u32,
    /// Seed of the split.
    pub seed: u64,
    /// Items per edit type (the benchmark has 7 times as many).
    pub items_per_type: u64,
    /// What the split is for; only a benchmark is held to held-out phrasings.
    #[serde(default)]
    pub split: SplitKind,
    /// World settings of every item.
    pub world: WorldConfig,
}

/// Whether a world split measures editors or feeds training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// Measures editors: held-out phrasings and seeds no training data uses.
    #[default]
    Benchmark,
    /// Produces editor outputs to train on (e.g. the student scorer's); training phrasings
    /// allowed. Never report a score on it as a benchmark result.
    Training,
}

impl WorldSpec {
    /// The spec committed in `eval/world-benchmark.toml` (compiled in).
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_WORLD_SPEC, "the built-in world benchmark spec").expect("the committed spec is valid")
    }

    /// Reads a spec file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a spec's TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let spec: WorldSpec =
            toml::from_str(text).map_err(|e| EvalError::Config(format!("{origin}: not a world benchmark spec: {e}")))?;
        spec.world.validate().map_err(|e| EvalError::Config(format!("{origin}: {e}")))?;
        if spec.items_per_type == 0 {
            return Err(EvalError::Config(format!("{origin}: items_per_type must be at least 1")));
        }
        if spec.split == SplitKind::Benchmark && spec.world.phrasing != PhrasingSet::HeldOut {
            return Err(EvalError::Config(format!(
                "{origin}: the world benchmark uses held-out phrasings (phrasing = \"held_out\"); \
                 a split made to produce training data says split = \"training\""
            )));
        }
        Ok(spec)
    }

    /// Number of items: 7 per unit of `items_per_type`.
    pub fn len(&self) -> u64 {
        self.items_per_type * EditType::ALL.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Environment variable naming the Real-Edit folder.
pub const REAL_EDIT_ENV: &str = "REWARDEDIT_REAL_EDIT";

/// The Real-Edit folder: `$REWARDEDIT_REAL_EDIT` when set, else the first `shared/real-edit`
/// holding `instructions.json` in `start` or one of its parents (the data sits beside the
/// repository: `../shared/real-edit` from the main checkout, one level further up from a
/// worktree). It is read in place, never copied.
pub fn locate_real_edit(start: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(REAL_EDIT_ENV) {
        return Some(p.into());
    }
    start
        .ancestors()
        .map(|a| a.join("shared/real-edit"))
        .find(|p| p.join(rewardedit_core::formats::real_edit::INSTRUCTIONS_FILE).is_file())
}

/// A benchmark to run.
#[derive(Debug, Clone)]
pub enum Benchmark {
    /// Real-Edit, read from the folder holding `instructions.json` and `imgs/`.
    RealEdit { dir: PathBuf },
    /// The world benchmark.
    World { spec: WorldSpec },
}

/// A benchmark's image, loaded when needed (Real-Edit photos are large; 7 items share one).
#[derive(Debug, Clone)]
pub enum ImageRef {
    File(PathBuf),
    Memory(Arc<RgbImage>),
}

impl ImageRef {
    pub fn load(&self) -> Result<Arc<RgbImage>> {
        match self {
            ImageRef::File(p) => Ok(Arc::new(load_rgb(p)?)),
            ImageRef::Memory(img) => Ok(img.clone()),
        }
    }
}

/// One item of a benchmark.
#[derive(Debug, Clone)]
pub struct BenchmarkItem {
    /// Unique within the benchmark (`10.jpeg#2`, `world-v1-000012`).
    pub id: String,
    pub edit_type: EditType,
    pub instruction: String,
    pub source: ImageRef,
    /// The exact target (world only).
    pub target: Option<Arc<RgbImage>>,
    /// What a scorer may need about the item: for world items the scene and edit, so the
    /// oracle can score them; `{}` for Real-Edit.
    pub provenance: serde_json::Value,
    /// Position in the benchmark, used to derive the item's edit seed.
    pub index: u64,
}

impl BenchmarkItem {
    /// An item whose source is an image file, with no target and no provenance (Real-Edit, a
    /// manifest's examples).
    pub fn from_file(id: String, edit_type: EditType, instruction: String, source: PathBuf, index: u64) -> Self {
        Self { id, edit_type, instruction, source: ImageRef::File(source), target: None, provenance: serde_json::json!({}), index }
    }
}

impl Benchmark {
    /// The name used on the command line and in run records.
    pub fn name(&self) -> &'static str {
        match self {
            Benchmark::RealEdit { .. } => "real-edit",
            Benchmark::World { .. } => "world",
        }
    }

    /// What identifies the benchmark's content in run records: the Real-Edit folder, or the
    /// world spec's version and seed.
    pub fn identity(&self) -> String {
        match self {
            Benchmark::RealEdit { .. } => "real-edit".into(),
            Benchmark::World { spec } => {
                // A training split never passes for the benchmark of the same seed (parity).
                let kind = if spec.split == SplitKind::Training { "-training" } else { "" };
                format!("world{kind}-v{}-seed{}-n{}", spec.version, spec.seed, spec.len())
            }
        }
    }

    /// The first `limit` items (all without a limit), in benchmark order. A malformed
    /// Real-Edit instruction fails the whole benchmark: a benchmark with a hole is not the
    /// benchmark.
    pub fn items(&self, limit: Option<usize>) -> Result<Vec<BenchmarkItem>> {
        let limit = limit.unwrap_or(usize::MAX);
        match self {
            Benchmark::RealEdit { dir } => {
                if !dir.join(rewardedit_core::formats::real_edit::INSTRUCTIONS_FILE).is_file() {
                    return Err(EvalError::Data(format!(
                        "{} holds no Real-Edit benchmark (instructions.json and imgs/); pass its folder with --real-edit",
                        dir.display()
                    )));
                }
                read_real_edit(dir)?
                    .take(limit)
                    .enumerate()
                    .map(|(i, r)| {
                        let r = r?;
                        Ok(BenchmarkItem::from_file(r.id, r.edit_type, r.instruction, r.image, i as u64))
                    })
                    .collect()
            }
            Benchmark::World { spec } => (0..spec.len()).take(limit).map(|i| world_item(spec, i)).collect(),
        }
    }
}

/// Item `index` of the world benchmark, with the provenance the oracle reads (`scene`, `op`,
/// `size`, `phrasing`).
fn world_item(spec: &WorldSpec, index: u64) -> Result<BenchmarkItem> {
    let t = sample_triplet(&spec.world, spec.seed, index).map_err(|e| EvalError::Data(e.to_string()))?;
    Ok(BenchmarkItem {
        id: format!("world-v{}-{index:06}", spec.version),
        edit_type: t.instruction.edit_type,
        instruction: t.instruction.text.clone(),
        source: ImageRef::Memory(Arc::new(t.source)),
        target: Some(Arc::new(t.target)),
        provenance: serde_json::json!({
            "generator": "world-benchmark",
            "spec_version": spec.version,
            "seed": spec.seed,
            "index": index,
            "size": spec.world.size,
            "phrasing": t.instruction.phrasing,
            "op": t.instruction.op,
            "scene": t.scene,
        }),
        index,
    })
}

impl fmt::Display for Benchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Benchmark::RealEdit { dir } => write!(f, "real-edit ({})", dir.display()),
            Benchmark::World { spec } => {
                let kind = if spec.split == SplitKind::Training { ", a training split" } else { "" };
                write!(f, "world (spec v{}, seed {}, {} items{kind})", spec.version, spec.seed, spec.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_phrasings_need_a_declared_training_split() {
        let text = "version = 1\nseed = 50\nitems_per_type = 2\n[world]\nsize = 32\nphrasing = \"train\"\n";
        let err = WorldSpec::parse(text, "spec").unwrap_err().to_string();
        assert!(err.contains("held_out") && err.contains("split = \"training\""), "{err}");
        let training = WorldSpec::parse(&text.replace("[world]", "split = \"training\"\n[world]"), "spec").unwrap();
        let bench = Benchmark::World { spec: WorldSpec { split: SplitKind::Benchmark, ..training.clone() } };
        let training = Benchmark::World { spec: training };
        assert_ne!(training.identity(), bench.identity(), "parity must never pair a training split with a benchmark");
        assert_eq!(training.items(None).unwrap().len(), 14);
    }

    #[test]
    fn builtin_spec_is_held_out_and_deterministic() {
        let spec = WorldSpec::builtin();
        assert_eq!(spec.len(), 700);
        let b = Benchmark::World { spec };
        let (a, c) = (b.items(Some(7)).unwrap(), b.items(Some(7)).unwrap());
        assert_eq!(a.iter().map(|i| i.edit_type).collect::<Vec<_>>(), EditType::ALL);
        for (x, y) in a.iter().zip(&c) {
            assert_eq!((&x.id, &x.instruction, &x.provenance), (&y.id, &y.instruction, &y.provenance));
            assert_eq!(x.provenance["phrasing"], "held_out");
        }
    }
}
