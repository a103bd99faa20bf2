//! The models the demo evaluates: where each checkpoint folder is, what is missing (and how to
//! get it), and what a folder is on disk (size, content fingerprint, default sampling steps).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rewardedit_models::import::editor::load_editor_config;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::exit::bad_input;

/// The editors of the demo, in the order of its tables (maps keyed by it keep this order).
/// `Noop` (the source returned unchanged) is the floor every world report shows; it has no
/// folder. Serialised as [`Slot::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Noop,
    Baseline,
    Teacher,
    Student,
    StudentInt8,
}

impl Slot {
    pub const ALL: [Slot; 5] = [Slot::Noop, Slot::Baseline, Slot::Teacher, Slot::Student, Slot::StudentInt8];

    /// The key in `summary.json` and the run folders.
    pub fn key(self) -> &'static str {
        match self {
            Slot::Noop => "noop",
            Slot::Baseline => "baseline",
            Slot::Teacher => "teacher",
            Slot::Student => "student",
            Slot::StudentInt8 => "student_int8",
        }
    }

    /// The committed folder's name under `checkpoints/`.
    pub fn folder(self) -> Option<&'static str> {
        match self {
            Slot::Noop => None,
            Slot::Baseline => Some("world-baseline-long"),
            Slot::Teacher => Some("world-teacher-long"),
            Slot::Student => Some("world-student-long"),
            Slot::StudentInt8 => Some("world-student-long-int8"),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Slot::Noop => "no edit (the source returned): the floor",
            Slot::Baseline => "baseline editor: InstructPix2Pix trained on the same data without rewards",
            Slot::Teacher => "reward-conditioned teacher editor",
            Slot::Student => "student editor distilled from the teacher (fewer blocks and steps)",
            Slot::StudentInt8 => "the student editor with int8 weights",
        }
    }
}

/// Name of the student scorer's folder under `checkpoints/`.
pub const SCORER_FOLDER: &str = "student-scorer";

/// Where every model of the demo is: the committed checkpoints, or a `--retrain` run's outputs.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    /// The folder named in messages (`checkpoints/`, or the retrain folder).
    pub root: PathBuf,
    /// Editor folders of the slots that have one, in [`Slot::ALL`] order.
    pub editors: Vec<(Slot, PathBuf)>,
    /// The student scorer's folder (its int8 weights are used).
    pub scorer: PathBuf,
}

impl Checkpoints {
    /// The committed layout under `root`.
    pub fn committed(root: &Path) -> Self {
        let editors = Slot::ALL.iter().filter_map(|s| Some((*s, root.join(s.folder()?)))).collect();
        Checkpoints { root: root.to_path_buf(), editors, scorer: root.join(SCORER_FOLDER) }
    }

    pub fn editor(&self, slot: Slot) -> Option<&Path> {
        self.editors.iter().find(|(s, _)| *s == slot).map(|(_, d)| d.as_path())
    }

    /// Every folder the demo needs that is not there: bad input (exit 2) naming each one, why
    /// it is needed and how to get it. Nothing is evaluated until all are present, so the demo
    /// never shows a row it could not measure.
    pub fn check(&self) -> Result<()> {
        let mut missing = String::new();
        let mut count = 0;
        for (slot, dir) in &self.editors {
            if !dir.join("unet").join("config.json").is_file() {
                count += 1;
                let what = if dir.is_dir() { "holds no editor (no unet/config.json)" } else { "does not exist" };
                let _ = writeln!(missing, "  {} ({}): {what}", dir.display(), slot.describe());
                if dir.join("PROVENANCE.md").is_file() {
                    let _ = writeln!(missing, "      how it was trained: {}", dir.join("PROVENANCE.md").display());
                }
            }
        }
        if !self.scorer.join("config.json").is_file() {
            count += 1;
            let _ = writeln!(missing, "  {} (the student scorer, scoring every edit beside the oracle): does not exist", self.scorer.display());
        }
        if count == 0 {
            return Ok(());
        }
        Err(bad_input(format!(
            "the demo evaluates the committed world checkpoints, and {count} of {} folders it needs are missing:\n{missing}\
             Get them by checking out a commit that has them (they are committed under checkpoints/), by training them with \
             the commands in {} and the folders' PROVENANCE.md, or by running `rewardedit demo --retrain` (the whole pipeline \
             from data generation: hours on a CPU; `--retrain --dry-run` lists its steps). Or point --checkpoints at a folder \
             that has them.",
            self.editors.len() + 1,
            self.root.join("PROVENANCE.md").display()
        )))
    }
}

/// The repository holding the current folder: the nearest folder (the current one or a parent)
/// with a `checkpoints/` folder beside `Cargo.toml`.
pub fn repository_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().find(|a| a.join("checkpoints").is_dir() && a.join("Cargo.toml").is_file()).map(Path::to_path_buf)
}

/// What a model folder is on disk.
#[derive(Debug, Clone)]
pub struct FolderInfo {
    /// Bytes of every file in it (documentation aside).
    pub bytes: u64,
    /// SHA-256 of every file's relative path and content: run folders are keyed by it, so new
    /// weights under the same name are never mixed with old results.
    pub fingerprint: String,
    /// Sampling steps and scheduler from its `editor.json` (the student samples fewer steps).
    pub steps: u32,
    pub scheduler: String,
    /// Reward guidance scale from its `editor.json` (1 = none).
    pub reward_cfg: f64,
}

impl FolderInfo {
    pub fn of(dir: &Path) -> Result<Self> {
        let mut files = Vec::new();
        list_files(dir, &mut files).with_context(|| format!("reading {}", dir.display()))?;
        files.sort();
        let mut hash = Sha256::new();
        let mut bytes = 0;
        for f in &files {
            let content = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            bytes += content.len() as u64;
            hash.update(f.strip_prefix(dir).unwrap_or(f).to_string_lossy().as_bytes());
            hash.update((content.len() as u64).to_le_bytes());
            hash.update(&content);
        }
        let config = load_editor_config(dir).map_err(|e| bad_input(format!("{}: {e}", dir.display())))?;
        let d = &config.defaults;
        Ok(FolderInfo {
            bytes,
            fingerprint: format!("{:x}", hash.finalize()),
            steps: d.steps as u32,
            scheduler: d.scheduler.name().to_string(),
            reward_cfg: d.reward_cfg,
        })
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else if path.extension().is_none_or(|e| e != "md") {
            // PROVENANCE.md and notes are documentation, not the model.
            out.push(path);
        }
    }
    Ok(())
}
