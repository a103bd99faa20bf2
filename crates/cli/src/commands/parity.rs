//! `rewardedit parity` (a student editor's run against its teacher's) and
//! `rewardedit parity-scorer` (a student scorer against its teacher on a run's edits): a
//! PASS/FAIL line per check against eval/parity.toml; exit 0 only when every line passes,
//! 1 on FAIL, 2 on bad input.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args as ClapArgs;
use rewardedit_eval::parity::{run_parity, scorer_parity, ParityReport, Thresholds};
use rewardedit_eval::rescore_requests;
use rewardedit_eval::Bootstrap;
use rewardedit_scorer::student::agreement_table;

use crate::backend::BackendKind;
use crate::commands::eval::from_eval;
use crate::exit::bad_input;
use crate::scorers::{self, LvlmArgs, ScorerChoice};

/// The thresholds read when `--thresholds` is not given and it exists (else the built-in copy).
pub const DEFAULT_THRESHOLDS: &str = "eval/parity.toml";

#[derive(ClapArgs)]
pub struct Args {
    /// The teacher's run folder (`rewardedit eval --out`).
    #[arg(long)]
    pub teacher: PathBuf,
    /// The student's run folder, on the same benchmark.
    #[arg(long)]
    pub student: PathBuf,
    /// Thresholds file (default: eval/parity.toml, or the built-in copy).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(ClapArgs)]
pub struct ScorerArgs {
    /// The teacher scorer: `oracle` (world runs) or `lvlm`.
    #[arg(long)]
    pub teacher: ScorerChoice,
    /// The student scorer folder (e.g. checkpoints/student-scorer).
    #[arg(long)]
    pub student: PathBuf,
    /// Use the student's int8 weights.
    #[arg(long)]
    pub int8: bool,
    /// The run whose edits are rescored (`rewardedit eval --out`).
    #[arg(long)]
    pub items: PathBuf,
    /// Thresholds file (default: eval/parity.toml, or the built-in copy).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Edits scored at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub lvlm: LvlmArgs,
}

/// The thresholds in `path`, else eval/parity.toml when present, else the built-in copy.
pub(crate) fn thresholds(path: Option<&Path>) -> Result<Thresholds> {
    match path {
        Some(p) => Thresholds::load(p).map_err(|e| bad_input(format!("{e}; see {DEFAULT_THRESHOLDS} for the format"))),
        None if Path::new(DEFAULT_THRESHOLDS).is_file() => Thresholds::load(Path::new(DEFAULT_THRESHOLDS)).map_err(from_eval),
        None => Ok(Thresholds::builtin()),
    }
}

/// Prints the report (and writes its JSON); an error, hence exit 1, on FAIL.
fn verdict(report: &ParityReport, json: Option<&Path>) -> Result<()> {
    print!("{}", report.table());
    if let Some(p) = json {
        std::fs::write(p, serde_json::to_string_pretty(report)? + "\n").map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    if !report.passed() {
        let failed = report.lines.iter().filter(|l| !l.pass).count();
        anyhow::bail!("parity FAIL: {failed} of {} lines below threshold", report.lines.len());
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let th = thresholds(args.thresholds.as_deref())?;
    let report = run_parity(&args.teacher, &args.student, &th.run, &Bootstrap::default()).map_err(from_eval)?;
    verdict(&report, args.json.as_deref())
}

pub fn run_scorer(args: ScorerArgs, backend: BackendKind, gpu: usize) -> Result<()> {
    if matches!(args.teacher, ScorerChoice::Student { .. }) {
        return Err(bad_input("--teacher must be oracle or lvlm; the student is given with --student DIR"));
    }
    if args.concurrency == 0 {
        return Err(bad_input("--concurrency must be at least 1"));
    }
    let th = thresholds(args.thresholds.as_deref())?;
    let requests = rescore_requests(&args.items).map_err(from_eval)?;
    let device = crate::backend::device(backend, gpu)?;
    let teacher = scorers::build(&args.teacher, &args.lvlm, &device)?;
    let student = scorers::build(&ScorerChoice::Student { dir: args.student.clone(), int8: args.int8 }, &args.lvlm, &device)?;
    let parity = scorer_parity(&requests, teacher.scorer(), student.scorer(), args.concurrency, &th.scorer).map_err(from_eval)?;
    println!("teacher {}, student {}", teacher.scorer().describe(), student.scorer().describe());
    print!("{}", agreement_table(&[("student", &parity.agreement)]));
    println!();
    verdict(&parity.report, args.json.as_deref())
}
