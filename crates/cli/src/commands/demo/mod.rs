//! `rewardedit demo`: the project's main job (issue 7). On the committed world checkpoints, with
//! no network and no GPU: the baseline editor, the reward-conditioned teacher, the student and
//! the int8 student (and the noop floor) on the demo's world benchmark, each edited once and
//! scored by the exact oracle and by the student scorer; the students' speed-up and parity with
//! the teacher; reward guidance on vs off; slider sweeps. Writes `OUT/summary.json` and the
//! self-contained `OUT/report.html`, and prints the tables. Every evaluation is a resumable run
//! folder under `OUT/runs/`, so a killed demo continues where it stopped.
//!
//! - [`models`]: the checkpoint folders, the missing-checkpoint error, size and fingerprint.
//! - [`jobs`]: the list of evaluations and the runner.
//! - [`sweep`]: the slider sweeps' Spearman correlations.
//! - [`summary`], [`report`], [`terminal`]: `summary.json`, `report.html` and the printed tables.
//! - [`timing`]: the speed-ups, timed afresh in every invocation, in alternating blocks.
//! - [`retrain`]: `--retrain`, the whole pipeline from data generation.

mod jobs;
mod models;
mod report;
mod retrain;
mod summary;
mod sweep;
mod terminal;
mod timing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use rewardedit_eval::benchmark::WorldSpec;
use rewardedit_eval::Benchmark;
use rewardedit_scorer::OracleScorer;

use self::jobs::{jobs, Purpose, Runner, Sizes};
use self::models::{Checkpoints, FolderInfo, Slot};
use self::summary::gather;
use crate::backend::BackendKind;
use crate::commands::{eval::from_eval, parity};
use crate::exit::bad_input;
use crate::scorers::{self, LvlmArgs, ScorerChoice};

/// The demo's benchmark spec committed with the code (`eval/demo-world.toml`), used when the
/// repository's copy is not at hand.
const BUILTIN_SPEC: &str = include_str!("../../../../../eval/demo-world.toml");

/// `--quick`: one item of each edit type, one sweep item, two sampling steps.
const QUICK: Sizes = Sizes { items: 7, sweep_items: 1, steps: Some(2) };

#[derive(ClapArgs)]
pub struct Args {
    /// The checkpoints folder (world-baseline-long/, world-teacher-long/, world-student-long/,
    /// world-student-long-int8/, student-scorer/); default: checkpoints/ of the repository holding
    /// the current folder.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Output folder: summary.json, report.html and the run folders (runs/).
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// A fast look (and the tests): 7 items, 1 sweep item, 2 sampling steps for every editor.
    /// Its numbers are not measurements of the models.
    #[arg(long)]
    pub quick: bool,
    /// Items of the main and guidance runs (default: the whole demo benchmark, 21; --quick: 7).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Items of each slider-sweep run (at most the main runs' items): 12 teacher runs of this
    /// many items, the largest share of the demo's time.
    #[arg(long, default_value_t = 5)]
    pub sweep_items: usize,
    /// The benchmark spec (default: eval/demo-world.toml of the repository, or the built-in copy).
    #[arg(long)]
    pub world_spec: Option<PathBuf>,
    /// Parity thresholds (default: eval/parity.toml of the repository, or the built-in copy).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// The students' speed-up target over the teacher (median seconds per edit).
    #[arg(long, default_value_t = 8.0)]
    pub min_speedup: f64,
    /// Rerun the whole pipeline from data generation into OUT/retrain (hours on a CPU), then
    /// evaluate its outputs instead of the committed checkpoints.
    #[arg(long, conflicts_with = "checkpoints")]
    pub retrain: bool,
    /// List what would run (the evaluations and, with --retrain, the training steps) and exit.
    #[arg(long)]
    pub dry_run: bool,
}

/// A repository file when there is a repository, else `None`.
fn in_repository(root: Option<&Path>, path: &str) -> Option<PathBuf> {
    root.map(|r| r.join(path)).filter(|p| p.is_file())
}

fn spec(args: &Args, root: Option<&Path>) -> Result<WorldSpec> {
    match args.world_spec.clone().or_else(|| in_repository(root, "eval/demo-world.toml")) {
        Some(p) => WorldSpec::load(&p).map_err(|e| bad_input(format!("{e}; give a world benchmark spec like eval/demo-world.toml"))),
        None => WorldSpec::parse(BUILTIN_SPEC, "the built-in demo spec").map_err(from_eval),
    }
}

