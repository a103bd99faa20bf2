//! The training loop of both stages (paper-notes.md, "Training (two stages)"): epsilon
//! prediction with the DDPM schedule, InstructPix2Pix's input `concat(noisy edited, source)`,
//! conditioning dropout inside the embedders, AdamW with warm-up and a schedule, gradient
//! accumulation, global-norm clipping, an EMA of the weights; checkpoints, resume, metrics.
//!
//! Run folder:
//! - `recipe.toml`: the resolved recipe;
//! - `metrics.jsonl`: one [`StepMetrics`] line every `run.log_every` steps;
//! - `checkpoints/step-NNNNNNNN/`: see [`crate::checkpoint`];
//! - `validation/step-NNNNNNNN.png`: grids every `run.validate_every` steps (see
//!   [`crate::validate`]);
//! - `editor/`: the final EMA editor (see [`crate::export`]).
//!
//! Every random draw of step `t` (data, timesteps, noise, dropout) comes from generators seeded
//! by (seed, t), so a resumed run reproduces an uninterrupted one exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rewardedit_core::Vocab;
use rewardedit_models::schedulers::NoiseSchedule;
use rewardedit_models::text::world::WorldTextConfig;
use rewardedit_models::unet::RewardConditioningConfig;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointState, CHECKPOINTS_DIR};
use crate::clip::clip_global_norm;
use crate::batch::{mse, timestep_values, NoisedBatch};
use crate::data::{Dataset, TrainExample};
use crate::editor::{attach_reward, Editor, EditorConfig, Encoders};
use crate::frozen::FrozenEncoders;
use crate::ema;
use crate::export::save_editor_with;
use crate::metrics::{MetricsWriter, Stepped};
use crate::recipe::{Init, OptimConfig, RunConfig, SamplingDefaults, Stage, TextSpec, TrainRecipe, WeightsKind};
use crate::region::{region_weights, weighted_mse};
use crate::{Result, TrainError};

pub const RECIPE_FILE: &str = "recipe.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const EDITOR_DIR: &str = "editor";
pub const VALIDATION_DIR: &str = "validation";
/// Rows of a validation grid.
pub const VALIDATION_ROWS: usize = 4;

/// One metrics.jsonl line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimiser steps done (the line after the first step has step 1).
    pub step: u64,
    /// This step's loss (mean over its micro-batches).
    pub loss: f32,
    /// Mean loss over the steps since the previous line.
    pub loss_avg: f32,
    /// Learning rate of this step.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Training examples per second since the previous line (0 right after a start).
    pub samples_per_s: f64,
}

impl Stepped for StepMetrics {
    fn step(&self) -> u64 {
        self.step
    }
}

/// What the caller is told as the run goes.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Preparing: opening data, building the vocabulary, loading weights.
    Preparing(String),
    /// A newer checkpoint failed its check and was skipped.
    SkippedCheckpoint(String),
    /// Training starts at `start` of `steps`.
    Start { start: u64, steps: u64, params: usize, effective_batch: usize },
    /// A step finished; `metrics` on logging steps.
    Step { step: u64, loss: f32, samples_per_s: f64, metrics: Option<StepMetrics> },
    /// A checkpoint was written.
    Checkpoint { step: u64, path: PathBuf },
    /// A validation grid was written.
    Validation { step: u64, path: PathBuf },
}

/// Options outside the recipe.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the newest intact checkpoint of the run folder, if any.
    pub resume: bool,
    /// Stop after this many steps in this invocation (the schedule still spans `optim.steps`);
    /// for tests and time-sliced runs.
    pub stop_after: Option<u64>,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub step: u64,
    /// Loss of every step run in this invocation, in order.
    pub losses: Vec<f32>,
    /// The exported EMA editor (after the last step of the schedule only).
    pub editor_dir: Option<PathBuf>,
}

/// The optimiser (AdamW; clipping is global, done before the step).
pub fn optimizer(optim: &OptimConfig) -> ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(optim.weight_decay).init()
}

