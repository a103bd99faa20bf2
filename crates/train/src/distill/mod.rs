//! The student editor (issue 7): `rewardedit distill-editor --recipe FILE`.
//!
//! Phase 1 compresses the teacher into a smaller UNet (output, feature and denoising losses);
//! phase 2 runs progressive distillation rounds, each halving the sampling steps. Every phase
//! is an ordinary run folder of the trainer's loop ([`crate::trainer::fit`]: checkpoints,
//! resume, metrics, validation grids) under the distillation folder:
//! - `compress/`, `round-1/`, `round-2/`, ...: one run each; a phase whose `editor/` exists is
//!   done and is skipped on a re-run;
//! - `editor/`: the final student, an editor folder whose defaults sample with the student's
//!   steps (DDIM, trailing spacing).

pub mod ddim;
pub mod loss;
pub mod recipe;
pub mod student;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rewardedit_models::import::editor::load_editor_config;
use rewardedit_models::pipeline::EditSettings;
use rewardedit_models::schedulers::SchedulerKind;
use rewardedit_models::schedulers::NoiseSchedule;

pub use recipe::{CompressTimesteps, DistillRecipe};

use crate::data::Dataset;
use crate::editor::{Editor, EditorConfig};
use crate::recipe::{OptimConfig, SamplingDefaults};
use crate::trainer::{draw_rng, fit, frozen_encoders, open_run, resume_state, validation_examples, FitSpec, TrainEvent, TrainOptions, TrainState, EDITOR_DIR};
use crate::{Result, TrainError};
use loss::{compress_loss, progressive_loss, sampler_timesteps, RoundPlan, Teacher};

/// What [`distill`] tells its caller besides the training events.
#[derive(Debug, Clone)]
pub enum DistillEvent {
    /// A phase starts (or is found done).
    Phase { name: String, done: bool, detail: String },
    Train(TrainEvent),
}

/// How a distillation invocation ended.
#[derive(Debug, Clone)]
pub struct DistillOutcome {
    /// The final student's editor folder, once every phase is done.
    pub editor_dir: Option<PathBuf>,
    /// Sampling steps of the final student.
    pub student_steps: usize,
}

/// One phase: its folder name, steps, learning rate and the teacher's sampling steps.
struct Phase {
    name: String,
    optim: OptimConfig,
    /// `None` for compression; the student's steps in a progressive round.
    round_steps: Option<usize>,
}

fn phases(recipe: &DistillRecipe) -> Vec<Phase> {
    let mut v = Vec::new();
    if recipe.compress.steps > 0 {
        v.push(Phase { name: "compress".into(), optim: recipe.phase_optim(recipe.compress.steps, recipe.compress.lr), round_steps: None });
    }
    for k in 1..=recipe.progressive.rounds {
        v.push(Phase {
            name: format!("round-{k}"),
            optim: recipe.phase_optim(recipe.progressive.steps, recipe.progressive.lr),
            round_steps: Some(recipe.teacher_steps >> k),
        });
    }
    v
}