pub fn run(args: Args, backend: BackendKind, gpu: usize) -> Result<()> {
    let started = Instant::now();
    if args.limit == Some(0) || args.sweep_items == 0 {
        return Err(bad_input("--limit and --sweep-items must be at least 1"));
    }
    let root = models::repository_root();
    let spec = spec(&args, root.as_deref())?;
    let thresholds = parity::thresholds(args.thresholds.clone().or_else(|| in_repository(root.as_deref(), "eval/parity.toml")).as_deref())?;
    let base = if args.quick { QUICK } else { Sizes { items: spec.len() as usize, sweep_items: args.sweep_items, steps: None } };
    let items = args.limit.unwrap_or(base.items).min(spec.len() as usize);
    let sizes = Sizes { items, sweep_items: base.sweep_items.min(items), steps: base.steps };
    let mode = if args.quick { "quick" } else { "full" };
    let benchmark = Benchmark::World { spec };

    let plan = if args.retrain { Some(retrain::plan(root.as_deref().unwrap_or(Path::new(".")), &args.out.join("retrain"))?) } else { None };
    let all_jobs = jobs(&sizes);
    if args.dry_run {
        if let Some(p) = &plan {
            print!("{}", p.listing());
        }
        println!("evaluation ({mode}) on {benchmark}, into {}:", args.out.join("runs").join(mode).display());
        for (i, j) in all_jobs.iter().enumerate() {
            println!("  {:>2}. {:<24} {} items{}", i + 1, j.label(), j.limit.unwrap_or(items), if j.purpose == Purpose::Main { ", scored by the oracle and the student scorer" } else { ", oracle" });
        }
        return Ok(());
    }
    let checkpoints = match &plan {
        Some(p) => {
            p.run(backend, gpu)?;
            p.outputs.clone()
        }
        None => Checkpoints::committed(&args.checkpoints.clone().unwrap_or_else(|| root.as_deref().unwrap_or(Path::new(".")).join("checkpoints"))),
    };
    checkpoints.check()?;
    let infos: BTreeMap<Slot, FolderInfo> =
        checkpoints.editors.iter().map(|(s, d)| Ok((*s, FolderInfo::of(d)?))).collect::<Result<_>>()?;

    let device = crate::backend::device(backend, gpu)?;
    let oracle = OracleScorer::exact();
    let student_scorer = scorers::build(&ScorerChoice::Student { dir: checkpoints.scorer.clone(), int8: true }, &LvlmArgs::default(), &device)?;
    let mut runner = Runner::new(&benchmark, &checkpoints, &infos, &device, args.out.join("runs").join(mode), sizes.steps);
    println!("rewardedit demo ({mode}): {benchmark}, models from {}", checkpoints.root.display());
    for (i, job) in all_jobs.iter().enumerate() {
        eprintln!("[{}/{}] {}", i + 1, all_jobs.len(), job.label());
        runner.run(job, &oracle)?;
        if job.purpose == Purpose::Main {
            runner.rescore(job, student_scorer.scorer())?;
        }
    }

    eprintln!(
        "timing the teacher and the students in {} alternating blocks (at least {} edits and {} s each)",
        timing::BLOCKS,
        timing::EDITS_PER_BLOCK,
        timing::MIN_BLOCK_SECONDS
    );
    let timed = timing::time_in_blocks(&mut runner, &[Slot::Teacher, Slot::Student, Slot::StudentInt8], sizes.items, sizes.steps)?;
    let out = &args.out;
    let summary = gather(&runner, &sizes, &thresholds.run, args.min_speedup, timed, mode, out, started)?;
    let summary_path = out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)? + "\n").with_context(|| format!("writing {}", summary_path.display()))?;
    let (grid_header, grid) = report::grid(&runner, sizes.items)?;
    let report_path = out.join("report.html");
    std::fs::write(&report_path, report::html(&summary, &grid_header, &grid)?).with_context(|| format!("writing {}", report_path.display()))?;
    print!("{}", terminal::render(&summary));
    println!("wrote {} and {} ({:.0} s)", summary_path.display(), report_path.display(), summary.wall_seconds);

    let failed: usize = summary.models.values().flat_map(|m| m.scorers.values()).map(|r| r.summary.failed).sum();
    if failed > 0 {
        anyhow::bail!("{failed} items failed (counted in summary.json; their errors are in the runs' items.jsonl); run the demo again to retry them");
    }
    Ok(())
}