/// The editor a run starts from: its config and weights on `device`.
pub fn initial_editor(recipe: &TrainRecipe, data: &Dataset, device: &Device, events: &mut dyn FnMut(TrainEvent)) -> Result<(EditorConfig, Editor)> {
    let reward = (recipe.stage == Stage::Reward).then(|| recipe.model.reward.clone());
    device.seed(recipe.optim.seed);
    match &recipe.init {
        Init::Scratch => {
            // Validation keeps latent (CLIP) recipes from starting from scratch.
            let TextSpec::World { dim, layers, heads, max_tokens } = recipe.model.text.clone() else {
                return Err(TrainError::Config("an SD (CLIP) editor starts from an editor folder or a checkpoint, which supply its VAE and CLIP".into()));
            };
            events(TrainEvent::Preparing("building the vocabulary".into()));
            let texts = data.vocab_texts()?;
            let vocab = Vocab::build(texts.iter().map(String::as_str));
            let unet = recipe.model.unet.clone().ok_or_else(|| TrainError::Config("model.unet is required from scratch".into()))?;
            let text = WorldTextConfig { dim, layers, heads, max_tokens, vocab_size: vocab.size() };
            let config = EditorConfig { unet, encoders: Encoders::World { text, vocab }, reward, noise: recipe.noise.clone().unwrap_or_default() };
            let editor = Editor::new(&config, device)?;
            Ok((config, editor))
        }
        Init::Checkpoint { path, weights } => {
            let dir = checkpoint::resolve(path)?;
            events(TrainEvent::Preparing(format!("initialising from {}", dir.display())));
            let (base, editor) = Editor::open_checkpoint(&dir, *weights, device)?;
            staged(recipe, reward, base, editor, &dir)
        }
        Init::Editor { path } => {
            events(TrainEvent::Preparing(format!("initialising from the editor folder {}", path.display())));
            let (base, editor) = Editor::open_dir(path, 0.0, device)?;
            staged(recipe, reward, base, editor, path)
        }
    }
}

/// An editor loaded from `from` made ready for the recipe's stage (`reward`: the stage-2
/// modules it asks for): the recipe's noise schedule if it names one; a stage-1 editor going to stage 2 gets
/// reward modules (zero-initialised if the recipe says so), a reward editor keeps its own with
/// the recipe's null-reward dropout. Its encoders must be the kind the recipe names.
fn staged(recipe: &TrainRecipe, reward: Option<RewardConditioningConfig>, base: EditorConfig, editor: Editor, from: &Path) -> Result<(EditorConfig, Editor)> {
    match (&recipe.model.text, &base.encoders) {
        (TextSpec::World { .. }, Encoders::World { .. }) | (TextSpec::Clip, Encoders::Frozen { .. }) => {}
        (TextSpec::World { .. }, Encoders::Frozen { .. }) => {
            return Err(TrainError::Config(format!("{}: an SD (CLIP) editor, but the recipe's model.text is the world encoder: use kind = \"clip\" and space = \"latent\"", from.display())));
        }
        (TextSpec::Clip, Encoders::World { .. }) => {
            return Err(TrainError::Config(format!("{}: a world editor, but the recipe's model.text is CLIP: use the world encoder and space = \"pixel\"", from.display())));
        }
    }
    let config = EditorConfig { noise: recipe.noise.clone().unwrap_or_else(|| base.noise.clone()), ..base.clone() };
    match (base.reward.is_some(), reward) {
        (false, Some(r)) => Ok((config.with_reward(&r), attach_reward(editor, &config, &r))),
        (true, Some(r)) => Ok((config.with_reward(&r), editor.with_null_dropout(r.null_dropout))),
        (false, None) => Ok((config, editor)),
        (true, None) => Err(TrainError::Config(format!("{}: a stage-1 (instruct) run cannot start from a reward editor", from.display()))),
    }
}

impl Editor {
    /// The editor of checkpoint folder `dir`: its config and its EMA or raw weights.
    pub fn open_checkpoint(dir: &Path, weights: WeightsKind, device: &Device) -> Result<(EditorConfig, Self)> {
        let config: EditorConfig = checkpoint::read_json(&dir.join(checkpoint::CONFIG))?;
        let file = dir.join(match weights {
            WeightsKind::Ema => checkpoint::EMA,
            WeightsKind::Raw => checkpoint::MODEL,
        });
        let editor = Editor::new(&config, device)?.load_weights(&file)?;
        Ok((config, editor))
    }

    /// Loads burn-pack weights saved by a checkpoint.
    pub fn load_weights(self, path: &Path) -> Result<Self> {
        self.try_load_file(path).map_err(|e| TrainError::format(path, e))
    }