/// Runs (or continues, with `options.resume`) every phase of `recipe` into `out` on the
/// autodiff `device`; `options.stop_after` bounds the steps of this invocation.
pub fn distill(recipe: &DistillRecipe, out: &Path, options: &TrainOptions, device: &Device, events: &mut dyn FnMut(DistillEvent)) -> Result<DistillOutcome> {
    recipe.validate()?;
    if !recipe.teacher.join(rewardedit_models::import::EDITOR_CONFIG).is_file() && !recipe.teacher.join("unet").is_dir() {
        return Err(TrainError::Config(format!(
            "teacher {} is not an editor folder (no editor.json or unet/): train one with `rewardedit train` (its run folder's editor/)",
            recipe.teacher.display()
        )));
    }
    let plain = device.clone().without_autodiff();
    let resolved = recipe.resolved_toml()?;
    let mut data: Option<Dataset> = None;
    let mut budget = options.stop_after;
    // The model the current phase learns from: the recipe's teacher, then each phase's result.
    let mut teacher_dir = recipe.teacher.clone();
    for phase in phases(recipe) {
        let dir = out.join(&phase.name);
        let editor_dir = dir.join(EDITOR_DIR);
        if editor_dir.join(rewardedit_models::import::EDITOR_CONFIG).is_file() {
            events(DistillEvent::Phase { name: phase.name.clone(), done: true, detail: format!("done: {}", editor_dir.display()) });
            teacher_dir = editor_dir;
            continue;
        }
        if budget == Some(0) {
            return Ok(DistillOutcome { editor_dir: None, student_steps: recipe.student_steps() });
        }
        let data = match &mut data {
            Some(d) => d,
            None => data.insert(Dataset::open(&recipe.data, recipe.resolution)?),
        };
        let (t_config, t_editor) = Editor::open_dir(&teacher_dir, recipe.null_dropout, &plain)?;
        let t_editor = t_editor.valid();
        let frozen = frozen_encoders(&t_config, &plain, &mut |e| events(DistillEvent::Train(e)))?;
        let frozen = frozen.as_ref();
        if let Some(f) = frozen {
            f.check_sizes(data)?;
        }
        let resume_from = open_run(&dir, &format!("# phase: {}\n{resolved}", phase.name), options.resume, &mut |e| events(DistillEvent::Train(e)))?;
        let state = match &resume_from {
            Some(found) => resume_state(found, &phase.optim, device, &mut |e| events(DistillEvent::Train(e)))?,
            None => initial_student(recipe, &phase, &teacher_dir, &t_config, &t_editor, device, events)?,
        };
        let config = state.config.clone();
        let schedule = NoiseSchedule::new(&config.noise);
        let teacher = Teacher { editor: &t_editor, config: &t_config, frozen };
        let plan = phase.round_steps.map(|n| RoundPlan::new(&schedule, n));
        let o = &phase.optim;
        let validation = validation_examples(data, o, &recipe.run)?;
        // The compression phase samples as its teacher does, unless it is the last phase.
        let compress_steps = if recipe.progressive.rounds == 0 { recipe.student_steps() } else { recipe.teacher_steps };
        let sampling = student_sampling(&recipe.teacher, phase.round_steps.unwrap_or(compress_steps), &recipe.sampling)?;
        let at = match recipe.compress.timesteps {
            CompressTimesteps::Uniform => None,
            CompressTimesteps::Sampler => {
                Some(sampler_timesteps(sampling.scheduler.unwrap_or_default(), &config.noise, sampling.steps.unwrap_or(compress_steps)))
            }
        };
        let mut loss = |model: &Editor, draw: u64| {
            let batch = data.batch(o.seed, draw, o.batch_size)?;
            let rng = &mut draw_rng(o.seed, draw);
            match &plan {
                None => compress_loss(model, &config, &teacher, &recipe.compress, at.as_deref(), &schedule, &recipe.dropout, &batch, rng, device),
                Some(plan) => progressive_loss(model, &config, &teacher, plan, &schedule, &recipe.dropout, &batch, rng, device),
            }
        };
        let start = state.start;
        let spec = FitSpec { optim: o, run: &recipe.run, stop_after: budget, sampling: &sampling, frozen };
        let outcome = fit(&spec, &dir, state, &validation, &mut loss, &mut |e| events(DistillEvent::Train(e)))?;
        budget = budget.map(|b| b.saturating_sub(outcome.step - start));
        let Some(done) = outcome.editor_dir else {
            return Ok(DistillOutcome { editor_dir: None, student_steps: recipe.student_steps() });
        };
        teacher_dir = done;
    }
    let final_dir = out.join(EDITOR_DIR);
    copy_dir(&teacher_dir, &final_dir)?;
    Ok(DistillOutcome { editor_dir: Some(final_dir), student_steps: recipe.student_steps() })
}

