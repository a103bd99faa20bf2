//! The evaluations the demo runs, as a list (printed by `--dry-run`), and the runner that does
//! them with `rewardedit eval`'s code: one resumable run folder per job, so a killed demo
//! continues where it stopped, and each editor edits once while both scorers score its edits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::tensor::Device;
use rewardedit_core::Axis;
use rewardedit_eval::{
    open_editor_dir, rescore_run, run_eval, Benchmark, EditSettings, Editor, NoopEditor, RewardRequest, RunOptions,
    RunOutcome,
};
use rewardedit_scorer::Scorer;
use sha2::{Digest, Sha256};

use super::models::{Checkpoints, FolderInfo, Slot};
use super::summary::ORACLE;
use crate::commands::eval::from_eval;
use crate::progress::RunBar;

/// The folder, beside a model's main run, of its edits scored by the student scorer.
pub const RESCORED: &str = "student-scorer";

/// Requested reward levels of a slider sweep.
pub const SWEEP_LEVELS: [u8; 5] = [1, 2, 3, 4, 5];

/// What one job measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A model on the demo benchmark at the paper's rewards (5, 5, 5): the main table.
    Main,
    /// The teacher with the null reward: reward guidance off.
    GuidanceOff,
    /// The teacher with one axis's requested reward at `level`, the others at 5. Level 5 is
    /// the main run (the same request), so it has no job of its own.
    Sweep { axis: Axis, level: u8 },
}

/// One evaluation: a model, a reward request, how many of the benchmark's first items.
#[derive(Debug, Clone)]
pub struct Job {
    pub slot: Slot,
    pub purpose: Purpose,
    pub limit: Option<usize>,
}

impl Job {
    pub fn rewards(&self) -> RewardRequest {
        match self.purpose {
            Purpose::Main => RewardRequest::Default,
            Purpose::GuidanceOff => RewardRequest::Null,
            Purpose::Sweep { axis, level } => {
                let mut scores = [5.0; 3];
                scores[axis.index()] = f32::from(level);
                RewardRequest::Scores { scores, text: None }
            }
        }
    }

    /// The run folder's name inside the model's folder.
    pub fn name(&self) -> String {
        match self.purpose {
            Purpose::Main => "oracle".into(),
            Purpose::GuidanceOff => "null-reward".into(),
            Purpose::Sweep { axis, level } => format!("sweep-{}-{level}", axis.name()),
        }
    }

    pub fn label(&self) -> String {
        match self.purpose {
            Purpose::Main => self.slot.key().to_string(),
            Purpose::GuidanceOff => format!("{} no reward", self.slot.key()),
            Purpose::Sweep { axis, level } => format!("sweep {} = {level}", axis.name()),
        }
    }
}

/// Sizes of the demo's evaluations.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Items of the main and guidance runs: the first `items` of the benchmark.
    pub items: usize,
    /// Items of each slider-sweep run: the first `sweep_items` (at most `items`, so that level
    /// 5 is the main run's).
    pub sweep_items: usize,
    /// Sampling steps for every editor (`--quick`); `None`: each folder's own.
    pub steps: Option<u32>,
}

/// Every job, in the order they run: the main table first (the demo's point), then guidance,
/// then the sweeps.
pub fn jobs(sizes: &Sizes) -> Vec<Job> {
    let mut out: Vec<Job> = Slot::ALL.iter().map(|&slot| Job { slot, purpose: Purpose::Main, limit: Some(sizes.items) }).collect();
    out.push(Job { slot: Slot::Teacher, purpose: Purpose::GuidanceOff, limit: Some(sizes.items) });
    for axis in Axis::ALL {
        for level in SWEEP_LEVELS.into_iter().filter(|&l| l != 5) {
            out.push(Job { slot: Slot::Teacher, purpose: Purpose::Sweep { axis, level }, limit: Some(sizes.sweep_items) });
        }
    }
    out
}

/// Runs jobs into `root/<model>-<key>/<job>`, where the key hashes the model folder's content
/// and the benchmark: other weights or another benchmark never resume an old folder.
pub struct Runner<'a> {
    pub benchmark: &'a Benchmark,
    pub checkpoints: &'a Checkpoints,
    pub infos: &'a BTreeMap<Slot, FolderInfo>,
    device: &'a Device,
    root: PathBuf,
    steps: Option<u32>,
    editors: BTreeMap<Slot, Box<dyn Editor>>,
}

impl<'a> Runner<'a> {
    pub fn new(benchmark: &'a Benchmark, checkpoints: &'a Checkpoints, infos: &'a BTreeMap<Slot, FolderInfo>, device: &'a Device, root: PathBuf, steps: Option<u32>) -> Self {
        Runner { benchmark, checkpoints, infos, device, root, steps, editors: BTreeMap::new() }
    }

    /// The folder of a model's runs.
    pub fn model_dir(&self, slot: Slot) -> PathBuf {
        let fingerprint = self.infos.get(&slot).map_or("noop", |i| i.fingerprint.as_str());
        let key = Sha256::digest(format!("{fingerprint}\n{}", self.benchmark.identity()));
        self.root.join(format!("{}-{}", slot.key(), &format!("{key:x}")[..10]))
    }

    pub fn run_dir(&self, job: &Job) -> PathBuf {
        self.model_dir(job.slot).join(job.name())
    }

    /// The run of `slot` for `purpose`.
    pub fn dir_of(&self, slot: Slot, purpose: Purpose) -> PathBuf {
        self.run_dir(&Job { slot, purpose, limit: None })
    }

    /// A model's main run as scored by `scorer` ([`ORACLE`]: the run itself; else its rescoring).
    pub fn scored_dir(&self, slot: Slot, scorer: &str) -> PathBuf {
        if scorer == ORACLE { self.dir_of(slot, Purpose::Main) } else { self.model_dir(slot).join(RESCORED) }
    }

    /// The editor of a slot, opened once.
    pub(super) fn editor(&mut self, slot: Slot) -> Result<&dyn Editor> {
        if !self.editors.contains_key(&slot) {
            let editor: Box<dyn Editor> = match self.checkpoints.editor(slot) {
                None => Box::new(NoopEditor),
                Some(dir) => open_editor_dir(dir, self.device).map_err(|e| from_eval(e.into()))?,
            };
            self.editors.insert(slot, editor);
        }
        Ok(self.editors[&slot].as_ref())
    }

    /// Runs (or resumes) `job`, scored by `scorer`.
    pub fn run(&mut self, job: &Job, scorer: &dyn Scorer) -> Result<RunOutcome> {
        let out = self.run_dir(job);
        let options = RunOptions {
            settings: EditSettings { rewards: job.rewards(), steps: self.steps, ..EditSettings::default() },
            limit: job.limit,
            ..RunOptions::default()
        };
        let benchmark = self.benchmark;
        let editor = self.editor(job.slot)?;
        let mut bar = RunBar::new(&job.label());
        let outcome = run_eval(benchmark, editor, scorer, &options, &out, &mut bar).map_err(from_eval);
        bar.finish();
        outcome
    }

    /// Scores a main job's edits again with `scorer`, into the model's [`RESCORED`] folder.
    pub fn rescore(&self, job: &Job, scorer: &dyn Scorer) -> Result<(PathBuf, RunOutcome)> {
        let out = self.model_dir(job.slot).join(RESCORED);
        let outcome = rescore_run(&self.run_dir(job), scorer, RunOptions::default().concurrency, &out).map_err(from_eval)?;
        Ok((out, outcome))
    }
}

/// A run folder relative to the demo's output folder, for summaries that move with it.
pub fn relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base).map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}
