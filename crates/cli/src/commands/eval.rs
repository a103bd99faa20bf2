//! `rewardedit eval`: edit every item of a benchmark, score it, and write items.jsonl,
//! summary.json and the reports; `rewardedit compare RUN...`: runs side by side.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args as ClapArgs, ValueEnum};
use rewardedit_core::MAX_SCORE;
use rewardedit_eval::benchmark::{locate_real_edit, Benchmark, WorldSpec};
use rewardedit_eval::compare::{compare_table, load_run};
use rewardedit_eval::report::text_summary;
use rewardedit_eval::{open_editor_dir, run_eval, EditSettings, Editor, EvalError, NoopEditor, RewardRequest, RunOptions};
use rewardedit_models::pipeline::EditSettings as PipelineSettings;

use crate::backend::BackendKind;
use crate::exit::bad_input;
use crate::progress;
use crate::scorers::{self, LvlmArgs, ScorerChoice};

use super::sampler_args::SamplerArgs;

/// The world benchmark spec read when `--world-spec` is not given and it exists (else the copy
/// compiled into the binary).
pub const DEFAULT_WORLD_SPEC: &str = "eval/world-benchmark.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchmarkName {
    /// Real-Edit: 80 photos x 7 instruction types (560 items).
    RealEdit,
    /// The world benchmark: a fixed held-out split of the edit world (eval/world-benchmark.toml).
    World,
}

#[derive(ClapArgs)]
pub struct Args {
    /// Which benchmark.
    #[arg(long, value_enum)]
    pub benchmark: BenchmarkName,
    /// `noop` (returns the source: the floor), or an editor folder (teacher or student).
    #[arg(long)]
    pub editor: String,
    /// Which scorer: `lvlm` (the teacher), `oracle` (world only), `student:DIR`, `student-int8:DIR`.
    #[arg(long)]
    pub scorer: ScorerChoice,
    /// Rewards asked of the editor, `following,preservation,quality` in [0, 5] (default: the
    /// editor's own, the paper's 5,5,5).
    #[arg(long, value_parser = parse_rewards, conflicts_with = "template")]
    pub rewards: Option<[f32; 3]>,
    /// A named per-axis reward template known to the editor (e.g. catalogue, ad).
    #[arg(long)]
    pub template: Option<String>,
    /// The reward (flaw) text, three sentences joined by "; " as in training (default: the
    /// editor's own, `editor.json` `reward_text`, else the paper's "None; None; None"); with the
    /// scores of --rewards, else 5,5,5.
    #[arg(long, conflicts_with = "template")]
    pub reward_text: Option<String>,
    /// Sampling steps (default: the editor's own).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Longest side the editor works at, px: larger sources are scaled down for the edit and
    /// the result back to the source's size (default: the editor's own; SD 1.5 editors: 512).
    #[arg(long)]
    pub max_side: Option<u32>,
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Only the first N items (a quick run); a later run without it continues the same folder.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The Real-Edit folder (instructions.json and imgs/); default: $REWARDEDIT_REAL_EDIT, else
    /// shared/real-edit in the current folder or a parent (../shared/real-edit from the repository).
    #[arg(long)]
    pub real_edit: Option<PathBuf>,
    /// The world benchmark spec (default: eval/world-benchmark.toml, or the built-in copy).
    #[arg(long)]
    pub world_spec: Option<PathBuf>,
    /// Base seed of the edits (item i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Items edited, then scored, together; the scorer keeps this many in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// The run folder: items.jsonl, summary.json, report.md, report.html, images/, report/.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub lvlm: LvlmArgs,
}

fn parse_rewards(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("{s:?}: expected three scores in [0, 5] as following,preservation,quality, e.g. 5,5,5");
    let [f, p, q] = parts.as_slice() else { return Err(bad()) };
    let scores = [f, p, q].map(|x| x.parse::<f32>().ok().filter(|v| (0.0..=5.0).contains(v)));
    match scores {
        [Some(f), Some(p), Some(q)] => Ok([f, p, q]),
        _ => Err(bad()),
    }
}

/// An eval-crate error, as bad input (exit 2) when it is the user's to fix.
pub fn from_eval(e: EvalError) -> anyhow::Error {
    if e.is_bad_input() { bad_input(e.to_string()) } else { e.into() }
}

