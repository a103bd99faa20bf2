//! `rewardedit demo --retrain`: the whole pipeline from data generation (the world data is
//! generated on the fly by each recipe), run through the same code as the CLI's commands, into
//! a folder whose `runs/` the recipes' relative paths point into; then the demo evaluates its
//! outputs instead of the committed checkpoints. Hours on a CPU.
//!
//! Every step resumes what an earlier (killed) retrain left.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rewardedit_scorer::student::distill;
use rewardedit_train::checkpoint::{self, CHECKPOINTS_DIR};
use rewardedit_train::recipe::Init;
use rewardedit_train::trainer::EDITOR_DIR;
use rewardedit_train::TrainRecipe;

use super::models::{Checkpoints, Slot};
use crate::backend::BackendKind;
use crate::commands::run_args::RunArgs;
use crate::commands::{distill_editor, distill_scorer, eval, quantize, train};
use crate::scorers::ScorerChoice;
use crate::exit::{bad_input, InputContext};

/// What a step does.
#[derive(Debug, Clone)]
enum Action {
    /// `rewardedit train --recipe RECIPE --out OUT [--resume] [--stop-after N]`; `stop_at`: the
    /// step whose checkpoint a later recipe starts from (kept: training further would rotate
    /// it out of the run's last checkpoints).
    Train { recipe: PathBuf, out: PathBuf, stop_at: Option<u64> },
    /// `rewardedit distill-scorer --recipe RECIPE --out OUT [--resume]`.
    DistillScorer { recipe: PathBuf, out: PathBuf },
    /// `rewardedit distill-editor --recipe RECIPE --out OUT [--resume]`.
    DistillEditor { recipe: PathBuf, out: PathBuf },
    /// `rewardedit quantize --model MODEL --scheme int8 --out OUT` (skipped when OUT exists).
    Int8 { model: PathBuf, out: PathBuf },
    /// `rewardedit eval --benchmark world --world-spec SPEC --editor EDITOR [--steps N]
    /// [--limit N] --scorer oracle --out OUT`: editor outputs the student scorer trains on.
    ScorerEdits { spec: PathBuf, editor: PathBuf, steps: Option<u32>, limit: Option<usize>, out: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Step {
    what: &'static str,
    action: Action,
}

/// The retrain's steps and where their outputs land.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The folder the steps run in (it holds `runs/`).
    pub dir: PathBuf,
    steps: Vec<Step>,
    /// The models the demo then evaluates.
    pub outputs: Checkpoints,
}

const STAGE1: &str = "world-teacher-stage1";
const BASELINE: &str = "world-teacher-baseline";
const STAGE2: &str = "world-teacher-stage2";
const STUDENT: &str = "world-student";
/// The committed student: `STUDENT` without its 16 x 16 transformers, warm-started from it.
const STUDENT_LITE: &str = "world-student-lite";
/// The long pair (the demo's baseline and teacher): stage 1 continued on fresh scenes, and a
/// stage 2 branched from its middle, so both have had as many steps past `BASELINE`.
const STAGE1_LONG: &str = "world-teacher-stage1-long";
const STAGE2_LONG: &str = "world-teacher-stage2-long";
/// The demo's student: `STUDENT_LITE` compressed further against the long teacher, in two runs
/// (the second at the student's own sampler timesteps).
const STUDENT_LONG: &str = "world-student-long";
const STUDENT_LONG_2: &str = "world-student-long-2";
const STUDENT_INT8: &str = "world-student-long-int8";
const SCORER: &str = "world-scorer";
/// The training split the editors edit for the scorer (`[[extra_data]]` of its recipe).
const SCORER_EDITS_SPEC: &str = "eval/world-scorer-edits.toml";

/// The plan for the repository at `root`, run in `dir`.
pub fn plan(root: &Path, dir: &Path) -> Result<Plan> {
    let recipes = root.join("recipes");
    let recipe = |name: &str| recipes.join(format!("{name}.toml"));
    let run = |name: &str| PathBuf::from("runs").join(name);
    let spec = root.join(SCORER_EDITS_SPEC);
    for file in [STAGE1, BASELINE, STAGE2, STUDENT, STUDENT_LITE, STAGE1_LONG, STAGE2_LONG, STUDENT_LONG, STUDENT_LONG_2, SCORER].map(recipe).into_iter().chain([spec.clone()]) {
        if !file.is_file() {
            return Err(bad_input(format!("--retrain needs {}, which does not exist", file.display())));
        }
    }
    // Stage 2 and the baseline start from a stage-1 checkpoint; when they name one step, stage 1
    // stops there, as the recipes' provenance did.
    let branch_step = |names: &[&str]| -> Result<Option<u64>> {
        let mut at = None;
        for name in names {
            let r = TrainRecipe::load(&recipe(name)).bad_input()?;
            if let Init::Checkpoint { path, .. } = &r.init {
                at = at.max(step_of(path));
            }
        }
        Ok(at)
    };
    let stop_at = branch_step(&[BASELINE, STAGE2])?;
    let long_branch = branch_step(&[STAGE2_LONG])?;
    let steps = vec![
        Step { what: "teacher stage 1 (InstructPix2Pix)", action: Action::Train { recipe: recipe(STAGE1), out: run(STAGE1), stop_at } },
        Step { what: "baseline (stage 1 continued, no rewards)", action: Action::Train { recipe: recipe(BASELINE), out: run(BASELINE), stop_at: None } },
        Step { what: "reward-conditioned teacher (stage 2)", action: Action::Train { recipe: recipe(STAGE2), out: run(STAGE2), stop_at: None } },
        Step { what: "student editor", action: Action::DistillEditor { recipe: recipe(STUDENT), out: run(STUDENT) } },
        Step {
            what: "light student editor (its 16 x 16 transformers removed)",
            action: Action::DistillEditor { recipe: recipe(STUDENT_LITE), out: run(STUDENT_LITE) },
        },
        Step {
            what: "teacher stage 1 long (fresh scenes), to where stage 2 long branches",
            action: Action::Train { recipe: recipe(STAGE1_LONG), out: run(STAGE1_LONG), stop_at: long_branch },
        },
        Step {
            what: "reward-conditioned teacher long (stage 2 from stage 1 long)",
            action: Action::Train { recipe: recipe(STAGE2_LONG), out: run(STAGE2_LONG), stop_at: None },
        },
        Step {
            what: "baseline long (stage 1 long to its end: as many steps as the teacher)",
            action: Action::Train { recipe: recipe(STAGE1_LONG), out: run(STAGE1_LONG), stop_at: None },
        },
        Step {
            what: "long student editor (the light student against the long teacher)",
            action: Action::DistillEditor { recipe: recipe(STUDENT_LONG), out: run(STUDENT_LONG) },
        },
        Step {
            what: "long student editor, at its sampler's timesteps",
            action: Action::DistillEditor { recipe: recipe(STUDENT_LONG_2), out: run(STUDENT_LONG_2) },
        },
        Step { what: "int8 student editor", action: Action::Int8 { model: run(STUDENT_LONG_2).join(EDITOR_DIR), out: run(STUDENT_INT8).join(EDITOR_DIR) } },
        Step {
            what: "editor outputs for the scorer: the student's",
            action: Action::ScorerEdits { spec: spec.clone(), editor: run(STUDENT).join(EDITOR_DIR), steps: None, limit: None, out: run("scorer-edits/student") },
        },
        Step {
            what: "editor outputs for the scorer: the teacher's at 10 steps",
            action: Action::ScorerEdits { spec, editor: run(STAGE2).join(EDITOR_DIR), steps: Some(10), limit: Some(700), out: run("scorer-edits/teacher-10") },
        },
        Step { what: "student scorer (fp32 + int8)", action: Action::DistillScorer { recipe: recipe(SCORER), out: run(SCORER) } },
    ];
    let editors = vec![
        (Slot::Baseline, dir.join(run(STAGE1_LONG)).join(EDITOR_DIR)),
        (Slot::Teacher, dir.join(run(STAGE2_LONG)).join(EDITOR_DIR)),
        (Slot::Student, dir.join(run(STUDENT_LONG_2)).join(EDITOR_DIR)),
        (Slot::StudentInt8, dir.join(run(STUDENT_INT8)).join(EDITOR_DIR)),
    ];
    let scorer = dir.join(run(SCORER)).join(distill::STUDENT_DIR);
    Ok(Plan { dir: dir.to_path_buf(), steps, outputs: Checkpoints { root: dir.to_path_buf(), editors, scorer } })
}

/// `N` of a checkpoint path ending in `step-N`.
fn step_of(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_prefix("step-")?.parse().ok()
}

impl Plan {
    /// The steps as the commands they run, for `--dry-run` and the up-front refusal.
    pub fn listing(&self) -> String {
        let mut s = format!("--retrain: in {} (the recipes' runs/ paths resolve there):\n", self.dir.display());
        for (i, step) in self.steps.iter().enumerate() {
            let line = match &step.action {
                Action::Train { recipe, out, stop_at } => format!(
                    "rewardedit train --recipe {} --out {} --resume{}",
                    recipe.display(),
                    out.display(),
                    stop_at.map_or(String::new(), |n| format!(" (stopping at step {n}, where the next stages start)"))
                ),
                Action::DistillScorer { recipe, out } => format!("rewardedit distill-scorer --recipe {} --out {} --resume", recipe.display(), out.display()),
                Action::DistillEditor { recipe, out } => format!("rewardedit distill-editor --recipe {} --out {} --resume", recipe.display(), out.display()),
                Action::Int8 { model, out } => format!("rewardedit quantize --model {} --scheme int8 --out {}", model.display(), out.display()),
                Action::ScorerEdits { spec, editor, steps, limit, out } => format!(
                    "rewardedit eval --benchmark world --world-spec {} --editor {}{}{} --scorer oracle --out {}",
                    spec.display(),
                    editor.display(),
                    steps.map_or(String::new(), |n| format!(" --steps {n}")),
                    limit.map_or(String::new(), |n| format!(" --limit {n}")),
                    out.display()
                ),
            };
            let _ = writeln!(s, "  {}. {}: {line}", i + 1, step.what);
        }
        let _ = writeln!(s, "  then: the demo's evaluation of the outputs:");
        for (slot, dir) in &self.outputs.editors {
            let _ = writeln!(s, "     {:<13} {}", slot.key(), dir.display());
        }
        let _ = writeln!(s, "     {:<13} {}", "scorer", self.outputs.scorer.display());
        s
    }

