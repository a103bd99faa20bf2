//! Teacher data for distillation: edits with the teacher's reward, from the world (sampled on
//! the fly, deterministic in seed and index) or from a labelled manifest.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};
use rewardedit_core::image_io::load_rgb;
use rewardedit_core::manifest::{ManifestReader, MANIFEST_FILE};
use rewardedit_core::Reward;
use rewardedit_world::{sample_triplet, WorldConfig};
use serde::{Deserialize, Serialize};

use super::batch::at_resolution;
use super::StudentError;

/// Where teacher-labelled edits come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSource {
    /// Triplets `0..n` of world seed `seed`; the teacher is the world's reward: the exact oracle,
    /// or the noisy oracle (an LVLM stand-in) when `world.judge_noise` is set.
    World {
        /// World data-set seed (distinct seeds give disjoint data sets).
        seed: u64,
        /// Number of triplets.
        n: u64,
        /// The world: image size, flaw mix, phrasing set, judge noise.
        #[serde(default)]
        world: WorldConfig,
    },
    /// A JSONL manifest whose `rewards` are the teacher labels (e.g. `rewardedit world sample`
    /// or `rewardedit label` output); unlabelled lines are skipped.
    Manifest {
        /// The manifest file, or a folder holding `manifest.jsonl`.
        path: PathBuf,
        /// How many times its edits enter the training set: a small folder among many world
        /// edits (a few thousand editor outputs beside 200,000) keeps its share of the draws.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        repeat: usize,
    },
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// One edit with its teacher label, images already at the student's resolution.
#[derive(Debug, Clone)]
pub struct TeacherExample {
    pub id: String,
    pub source: RgbImage,
    pub edited: RgbImage,
    pub instruction: String,
    /// The label the student learns from.
    pub teacher: Reward,
    /// The exact oracle's reward where known (world data): what agreement is measured against.
    pub exact: Option<Reward>,
    /// Where the instruction allows change (255 = may change), at the student's resolution;
    /// world data only (the mask head's target).
    pub mask: Option<GrayImage>,
}

impl DataSource {
    /// Loads every example, resizing images to `resolution`; `progress(done, total)` after each.
    pub fn load(&self, resolution: u32, progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<TeacherExample>, StudentError> {
        match self {
            DataSource::World { seed, n, world } => load_world(world, *seed, *n, resolution, progress),
            DataSource::Manifest { path, repeat } => {
                let mut all = load_manifest(path, resolution, progress)?;
                let n = all.len();
                all.reserve(n * repeat.saturating_sub(1));
                for _ in 1..*repeat {
                    all.extend_from_within(..n);
                }
                Ok(all)
            }
        }
    }
}

fn load_world(
    world: &WorldConfig,
    seed: u64,
    n: u64,
    resolution: u32,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<TeacherExample>, StudentError> {
    world.validate()?;
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n.max(1) as usize) as u64;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut slots: Vec<Option<TeacherExample>> = vec![None; n as usize];
    std::thread::scope(|s| -> Result<(), StudentError> {
        for t in 0..threads {
            let tx = tx.clone();
            s.spawn(move || {
                // Striped so every thread gets a share of every edit type.
                for index in (t..n).step_by(threads as usize) {
                    let example = sample_triplet(world, seed, index).map(|tr| TeacherExample {
                        id: tr.id,
                        source: at_resolution(&tr.source, resolution),
                        edited: at_resolution(&tr.edited, resolution),
                        instruction: tr.instruction.text,
                        teacher: tr.reward,
                        exact: Some(tr.exact_reward),
                        mask: Some(imageops::resize(&tr.mask, resolution, resolution, FilterType::Triangle)),
                    });
                    let failed = example.is_err();
                    if tx.send((index, example)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (index, example) in rx {
            slots[index as usize] = Some(example?);
            done += 1;
            progress(done, n);
        }
        Ok(())
    })?;
    slots.into_iter().map(|e| e.ok_or_else(|| StudentError::Data("a world triplet was not produced".into()))).collect()
}

fn load_manifest(path: &Path, resolution: u32, progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<TeacherExample>, StudentError> {
    let file = if path.is_dir() { path.join(MANIFEST_FILE) } else { path.to_path_buf() };
    let reader = ManifestReader::open(&file)?;
    let base = reader.base_dir().to_path_buf();
    let mut out = Vec::new();
    for example in reader {
        let ex = example?;
        let Some(teacher) = ex.rewards else { continue };
        let load = |p: &Path| load_rgb(base.join(p)).map(|img| at_resolution(&img, resolution));
        // World folders written with judge noise keep the exact reward in the provenance.
        let exact = match ex.provenance.get("exact_rewards") {
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| StudentError::format(&file, format!("{}: exact_rewards: {e}", ex.id)))?),
            None if ex.provenance.get("generator").and_then(|g| g.as_str()) == Some("world") => Some(teacher.clone()),
            None => None,
        };
        out.push(TeacherExample {
            source: load(&ex.source)?,
            edited: load(&ex.edited)?,
            instruction: ex.instruction,
            id: ex.id,
            teacher,
            exact,
            mask: None,
        });
        progress(out.len() as u64, 0);
    }
    if out.is_empty() {
        return Err(StudentError::Data(format!("{}: no line carries rewards (teacher labels)", file.display())));
    }
    Ok(out)
}