    /// The same editor with its reward dropout set to `p`.
    pub fn with_null_dropout(mut self, p: f64) -> Self {
        if let Some(r) = self.unet.reward.as_mut() {
            r.null_dropout = p;
        }
        self
    }
}

/// The loss of one micro-batch: InstructPix2Pix's objective (paper section 3.2.1; DDPM, with
/// the schedule's prediction type), straight through; `frozen`: an SD editor's encoders.
#[allow(clippy::too_many_arguments)]
pub fn micro_batch_loss(
    model: &Editor,
    config: &EditorConfig,
    frozen: Option<&FrozenEncoders>,
    recipe: &TrainRecipe,
    schedule: &NoiseSchedule,
    batch: &[TrainExample],
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor<1>> {
    // The edited image is the diffusion target, the source the image condition; stage 2 adds
    // the data's rewards (scores + joined flaw text), dropped to the null reward inside the
    // reward embedder.
    let with_rewards = recipe.stage == Stage::Reward;
    let nb = NoisedBatch::draw(batch, schedule, &recipe.dropout, with_rewards, frozen, &mut recipe.loss.timesteps.sampler(schedule.num_train_timesteps()), rng, device)?;
    let target = schedule.training_target(nb.edited.clone(), nb.noise.clone(), &nb.timesteps);
    let (pred, _) = model.predict(config, &nb.conditions, nb.noisy, &timestep_values(&nb.timesteps), device)?;
    let weight = recipe.loss.region_weight;
    if weight == 0.0 {
        return Ok(mse(pred, target));
    }
    let [_, _, h, w] = pred.dims();
    let weights = region_weights(batch, &nb.conditions.drops, weight, (h, w), device);
    Ok(weighted_mse(pred, target, weights))
}

/// The generator of draw `draw` (timesteps, noise, dropout); the data has its own.
pub fn draw_rng(seed: u64, draw: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(draw);
    rng
}

/// Trains `recipe` into `run_dir` on `device` (an autodiff device, e.g.
/// `Device::flex().autodiff()`).
pub fn train(recipe: &TrainRecipe, run_dir: &Path, options: &TrainOptions, device: &Device, events: &mut dyn FnMut(TrainEvent)) -> Result<TrainOutcome> {
    recipe.validate()?;
    let resume_from = open_run(run_dir, &recipe.resolved_toml()?, options.resume, events)?;
    events(TrainEvent::Preparing(format!("opening the data ({})", crate::data::describe(&recipe.data))));
    let data = Dataset::open(&recipe.data, recipe.model.resolution)?;
    let state = match &resume_from {
        Some(found) => resume_state(found, &recipe.optim, device, events)?,
        None => {
            let (config, model) = initial_editor(recipe, &data, device, events)?;
            TrainState::fresh(config, model, &recipe.optim)
        }
    };
    let config = state.config.clone();
    let schedule = NoiseSchedule::new(&config.noise);
    let frozen = frozen_encoders(&config, device, events)?;
    let frozen = frozen.as_ref();
    if let Some(f) = frozen {
        f.check_sizes(&data)?;
    }
    let o = &recipe.optim;
    let validation = validation_examples(&data, o, &recipe.run)?;
    let mut loss = |model: &Editor, draw: u64| -> Result<Tensor<1>> {
        let batch = data.batch(o.seed, draw, o.batch_size)?;
        micro_batch_loss(model, &config, frozen, recipe, &schedule, &batch, &mut draw_rng(o.seed, draw), device)
    };
    let spec = FitSpec { optim: o, run: &recipe.run, stop_after: options.stop_after, sampling: &recipe.sampling, frozen };
    fit(&spec, run_dir, state, &validation, &mut loss, events)
}

/// An SD editor's frozen VAE and CLIP (on `device` without autodiff), reported as they load.
pub fn frozen_encoders(config: &EditorConfig, device: &Device, events: &mut dyn FnMut(TrainEvent)) -> Result<Option<FrozenEncoders>> {
    if let Encoders::Frozen { dir } = &config.encoders {
        events(TrainEvent::Preparing(format!("loading the frozen VAE and CLIP text encoder of {}", dir.display())));
    }
    FrozenEncoders::for_config(config, device)
}

/// Prepares `run_dir` for a run whose resolved recipe is `resolved`: with `resume`, finds the
/// newest intact checkpoint (reporting the damaged ones skipped) and insists on the same
/// recipe; without, refuses a folder that already holds checkpoints. Writes the recipe.
pub fn open_run(run_dir: &Path, resolved: &str, resume: bool, events: &mut dyn FnMut(TrainEvent)) -> Result<Option<(u64, PathBuf)>> {
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let recipe_path = run_dir.join(RECIPE_FILE);
    let ckpt_root = run_dir.join(CHECKPOINTS_DIR);
    let resume_from = if resume {
        let (found, skipped) = checkpoint::latest_intact(&ckpt_root);
        for s in skipped {
            events(TrainEvent::SkippedCheckpoint(s));
        }
        found
    } else {
        None
    };
    if resume_from.is_some() {
        // A resumed run must continue the same recipe, or its loss curve means nothing.
        let previous = std::fs::read_to_string(&recipe_path).map_err(|e| TrainError::io(&recipe_path, e))?;
        if previous != resolved {
            return Err(TrainError::Config(format!("{} differs from the recipe given: resume needs the same recipe", recipe_path.display())));
        }
    } else if !resume && ckpt_root.exists() && !checkpoint::list(&ckpt_root).is_empty() {
        return Err(TrainError::Config(format!("{} already holds checkpoints: pass --resume, or choose another --out", run_dir.display())));
    }
    std::fs::write(&recipe_path, resolved).map_err(|e| TrainError::io(&recipe_path, e))?;
    Ok(resume_from)
}

/// What a training loop carries from step to step.
pub struct TrainState {
    pub config: EditorConfig,
    pub model: Editor,
    pub ema: Editor,
    pub optim: ModuleOptimizer,
    /// Steps already done.
    pub start: u64,
}

impl TrainState {
    /// Step 0 of `model`: the EMA starts at the model, the optimiser afresh.
    pub fn fresh(config: EditorConfig, model: Editor, optim: &OptimConfig) -> Self {
        let ema = model.valid();
        TrainState { config, model, ema, optim: optimizer(optim), start: 0 }
    }
}

/// The state saved in checkpoint `found` (from [`open_run`]).
pub fn resume_state(found: &(u64, PathBuf), optim: &OptimConfig, device: &Device, events: &mut dyn FnMut(TrainEvent)) -> Result<TrainState> {
    let (step, dir) = found;
    events(TrainEvent::Preparing(format!("resuming from {}", dir.display())));
    let config: EditorConfig = checkpoint::read_json(&dir.join(checkpoint::CONFIG))?;
    let model = Editor::new(&config, device)?.load_weights(&dir.join(checkpoint::MODEL))?;
    let ema = Editor::new(&config, device)?.valid().load_weights(&dir.join(checkpoint::EMA))?;
    let optim = optimizer(optim).load(dir.join(checkpoint::OPTIM)).map_err(|e| TrainError::format(dir.join(checkpoint::OPTIM), e))?;
    Ok(TrainState { config, model, ema, optim, start: *step })
}

/// Fixed validation triplets: one draw of the training distribution, apart from the training
/// draws (another generator), the same at every grid; none when grids are off.
pub fn validation_examples(data: &Dataset, optim: &OptimConfig, run: &RunConfig) -> Result<Vec<TrainExample>> {
    if run.validate_every == 0 {
        return Ok(Vec::new());
    }
    data.batch(optim.seed ^ 0x7661_6c69, 0, VALIDATION_ROWS)
}

/// The loop's settings.
pub struct FitSpec<'a> {
    pub optim: &'a OptimConfig,
    pub run: &'a RunConfig,
    /// Stop after this many steps in this invocation (see [`TrainOptions::stop_after`]).
    pub stop_after: Option<u64>,
    /// Sampling defaults of the exported editor.
    pub sampling: &'a SamplingDefaults,
    /// An SD editor's frozen encoders (validation grids, the exported folder).
    pub frozen: Option<&'a FrozenEncoders>,
}

