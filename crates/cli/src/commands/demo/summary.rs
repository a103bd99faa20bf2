//! `demo/summary.json`: per model and scorer the run summary (per axis yes-rate, mean and their
//! bootstrap intervals, overall and by edit type), edit time and size; the speed-up and parity
//! verdicts of the students; reward guidance on vs off; the slider sweeps.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use rewardedit_core::Axis;
use rewardedit_eval::parity::{run_parity, ParityReport, RunThresholds};
use rewardedit_eval::run::{load_summary, RunRecord};
use rewardedit_eval::stats::quantile;
use rewardedit_eval::{read_records, Bootstrap, ItemRecord, RunSummary};
use serde::Serialize;

use super::jobs::{relative, Purpose, Runner, Sizes, SWEEP_LEVELS};
use super::models::Slot;
use super::sweep::{axis_sweep, AxisSweep};
use crate::commands::eval::from_eval;

/// Version of this file's layout; bump it when a field changes meaning or goes.
pub const SUMMARY_VERSION: u32 = 2;

/// Scorer keys: the exact world oracle, and the distilled student scorer (int8 weights).
pub const ORACLE: &str = "oracle";
pub const STUDENT_SCORER: &str = "student_scorer";

#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub version: u32,
    /// `full`, or `quick` (few items, few steps: a look at the pipeline, not a measurement).
    pub mode: &'static str,
    pub benchmark: BenchmarkInfo,
    /// The folder the models came from.
    pub checkpoints: PathBuf,
    /// Seconds this invocation took (resumed runs count only what was left to do).
    pub wall_seconds: f64,
    /// Per model (`noop`, `baseline`, `teacher`, `student`, `student_int8`).
    pub models: BTreeMap<Slot, ModelSummary>,
    pub speed: Speed,
    /// Teacher vs student and teacher vs int8 student, under each scorer.
    pub parity: Vec<ParityCheck>,
    pub guidance: Guidance,
    pub sweeps: Sweeps,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkInfo {
    /// Spec version, seed and size, as run folders record it.
    pub identity: String,
    pub detail: String,
    /// Items of the main and guidance runs.
    pub items: usize,
    /// Items of each sweep run.
    pub sweep_items: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub description: &'static str,
    /// The editor with its resolved settings, as the run records it.
    pub editor: String,
    /// The model folder; `None` for noop.
    pub dir: Option<PathBuf>,
    /// Bytes on disk of the model folder.
    pub size_bytes: Option<u64>,
    /// SHA-256 of the folder's files (run folders are keyed by it).
    pub fingerprint: Option<String>,
    /// Sampling steps used (the folder's `editor.json`, or `--quick`'s).
    pub steps: Option<u32>,
    /// The sampler from its `editor.json`.
    pub scheduler: Option<String>,
    /// Seconds per edit over the benchmark's items.
    pub edit_seconds: Option<Timing>,
    /// Per scorer key ([`ORACLE`], [`STUDENT_SCORER`]): the run and its summary.
    pub scorers: BTreeMap<&'static str, ScoredRun>,
}

/// A run folder (relative to the demo folder) and its `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScoredRun {
    pub run: PathBuf,
    #[serde(flatten)]
    pub summary: RunSummary,
}

/// Seconds per edit.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    pub mean: f64,
    /// The figure speed-ups use: robust to the first edit's warm-up and to other jobs' load.
    pub median: f64,
    /// Edits timed.
    pub n: usize,
}

impl Timing {
    /// The edit times of `records`; `None` when no edit was timed.
    pub fn of(records: &[ItemRecord]) -> Option<Self> {
        Self::of_seconds(records.iter().filter_map(|r| r.edit_seconds).collect())
    }

    /// Of edit times in seconds; `None` when there are none.
    pub fn of_seconds(mut t: Vec<f64>) -> Option<Self> {
        if t.is_empty() {
            return None;
        }
        t.sort_by(f64::total_cmp);
        Some(Timing { mean: t.iter().sum::<f64>() / t.len() as f64, median: quantile(&t, 0.5), n: t.len() })
    }
}