    /// Runs every step (each resumes what an earlier retrain left), in `self.dir`.
    pub fn run(&self, backend: BackendKind, gpu: usize) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let back = std::env::current_dir()?;
        std::env::set_current_dir(&self.dir).with_context(|| format!("entering {}", self.dir.display()))?;
        let result = self.steps.iter().try_for_each(|step| run_step(step, backend, gpu));
        std::env::set_current_dir(back)?;
        result
    }
}

fn run_step(step: &Step, backend: BackendKind, gpu: usize) -> Result<()> {
    eprintln!("--retrain: {}", step.what);
    match &step.action {
        Action::Train { recipe, out, stop_at } => {
            let newest = checkpoint::list(&out.join(CHECKPOINTS_DIR)).iter().map(|(s, _)| *s).max();
            let stop_after = match (stop_at, newest) {
                (Some(n), Some(at)) if at >= *n => return Ok(()),
                (Some(n), at) => Some(n - at.unwrap_or(0)),
                (None, _) => None,
            };
            let run = RunArgs { stop_after, ..RunArgs::new(recipe.clone(), out.clone(), newest.is_some()) };
            train::run(train::Args { run }, backend, gpu)
        }
        Action::DistillScorer { recipe, out } => {
            let resume = out.join(distill::CHECKPOINT_DIR).exists();
            distill_scorer::run(distill_scorer::Args { run: RunArgs::new(recipe.clone(), out.clone(), resume) }, backend, gpu)
        }
        Action::DistillEditor { recipe, out } => {
            let resume = out.exists();
            distill_editor::run(distill_editor::Args { run: RunArgs::new(recipe.clone(), out.clone(), resume) }, backend, gpu)
        }
        Action::Int8 { model, out } => {
            if out.exists() {
                return Ok(());
            }
            let args = quantize::Args {
                model: model.clone(),
                scheme: quantize::Scheme::Int8,
                calib: "world".into(),
                calib_items: 4,
                steps: None,
                max_side: None,
                seed: 0,
                world_spec: None,
                out: out.clone(),
            };
            quantize::run(args, backend, gpu)
        }
        // An eval run resumes by itself: scored items are skipped, failed ones retried.
        Action::ScorerEdits { spec, editor, steps, limit, out } => {
            let args = eval::Args {
                benchmark: eval::BenchmarkName::World,
                editor: editor.display().to_string(),
                scorer: ScorerChoice::Oracle { noise: None },
                rewards: None,
                template: None,
                reward_text: None,
                steps: *steps,
                max_side: None,
                sampler: Default::default(),
                limit: *limit,
                real_edit: None,
                world_spec: Some(spec.clone()),
                seed: 0,
                concurrency: 8,
                out: out.clone(),
                lvlm: Default::default(),
            };
            eval::run(args, backend, gpu)
        }
    }
}
