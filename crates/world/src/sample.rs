//! Triplet sampling and data folders: `sample_triplet` is a pure function of (config, seed,
//! index); `write_dataset` writes PNGs and a core manifest, byte-identical for the same arguments.

use std::path::{Path, PathBuf};

use image::{GrayImage, RgbImage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rewardedit_core::image_io::{load_gray, load_rgb, save_png};
use rewardedit_core::manifest::{read_manifest, truncate_partial_line, ManifestReader, ManifestWriter, MANIFEST_FILE};
use rewardedit_core::{EditExample, EditType, Reward};
use serde::{Deserialize, Serialize};

use crate::edit::EditCase;
use crate::flaw::{Flaw, FlawWeights};
use crate::grid::{gray_to_rgb, grid};
use crate::instruction::{random_op, Instruction, PhrasingSet};
use crate::noise::JudgeNoise;
use crate::oracle::{Oracle, OracleConfig};
use crate::pixels::{self, l1};
use crate::render::MIN_SIZE;
use crate::scene::{Scene, MAX_OBJECTS};
use crate::Error;

/// Everything that shapes a sampled world data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    /// Image side in pixels (images are square); at least 16. 32, 64 and 128 are the usual sizes.
    pub size: u32,
    /// Fewest objects in a scene (1-4).
    pub min_objects: usize,
    /// Most objects in a scene (1-4, at least `min_objects`).
    pub max_objects: usize,
    /// Fraction of triplets whose edited image is the clean target (0-1); the rest get one flaw.
    pub clean_fraction: f32,
    /// Relative weights of the flaw families among flawed triplets.
    pub flaw_weights: FlawWeights,
    /// Smallest flaw severity sampled, in (0, 1].
    pub min_severity: f32,
    /// Largest flaw severity sampled, in (0, 1], at least `min_severity`.
    pub max_severity: f32,
    /// Which instruction wordings to use: training templates or the held-out ones.
    pub phrasing: PhrasingSet,
    /// Noise that makes the oracle behave like an imperfect LVLM judge; `None` = exact scores.
    pub judge_noise: Option<JudgeNoise>,
    /// Oracle calibration.
    pub oracle: OracleConfig,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            size: 64,
            min_objects: 1,
            max_objects: MAX_OBJECTS,
            clean_fraction: 0.5,
            flaw_weights: FlawWeights::default(),
            min_severity: 0.2,
            max_severity: 1.0,
            phrasing: PhrasingSet::Train,
            judge_noise: None,
            oracle: OracleConfig::default(),
        }
    }
}

impl WorldConfig {
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.size < MIN_SIZE {
            return bad(format!("size {} is below the minimum {MIN_SIZE}", self.size));
        }
        if !(1..=MAX_OBJECTS).contains(&self.min_objects) || !(self.min_objects..=MAX_OBJECTS).contains(&self.max_objects) {
            return bad(format!("objects must satisfy 1 <= min ({}) <= max ({}) <= {MAX_OBJECTS}", self.min_objects, self.max_objects));
        }
        if !(0.0..=1.0).contains(&self.clean_fraction) {
            return bad(format!("clean_fraction {} is outside [0, 1]", self.clean_fraction));
        }
        if !(self.min_severity > 0.0 && self.min_severity <= self.max_severity && self.max_severity <= 1.0) {
            return bad(format!("severities must satisfy 0 < min ({}) <= max ({}) <= 1", self.min_severity, self.max_severity));
        }
        if self.clean_fraction < 1.0 {
            self.flaw_weights.validate()?;
        }
        if let Some(n) = &self.judge_noise {
            n.validate()?;
        }
        Ok(())
    }
}

/// One sampled example with everything known about it.
#[derive(Debug, Clone)]
pub struct Triplet {
    pub id: String,
    pub scene: Scene,
    pub instruction: Instruction,
    pub source: RgbImage,
    /// The exact result of the instruction.
    pub target: RgbImage,
    /// The edit region: 255 = may change.
    pub mask: GrayImage,
    /// The "edited" image of the triplet: the target, possibly with flaws.
    pub edited: RgbImage,
    pub flaws: Vec<Flaw>,
    /// The reward the data set carries: the oracle's, with judge noise if configured.
    pub reward: Reward,
    /// The exact oracle reward (equal to `reward` without judge noise).
    pub exact_reward: Reward,
}