/// How much faster the students edit than the teacher (median seconds per edit).
#[derive(Debug, Clone, Serialize)]
pub struct Speed {
    /// The target: the student edits at least this many times faster (issue 7).
    pub min_speedup: f64,
    /// The times the speed-ups come from: the teacher and students timed in this invocation,
    /// in alternating blocks on the same items ([`super::timing`]).
    pub timed: BTreeMap<Slot, Timing>,
    /// Per student: teacher median / student median, and whether it meets the target.
    pub students: BTreeMap<Slot, SpeedUp>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SpeedUp {
    pub speedup: Option<f64>,
    pub pass: bool,
}

/// A student editor held against the teacher (`eval/parity.toml`).
#[derive(Debug, Clone, Serialize)]
pub struct ParityCheck {
    pub teacher: Slot,
    pub student: Slot,
    pub scorer: &'static str,
    pub passed: bool,
    pub report: ParityReport,
}

/// The teacher at the paper's rewards (5, 5, 5) vs the null reward.
#[derive(Debug, Clone, Serialize)]
pub struct Guidance {
    pub model: Slot,
    pub scorer: &'static str,
    /// The teacher's reward guidance scale in the `on` arm (its `editor.json`; 1 = the rewards
    /// condition the UNet without extra guidance).
    pub reward_cfg: f64,
    /// Rewards 5, 5, 5: the main teacher run.
    pub on: ScoredRun,
    /// The learned null reward: no reward condition, no reward guidance.
    pub off: ScoredRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sweeps {
    pub model: Slot,
    pub scorer: &'static str,
    /// Items per level.
    pub items: usize,
    /// The other axes' requested reward.
    pub others: u8,
    pub axes: BTreeMap<Axis, AxisSweep>,
}

/// The summary of the runs `runner` finished: each read back from its folder, so a resumed demo
/// reports exactly what a single run would.
#[allow(clippy::too_many_arguments)]
pub fn gather(
    runner: &Runner,
    sizes: &Sizes,
    thresholds: &RunThresholds,
    min_speedup: f64,
    timed: BTreeMap<Slot, Timing>,
    mode: &'static str,
    out: &Path,
    started: Instant,
) -> Result<DemoSummary> {
    let scored = |dir: PathBuf| -> Result<ScoredRun> { Ok(ScoredRun { summary: load_summary(&dir).map_err(from_eval)?, run: relative(&dir, out) }) };
    let mut models = BTreeMap::new();
    for slot in Slot::ALL {
        let dir = runner.dir_of(slot, Purpose::Main);
        let info = runner.infos.get(&slot);
        let scorers = [ORACLE, STUDENT_SCORER].into_iter().map(|k| Ok((k, scored(runner.scored_dir(slot, k))?))).collect::<Result<_>>()?;
        models.insert(slot, ModelSummary {
            description: slot.describe(),
            editor: RunRecord::load(&dir).map_err(from_eval)?.editor,
            dir: runner.checkpoints.editor(slot).map(Path::to_path_buf),
            size_bytes: info.map(|i| i.bytes),
            fingerprint: info.map(|i| i.fingerprint.clone()),
            steps: info.map(|i| sizes.steps.unwrap_or(i.steps)),
            scheduler: info.map(|i| i.scheduler.clone()),
            edit_seconds: Timing::of(&read_records(&dir, false).map_err(from_eval)?),
            scorers,
        });
    }
    let median = |s: Slot| timed.get(&s).map(|t| t.median);
    let speed = Speed {
        min_speedup,
        students: [Slot::Student, Slot::StudentInt8]
            .map(|s| {
                let speedup = median(Slot::Teacher).zip(median(s)).filter(|(_, st)| *st > 0.0).map(|(t, st)| t / st);
                (s, SpeedUp { speedup, pass: speedup.is_some_and(|x| x >= min_speedup) })
            })
            .into(),
        timed,
    };
    let mut parity = Vec::new();
    for student in [Slot::Student, Slot::StudentInt8] {
        for scorer in [ORACLE, STUDENT_SCORER] {
            let (t, s) = (runner.scored_dir(Slot::Teacher, scorer), runner.scored_dir(student, scorer));
            let report = run_parity(&t, &s, thresholds, &Bootstrap::default()).map_err(from_eval)?;
            parity.push(ParityCheck { teacher: Slot::Teacher, student, scorer, passed: report.passed(), report });
        }
    }
    let guidance = Guidance {
        model: Slot::Teacher,
        scorer: ORACLE,
        reward_cfg: runner.infos[&Slot::Teacher].reward_cfg,
        on: scored(runner.dir_of(Slot::Teacher, Purpose::Main))?,
        off: scored(runner.dir_of(Slot::Teacher, Purpose::GuidanceOff))?,
    };
    let benchmark = runner.benchmark;
    let sweep_ids: HashSet<String> = benchmark.items(Some(sizes.sweep_items)).map_err(from_eval)?.into_iter().map(|i| i.id).collect();
    let mut axes = BTreeMap::new();
    for axis in Axis::ALL {
        let mut by_level = Vec::new();
        for level in SWEEP_LEVELS {
            // Level 5 with the others at 5 is the paper's request: the main run's first items.
            let purpose = if level == 5 { Purpose::Main } else { Purpose::Sweep { axis, level } };
            let records = read_records(&runner.dir_of(Slot::Teacher, purpose), false).map_err(from_eval)?;
            by_level.push((level, records.into_iter().filter(|r| sweep_ids.contains(&r.id)).collect()));
        }
        axes.insert(axis, axis_sweep(axis, &by_level));
    }
    Ok(DemoSummary {
        version: SUMMARY_VERSION,
        mode,
        benchmark: BenchmarkInfo { identity: benchmark.identity(), detail: benchmark.to_string(), items: sizes.items, sweep_items: sizes.sweep_items },
        checkpoints: runner.checkpoints.root.clone(),
        wall_seconds: started.elapsed().as_secs_f64(),
        models,
        speed,
        parity,
        guidance,
        sweeps: Sweeps { model: Slot::Teacher, scorer: ORACLE, items: sizes.sweep_items, others: 5, axes },
    })
}