/// The world spec: the given file, else `eval/world-benchmark.toml` when present, else built in.
pub fn world_spec(path: Option<&Path>) -> Result<WorldSpec> {
    match path {
        Some(p) => WorldSpec::load(p).map_err(|e| bad_input(format!("{e}; give a world benchmark spec like {DEFAULT_WORLD_SPEC}"))),
        None if Path::new(DEFAULT_WORLD_SPEC).is_file() => WorldSpec::load(Path::new(DEFAULT_WORLD_SPEC)).map_err(from_eval),
        None => Ok(WorldSpec::builtin()),
    }
}

/// The editor named by `--editor`.
fn editor(name: &str, device: &burn::tensor::Device) -> Result<Box<dyn Editor>> {
    if name == "noop" {
        return Ok(Box::new(NoopEditor));
    }
    let dir = Path::new(name);
    if !dir.is_dir() {
        return Err(bad_input(format!("--editor {name:?}: expected `noop` or an editor folder, and there is no folder {name:?}")));
    }
    open_editor_dir(dir, device).map_err(|e| from_eval(e.into()))
}

pub fn run(args: Args, backend: BackendKind, gpu: usize) -> Result<()> {
    if args.concurrency == 0 {
        return Err(bad_input("--concurrency must be at least 1"));
    }
    if args.limit == Some(0) {
        return Err(bad_input("--limit must be at least 1"));
    }
    let benchmark = match args.benchmark {
        BenchmarkName::RealEdit => {
            if matches!(args.scorer, ScorerChoice::Oracle { .. }) {
                return Err(bad_input(
                    "the oracle scores edit-world items only: use --benchmark world, or score Real-Edit with lvlm or student:DIR",
                ));
            }
            let dir = match &args.real_edit {
                Some(d) => d.clone(),
                None => std::env::current_dir().ok().as_deref().and_then(locate_real_edit).ok_or_else(|| {
                    bad_input("Real-Edit not found: pass --real-edit PATH (the folder with instructions.json and imgs/) or set REWARDEDIT_REAL_EDIT")
                })?,
            };
            Benchmark::RealEdit { dir }
        }
        BenchmarkName::World => Benchmark::World { spec: world_spec(args.world_spec.as_deref())? },
    };
    // Checked before any edit runs (against the pipeline's defaults: the editor's come later).
    args.sampler.apply(&PipelineSettings::default())?;
    let device = crate::backend::device(backend, gpu)?;
    let editor = editor(&args.editor, &device)?;
    let rewards = match (&args.rewards, &args.template, &args.reward_text) {
        (Some(scores), _, text) => RewardRequest::Scores { scores: *scores, text: text.clone() },
        (None, Some(name), _) => RewardRequest::Template { name: name.clone() },
        (None, None, Some(text)) => RewardRequest::Scores { scores: [MAX_SCORE; 3], text: Some(text.clone()) },
        (None, None, None) => RewardRequest::Default,
    };
    let options = RunOptions {
        settings: EditSettings {
            rewards,
            steps: args.steps,
            max_side: args.max_side,
            scheduler: args.sampler.scheduler()?,
            text_cfg: args.sampler.text_cfg,
            image_cfg: args.sampler.image_cfg,
            reward_cfg: args.sampler.reward_cfg,
        },
        seed: args.seed,
        limit: args.limit,
        concurrency: args.concurrency,
        ..RunOptions::default()
    };
    let built = scorers::build(&args.scorer, &args.lvlm, &device)?;
    let mut bar = progress::RunBar::new("evaluating");
    let outcome = run_eval(&benchmark, editor.as_ref(), built.scorer(), &options, &args.out, &mut bar).map_err(from_eval)?;
    bar.finish();
    println!(
        "{} on {} scored by {}: {} items, {} already scored, {} scored now, {} failed now",
        editor.describe(),
        benchmark,
        built.scorer().describe(),
        outcome.total,
        outcome.already,
        outcome.scored,
        outcome.failed
    );
    print!("{}", text_summary(&outcome.summary));
    println!("report: {}", args.out.join("report.html").display());
    if outcome.summary.failed > 0 {
        anyhow::bail!(
            "{} items failed (counted in summary.json; see {}); run the same command again to retry them",
            outcome.summary.failed,
            args.out.join(rewardedit_eval::record::ITEMS_FILE).display()
        );
    }
    Ok(())
}

#[derive(ClapArgs)]
pub struct CompareArgs {
    /// Run folders written by `rewardedit eval`; deltas are against the first.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
}

pub fn compare(args: CompareArgs) -> Result<()> {
    let runs = args.runs.iter().map(|r| load_run(r).map_err(from_eval)).collect::<Result<Vec<_>>>()?;
    print!("{}", compare_table(&runs));
    Ok(())
}