/// Tries before giving up on finding an edit that visibly changes its scene.
const MAX_TRIES: usize = 32;

/// Mean per-pixel change (summed channels, 0-765) an edit must make in its region to be used;
/// below it a style or light can hide the change (two colours posterized alike).
const MIN_VISIBLE_CHANGE: f32 = 24.0;

fn visible_change(case: &EditCase) -> f32 {
    let (s, t) = (pixels::to_px(&case.source), pixels::to_px(&case.target));
    let (mut sum, mut k) = (0.0f32, 0usize);
    for i in (0..s.len()).filter(|&i| case.region[i]) {
        sum += l1(s[i], t[i]);
        k += 1;
    }
    sum / k.max(1) as f32
}

/// A random visible edit case of `edit_type`, drawn from `rng`.
pub fn sample_case<R: RngExt + ?Sized>(cfg: &WorldConfig, edit_type: EditType, rng: &mut R) -> Result<EditCase, Error> {
    let mut last = None;
    for _ in 0..MAX_TRIES {
        let scene = Scene::random(rng, cfg.min_objects, cfg.max_objects);
        let op = random_op(rng, &scene, edit_type);
        let instruction = Instruction::new(rng, &scene, op, cfg.phrasing);
        let case = EditCase::new(&scene, &instruction, cfg.size)?;
        if visible_change(&case) >= MIN_VISIBLE_CHANGE {
            return Ok(case);
        }
        last = Some(case);
    }
    // Practically unreachable; a faint edit is still a valid one.
    last.ok_or_else(|| Error::InvalidConfig("no edit case could be sampled".into()))
}

/// Triplet `index` of the data set of `seed`: deterministic, independent of other indices.
/// Edit types cycle through Real-Edit's order, so any 7 consecutive indices cover all types.
pub fn sample_triplet(cfg: &WorldConfig, seed: u64, index: u64) -> Result<Triplet, Error> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let edit_type = EditType::ALL[(index % 7) as usize];
    let case = sample_case(cfg, edit_type, &mut rng)?;

    let mut flaws = Vec::new();
    let mut edited = pixels::to_px(&case.target);
    if rng.random::<f32>() >= cfg.clean_fraction
        && let Some(kind) = cfg.flaw_weights.pick_kind(&case, &mut rng)
    {
        let severity = cfg.min_severity + (cfg.max_severity - cfg.min_severity) * rng.random::<f32>();
        let flaw = Flaw::new(kind, severity)?;
        edited = flaw.apply(&case, &edited, &mut rng)?;
        flaws.push(flaw);
    }
    let edited = pixels::to_image(&edited, cfg.size);
    let exact_reward = Oracle::with_config(cfg.size, cfg.oracle).score_case(&case, &edited)?;
    let reward = match &cfg.judge_noise {
        Some(noise) => noise.apply(&exact_reward, rng.random())?,
        None => exact_reward.clone(),
    };
    Ok(Triplet {
        id: format!("world-{seed}-{index:06}"),
        mask: case.mask(),
        scene: case.scene,
        instruction: case.instruction,
        source: case.source,
        target: case.target,
        edited,
        flaws,
        reward,
        exact_reward,
    })
}

/// Sub-folders of a world data folder, one per image role.
pub const IMAGE_DIRS: [&str; 4] = ["source", "edited", "target", "mask"];

/// File name of the resolved config written beside the manifest.
pub const CONFIG_FILE: &str = "world_config.json";