/// A phase's starting point: compression builds the smaller student (from the teacher where
/// shapes allow); a progressive round starts from its teacher (the previous phase's result).
fn initial_student(
    recipe: &DistillRecipe,
    phase: &Phase,
    teacher_dir: &Path,
    t_config: &EditorConfig,
    t_editor: &Editor,
    device: &Device,
    events: &mut dyn FnMut(DistillEvent),
) -> Result<TrainState> {
    let (config, model, detail) = match phase.round_steps {
        None => {
            let config = student::student_config(t_config, &recipe.student)?;
            let share = |model: &Editor| 100.0 * student::unet_params(model) as f64 / student::unet_params(t_editor) as f64;
            match &recipe.student_init {
                Some(dir) => {
                    let (earlier, model) = Editor::open_dir(dir, recipe.null_dropout, device)?;
                    student::check_continues(&earlier, &config, dir)?;
                    let detail = format!("compressing {} further from the student {} ({:.0}% of its UNet)", teacher_dir.display(), dir.display(), share(&model));
                    (config, model, detail)
                }
                None => {
                    device.seed(recipe.optim.seed);
                    let mut model = Editor::new(&config, device)?;
                    let mut copied = format!("{} tensors start from the teacher", student::copy_matching(&mut model, t_editor));
                    if let Some(dir) = &recipe.student_warm_start {
                        let (earlier_config, earlier) = Editor::open_dir(dir, recipe.null_dropout, device)?;
                        student::check_warm_start(&earlier_config, &config, dir)?;
                        // The earlier student's tensors overwrite the teacher's: they are already its size.
                        let n = student::copy_matching(&mut model, &earlier);
                        copied = format!("{copied}, then {n} from the student {}", dir.display());
                    }
                    let detail = format!(
                        "compressing {} ({} UNet parameters) into {} ({:.0}%); {copied}",
                        teacher_dir.display(),
                        student::unet_params(t_editor),
                        student::unet_params(&model),
                        share(&model)
                    );
                    (config, model, detail)
                }
            }
        }
        Some(n) => {
            let (config, model) = Editor::open_dir(teacher_dir, recipe.null_dropout, device)?;
            let detail = format!("{} steps -> {n} steps, from {}", 2 * n, teacher_dir.display());
            (student::with_trailing_spacing(&config), model, detail)
        }
    };
    let model = model.with_null_dropout(recipe.null_dropout);
    events(DistillEvent::Phase { name: phase.name.clone(), done: false, detail });
    Ok(TrainState::fresh(config, model, &phase.optim))
}

/// How a phase's student samples (its validation grids, and the defaults of the editor it
/// exports): `steps` steps, and the recipe's `[sampling]` choices over the original teacher's
/// guidance scales and DDIM (the sampler the rounds distil).
fn student_sampling(teacher: &Path, steps: usize, chosen: &SamplingDefaults) -> Result<SamplingDefaults> {
    Ok(student_defaults(&load_editor_config(teacher)?.defaults, steps, chosen))
}

fn student_defaults(teacher: &EditSettings, steps: usize, chosen: &SamplingDefaults) -> SamplingDefaults {
    SamplingDefaults {
        steps: Some(steps),
        text_cfg: chosen.text_cfg.or(Some(teacher.text_cfg)),
        image_cfg: chosen.image_cfg.or(Some(teacher.image_cfg)),
        reward_cfg: chosen.reward_cfg.or(Some(teacher.reward_cfg)),
        scheduler: chosen.scheduler.or(Some(SchedulerKind::Ddim)),
    }
}

/// Copies a folder with its sub-folders (an editor folder).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| TrainError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| TrainError::io(from, e))? {
        let path = entry.map_err(|e| TrainError::io(from, e))?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| TrainError::io(&target, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_student_samples_with_its_teachers_guidance_and_ddim_unless_the_recipe_says_otherwise() {
        let teacher = EditSettings { text_cfg: 3.0, image_cfg: 1.2, reward_cfg: 2.0, scheduler: SchedulerKind::EulerA, ..EditSettings::default() };
        let plain = student_defaults(&teacher, 5, &SamplingDefaults::default());
        assert_eq!((plain.steps, plain.scheduler), (Some(5), Some(SchedulerKind::Ddim)));
        assert_eq!((plain.text_cfg, plain.image_cfg, plain.reward_cfg), (Some(3.0), Some(1.2), Some(2.0)));
        let chosen = SamplingDefaults { scheduler: Some(SchedulerKind::EulerA), text_cfg: Some(1.0), ..SamplingDefaults::default() };
        let chosen = student_defaults(&teacher, 5, &chosen);
        assert_eq!((chosen.steps, chosen.scheduler), (Some(5), Some(SchedulerKind::EulerA)));
        assert_eq!((chosen.text_cfg, chosen.image_cfg, chosen.reward_cfg), (Some(1.0), Some(1.2), Some(2.0)));
    }
}