/// The one training loop: from `state.start` to `optim.steps` (or `stop_after` steps), each
/// optimiser step summing `grad_accum` micro-batch losses `loss(model, draw)` (draw = step *
/// accum + micro, so every draw is a function of the step), then clipping, AdamW, EMA, metrics,
/// checkpoints, validation grids; after the last step of the schedule, the EMA editor is
/// exported to `run_dir/editor`.
pub fn fit(
    spec: &FitSpec,
    run_dir: &Path,
    state: TrainState,
    validation: &[TrainExample],
    loss: &mut dyn FnMut(&Editor, u64) -> Result<Tensor<1>>,
    events: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome> {
    let TrainState { config, mut model, ema: mut ema_model, mut optim, start } = state;
    let (o, run) = (spec.optim, spec.run);
    let ckpt_root = run_dir.join(CHECKPOINTS_DIR);
    let mut metrics = MetricsWriter::open::<StepMetrics>(&run_dir.join(METRICS_FILE), start)?;
    let accum = o.grad_accum as u64;
    let effective_batch = o.batch_size * o.grad_accum;
    let end = spec.stop_after.map_or(o.steps, |k| (start + k).min(o.steps));
    events(TrainEvent::Start { start, steps: o.steps, params: model.num_params(), effective_batch });

    let mut losses = Vec::new();
    let mut window = (Instant::now(), start, 0.0f64);
    for step in start..end {
        let lr = o.lr_at(step);
        let mut accumulator = GradientsAccumulator::<Editor>::new();
        let mut step_loss = 0.0f32;
        for micro in 0..accum {
            let loss = loss(&model, step * accum + micro)?;
            step_loss += loss.clone().into_scalar::<f32>() / accum as f32;
            let grads = GradientsParams::from_grads((loss / accum as f32).backward(), &model);
            accumulator.accumulate(&model, grads);
        }
        if !step_loss.is_finite() {
            return Err(TrainError::Diverged { step: step + 1, loss: step_loss });
        }
        let mut grads = accumulator.grads();
        let grad_norm = clip_global_norm(&model, &mut grads, o.grad_clip as f64);
        model = optim.step(lr, model, grads);
        ema_model = ema::update(ema_model, &model, ema::decay_at(o.ema_decay, step));
        losses.push(step_loss);
        window.2 += step_loss as f64;

        let done = step + 1;
        let elapsed = window.0.elapsed().as_secs_f64();
        let samples_per_s = (done - window.1) as f64 * effective_batch as f64 / elapsed.max(1e-9);
        let line = (done % run.log_every == 0 || done == end).then(|| {
            let m = StepMetrics {
                step: done,
                loss: step_loss,
                loss_avg: (window.2 / (done - window.1) as f64) as f32,
                lr,
                grad_norm,
                samples_per_s,
            };
            window = (Instant::now(), done, 0.0);
            m
        });
        if let Some(m) = &line {
            metrics.write(m)?;
        }
        events(TrainEvent::Step { step: done, loss: step_loss, samples_per_s, metrics: line });
        if done % run.checkpoint_every == 0 || done == end {
            let path = checkpoint::save(&ckpt_root, done, run.keep_checkpoints, |tmp| {
                checkpoint::write_json(&tmp.join(checkpoint::CONFIG), &config)?;
                checkpoint::write_json(&tmp.join(checkpoint::SAMPLING), spec.sampling)?;
                model.clone().save_file(tmp.join(checkpoint::MODEL)).map_err(|e| TrainError::format(tmp.join(checkpoint::MODEL), e))?;
                ema_model.clone().save_file(tmp.join(checkpoint::EMA)).map_err(|e| TrainError::format(tmp.join(checkpoint::EMA), e))?;
                optim.save(tmp.join(checkpoint::OPTIM)).map_err(|e| TrainError::format(tmp.join(checkpoint::OPTIM), e))?;
                checkpoint::write_json(&tmp.join(checkpoint::STATE), &CheckpointState { step: done, loss: step_loss })
            })?;
            events(TrainEvent::Checkpoint { step: done, path });
        }
        if run.validate_every > 0 && (done % run.validate_every == 0 || done == o.steps) {
            let path = run_dir.join(VALIDATION_DIR).join(format!("{}.png", checkpoint::step_dir_name(done)));
            crate::validate::write_grid(&ema_model, &config, spec.frozen, validation, &crate::validate::settings(spec.sampling), &path)?;
            events(TrainEvent::Validation { step: done, path });
        }
    }

    let editor_dir = if end == o.steps {
        let dir = run_dir.join(EDITOR_DIR);
        save_editor_with(&ema_model, &config, spec.frozen, spec.sampling, &dir)?;
        Some(dir)
    } else {
        None
    };
    Ok(TrainOutcome { step: end, losses, editor_dir })
}