/// How many triplets of this data set `dir` already holds: the number of leading manifest lines
/// that are triplets `0, 1, ...` of `seed`, when the folder's config is `config_json`; 0 when
/// there is nothing to continue (or more than `n` lines: the folder is then rewritten).
fn written_prefix(dir: &Path, config_json: &str, seed: u64, n: u64) -> Result<u64, Error> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let same_config = std::fs::read_to_string(dir.join(CONFIG_FILE)).is_ok_and(|c| c == config_json);
    if !same_config || !manifest_path.exists() {
        return Ok(0);
    }
    // A line cut short by a kill is dropped; its triplet is written again.
    truncate_partial_line(&manifest_path)?;
    let mut done = 0u64;
    for example in ManifestReader::open(&manifest_path)? {
        let Ok(example) = example else { return Ok(0) };
        let p = &example.provenance;
        if p["seed"].as_u64() != Some(seed) || p["index"].as_u64() != Some(done) {
            return Ok(0);
        }
        done += 1;
    }
    Ok(if done > n { 0 } else { done })
}

/// Writes triplets `0..n` of `seed` into `dir`: PNGs under `source/`, `edited/`, `target/`,
/// `mask/`, the manifest `manifest.jsonl` (paths relative to `dir`) and the resolved config.
/// `progress(done, n)` is called after each triplet. Same arguments, same bytes.
///
/// Resumable: when `dir` already holds the start of the same data set (same config and seed,
/// triplets in order), writing continues after its last complete manifest line, so a run
/// killed at any moment and started again ends with the same files as an uninterrupted one.
pub fn write_dataset(
    dir: &Path,
    cfg: &WorldConfig,
    n: u64,
    seed: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), Error> {
    cfg.validate()?;
    for sub in IMAGE_DIRS {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|source| Error::Io { path: p, source })?;
    }
    let config_path = dir.join(CONFIG_FILE);
    let json = serde_json::to_string_pretty(cfg).map_err(|e| Error::InvalidConfig(e.to_string()))? + "\n";
    let manifest_path = dir.join(MANIFEST_FILE);
    let done = written_prefix(dir, &json, seed, n)?;
    std::fs::write(&config_path, &json).map_err(|source| Error::Io { path: config_path, source })?;
    let mut manifest =
        if done > 0 { ManifestWriter::append(&manifest_path)? } else { ManifestWriter::create(&manifest_path)? };
    if done > 0 {
        progress(done, n);
    }
    for index in done..n {
        let t = sample_triplet(cfg, seed, index)?;
        let rel = |sub: &str| PathBuf::from(sub).join(format!("{}.png", t.id));
        save_png(dir.join(rel("source")), &t.source)?;
        save_png(dir.join(rel("edited")), &t.edited)?;
        save_png(dir.join(rel("target")), &t.target)?;
        save_png(dir.join(rel("mask")), &t.mask)?;
        let mut provenance = serde_json::json!({
            "generator": "world",
            "seed": seed,
            "index": index,
            "size": cfg.size,
            "phrasing": t.instruction.phrasing,
            "op": t.instruction.op,
            "scene": t.scene,
            "flaws": t.flaws,
        });
        if cfg.judge_noise.is_some() {
            provenance["exact_rewards"] = serde_json::to_value(&t.exact_reward).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        }
        manifest.write(&EditExample {
            id: t.id.clone(),
            source: rel("source"),
            edited: rel("edited"),
            instruction: t.instruction.text.clone(),
            edit_type: t.instruction.edit_type,
            rewards: Some(t.reward.clone()),
            target: Some(rel("target")),
            mask: Some(rel("mask")),
            provenance,
        })?;
        progress(index + 1, n);
    }
    Ok(())
}

/// A contact sheet of the first `max_rows` examples of a world data folder: one row per example,
/// source | edited | target | mask (examples without target or mask leave those cells empty).
pub fn show(dir: &Path, max_rows: usize) -> Result<RgbImage, Error> {
    let examples = read_manifest(dir.join(MANIFEST_FILE))?;
    let mut rows = Vec::new();
    for ex in examples.iter().take(max_rows) {
        let mut row = vec![load_rgb(dir.join(&ex.source))?, load_rgb(dir.join(&ex.edited))?];
        if let Some(t) = &ex.target {
            row.push(load_rgb(dir.join(t))?);
        }
        if let Some(m) = &ex.mask {
            row.push(gray_to_rgb(&load_gray(dir.join(m))?));
        }
        rows.push(row);
    }
    Ok(grid(&rows))
}
