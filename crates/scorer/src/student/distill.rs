//! Distillation: trains a [`StudentNet`] on teacher labels (regression + ranking + verdict BCE,
//! AdamW), with checkpoints, resume, metrics.jsonl, and a held-out agreement report for the fp32
//! and int8 students at the end.
//!
//! Run folder:
//! - `recipe.toml`: the resolved recipe;
//! - `metrics.jsonl`: one line per `log_every` steps (step, loss and its parts, lr, samples/s);
//! - `checkpoint/`: model and AdamW state (burnpack, parameter ids kept so the optimiser state
//!   re-attaches), `config.json`, `state.json` with the step; replaced atomically;
//! - `student/`: the exported student (config.json, fp32 and int8 safetensors);
//! - `agreement.json`: the held-out agreement table.
//!
//! Batch `t` is drawn from a generator seeded by (seed, t), so a resumed run sees exactly the
//! batches an uninterrupted one would.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rewardedit_train::metrics::{MetricsWriter, Stepped};
use rewardedit_core::{Axis, Reward};
use serde::{Deserialize, Serialize};

use super::agreement::{agreement, Agreement};
use super::batch::{dropped_token_tensor, image_tensor, mask_targets, WordDropout};
use super::config::StudentConfig;
use super::data::TeacherExample;
use super::loss::{distill_loss, LossConfig};
use super::network::StudentNet;
use super::recipe::{DistillRecipe, TrainConfig};
use super::scorer::predict;
use super::store::{load_config, load_student, save_student, Precision, CONFIG_FILE};
use super::tokenizer::Vocab;
use super::StudentError;

pub const RECIPE_FILE: &str = "recipe.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const CHECKPOINT_DIR: &str = "checkpoint";
pub const STUDENT_DIR: &str = "student";
pub const AGREEMENT_FILE: &str = "agreement.json";

/// One metrics.jsonl line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Steps done (1-based: the line after the first step has step 1).
    pub step: u64,
    /// Total loss of this step's batch.
    pub loss: f32,
    pub regression: f32,
    pub ranking: f32,
    pub verdict: f32,
    /// "Perfect" (teacher score 5.00) cross-entropy; absent in runs before it existed.
    #[serde(default)]
    pub perfect: f32,
    /// The mask head's cross-entropy (0 without one); absent in runs before it existed.
    #[serde(default)]
    pub mask: f32,
    /// Learning rate used at this step.
    pub lr: f64,
    /// Training throughput since the previous line (0 for the first line after a start).
    pub samples_per_s: f64,
}

impl Stepped for StepMetrics {
    fn step(&self) -> u64 {
        self.step
    }
}

/// What the caller is told as the run goes.
#[derive(Debug, Clone)]
pub enum DistillEvent {
    /// Teacher data loading: `(what, done, total)` (`total` 0 when unknown).
    Data(&'static str, u64, u64),
    /// Training starts at `start` of `steps` (`start` > 0 after a resume).
    Start { start: u64, steps: u64, params: usize },
    /// A step finished (metrics filled on `log_every` steps only).
    Step { step: u64, loss: f32, metrics: Option<StepMetrics> },
    /// Scoring the held-out set.
    Evaluating,
}

/// The held-out figures of a finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgreementReport {
    /// Held-out edits scored.
    pub n: usize,
    /// fp32 student vs the teacher that labelled the data.
    pub fp32_vs_teacher: Agreement,
    /// int8 student vs the teacher.
    pub int8_vs_teacher: Agreement,
    /// fp32 student vs the exact oracle (world data only).
    pub fp32_vs_exact: Option<Agreement>,
    /// int8 student vs the exact oracle (world data only).
    pub int8_vs_exact: Option<Agreement>,
    /// The teacher itself vs the exact oracle (how noisy the labels are; world data only).
    pub teacher_vs_exact: Option<Agreement>,
    /// Largest |fp32 - int8| score difference over the held-out set and axes.
    pub max_fp32_int8_score_gap: f32,
    /// Weight file sizes in bytes.
    pub fp32_bytes: u64,
    pub int8_bytes: u64,
    /// Trainable parameters.
    pub params: usize,
}

/// Training and evaluation options that are not part of the recipe.
#[derive(Debug, Clone, Default)]
pub struct DistillOptions {
    /// Continue from `RUN/checkpoint` if present.
    pub resume: bool,
    /// Stop after this many steps in this invocation (the recipe's `steps` still sets the
    /// schedule); for tests and time-sliced runs.
    pub stop_after: Option<u64>,
    /// Skip the held-out agreement at the end.
    pub skip_eval: bool,
}

/// What [`distill`] returns.
#[derive(Debug, Clone)]
pub struct DistillOutcome {
    /// Steps done in total (including before a resume).
    pub step: u64,
    /// Loss of the last step run in this invocation.
    pub last_loss: Option<f32>,
    pub student_dir: PathBuf,
    pub report: Option<AgreementReport>,
}

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    step: u64,
}

/// Tensors for a batch of examples: images, tokens (words dropped as `drop` says), teacher
/// scores and verdicts.
pub fn batch_tensors(
    config: &StudentConfig,
    examples: &[&TeacherExample],
    drop: &WordDropout,
    device: &Device,
) -> (Tensor<4>, Tensor<2, Int>, Tensor<2>, Tensor<2>) {
    let pairs: Vec<_> = examples.iter().map(|e| (&e.source, &e.edited)).collect();
    let texts: Vec<&str> = examples.iter().map(|e| e.instruction.as_str()).collect();
    let b = examples.len();
    let scores: Vec<f32> = examples.iter().flat_map(|e| e.teacher.scores()).collect();
    let verdicts: Vec<f32> = examples.iter().flat_map(|e| e.teacher.verdicts().map(f32::from)).collect();
    (
        image_tensor(&pairs, config.resolution, device),
        dropped_token_tensor(config, &texts, drop, device),
        Tensor::from_data(TensorData::new(scores, [b, 3]), device),
        Tensor::from_data(TensorData::new(verdicts, [b, 3]), device),
    )
}

/// Indices of the batch of step `step` (0-based): uniform draws from a generator seeded by
/// (seed, step), so any step's batch can be recomputed without replaying the run.
pub fn batch_indices(seed: u64, step: u64, batch_size: usize, n: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step);
    (0..batch_size).map(|_| rng.random_range(0..n)).collect()
}

/// One optimiser step on `batch` (its instructions' words dropped as `drop` says); returns the
/// updated model and the loss parts (total, regression, ranking, verdict, perfect, mask).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    model: StudentNet,
    optim: &mut ModuleOptimizer,
    config: &StudentConfig,
    batch: &[&TeacherExample],
    lr: f64,
    loss_cfg: &LossConfig,
    drop: &WordDropout,
    device: &Device,
) -> (StudentNet, [f32; 6]) {
    let (images, tokens, scores, verdicts) = batch_tensors(config, batch, drop, device);
    let out = model.forward(images, tokens);
    let masks = if config.mask_head {
        let side = config.resolution as usize >> (config.channels.len() - 1);
        mask_targets(&batch.iter().map(|e| e.mask.as_ref()).collect::<Vec<_>>(), side, device)
    } else {
        None
    };
    let loss = distill_loss(&out, scores, verdicts, masks, loss_cfg);
    let total = loss.total.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.total.backward(), &model);
    let model = optim.step(lr, model, grads);
    (model, [total, loss.regression, loss.ranking, loss.verdict, loss.perfect, loss.mask])
}

/// The AdamW optimiser of a recipe.
pub fn optimizer(train: &TrainConfig) -> ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(train.weight_decay).init()
}

/// The network config for a recipe and its training examples (vocabulary from their words).
pub fn student_config(recipe: &DistillRecipe, train: &[TeacherExample]) -> Result<StudentConfig, StudentError> {
    recipe.model.with_vocab(Vocab::build(train.iter().map(|e| e.instruction.as_str())))
}

/// The student of `dir` (fp32) as the starting point of `recipe`'s run. Its vocabulary is kept
/// (the token ids its weights learnt), and the recipe's `[model]` must describe its network.
fn initial_student(recipe: &DistillRecipe, dir: &Path, device: &Device) -> Result<(StudentConfig, StudentNet), StudentError> {
    let (config, model) = load_student(dir, Precision::Fp32, device)?;
    if recipe.model.with_vocab(config.vocab.clone())? != config {
        return Err(StudentError::Config(format!(
            "[train] init = {}: its config.json describes another network than the recipe's [model]; \
             copy that file's shape fields into [model]",
            dir.display()
        )));
    }
    Ok((config, model))
}

/// Trains the student of `recipe` into `run_dir` on `device` (an autodiff device, e.g.
/// `Device::flex().autodiff()`), then exports it and measures held-out agreement.
pub fn distill(
    recipe: &DistillRecipe,
    run_dir: &Path,
    options: &DistillOptions,
    device: &Device,
    events: &mut dyn FnMut(DistillEvent),
) -> Result<DistillOutcome, StudentError> {
    recipe.validate()?;
    std::fs::create_dir_all(run_dir).map_err(|e| StudentError::io(run_dir, e))?;
    let recipe_path = run_dir.join(RECIPE_FILE);
    let resolved = recipe.resolved_toml()?;
    let ckpt = run_dir.join(CHECKPOINT_DIR);
    if options.resume && ckpt.exists() {
        // A resumed run must continue the same recipe, or its loss curve means nothing.
        let previous = std::fs::read_to_string(&recipe_path).map_err(|e| StudentError::io(&recipe_path, e))?;
        if previous != resolved {
            return Err(StudentError::Config(format!("{} differs from the recipe given: resume needs the same recipe", recipe_path.display())));
        }
    }
    std::fs::write(&recipe_path, &resolved).map_err(|e| StudentError::io(&recipe_path, e))?;

    let res = recipe.model.resolution;
    let mut train_data = Vec::new();
    for source in recipe.training_sources() {
        train_data.extend(source.load(res, &mut |d, n| events(DistillEvent::Data("train", d, n)))?);
    }
    let t = &recipe.train;
    device.seed(t.seed);
    let (config, mut model) = match &t.init {
        Some(dir) => initial_student(recipe, dir, device)?,
        None => {
            let config = student_config(recipe, &train_data)?;
            let model = StudentNet::new(&config, device);
            (config, model)
        }
    };
    let mut optim = optimizer(t);
    let mut start = 0;
    if options.resume && ckpt.exists() {
        let state: CheckpointState = read_json(&ckpt.join("state.json"))?;
        model = model.try_load_file(ckpt.join("model.bpk")).map_err(|e| StudentError::format(ckpt.join("model.bpk"), e))?;
        optim = optim.load(ckpt.join("optim.bpk")).map_err(|e| StudentError::format(ckpt.join("optim.bpk"), e))?;
        start = state.step;
    }
    // A resumed run rewrites what came after its checkpoint; a fresh one starts the file anew.
    let mut metrics = MetricsWriter::open::<StepMetrics>(&run_dir.join(METRICS_FILE), start)?;
    let params = model.num_params();
    events(DistillEvent::Start { start, steps: t.steps, params });

    let end = options.stop_after.map_or(t.steps, |k| (start + k).min(t.steps));
    let mut last_loss = None;
    let mut clock = (Instant::now(), start);
    for step in start..end {
        let batch: Vec<&TeacherExample> =
            batch_indices(t.seed, step, t.batch_size, train_data.len()).into_iter().map(|i| &train_data[i]).collect();
        let lr = t.lr_at(step);
        let drop = WordDropout { p: t.word_dropout, seed: t.seed, step };
        let (next, [loss, regression, ranking, verdict, perfect, mask]) =
            train_step(model, &mut optim, &config, &batch, lr, &recipe.loss, &drop, device);
        model = next;
        if !loss.is_finite() {
            return Err(StudentError::Diverged { step: step + 1, loss });
        }
        last_loss = Some(loss);
        let done = step + 1;
        let line = (done % t.log_every == 0 || done == end).then(|| {
            let elapsed = clock.0.elapsed().as_secs_f64();
            let samples = (done - clock.1) as f64 * t.batch_size as f64;
            clock = (Instant::now(), done);
            StepMetrics { step: done, loss, regression, ranking, verdict, perfect, mask, lr, samples_per_s: samples / elapsed.max(1e-9) }
        });
        if let Some(m) = &line {
            metrics.write(m)?;
        }
        if done % t.checkpoint_every == 0 || done == end {
            save_checkpoint(&ckpt, &config, &model, &optim, done)?;
        }
        events(DistillEvent::Step { step: done, loss, metrics: line });
    }

    let student_dir = run_dir.join(STUDENT_DIR);
    save_student(&student_dir, &config, &model.valid())?;
    if options.skip_eval || end < t.steps {
        return Ok(DistillOutcome { step: end, last_loss, student_dir, report: None });
    }
    events(DistillEvent::Evaluating);
    let heldout = recipe.heldout.load(res, &mut |d, n| events(DistillEvent::Data("held-out", d, n)))?;
    let report = evaluate(&student_dir, &heldout, t.eval_batch_size, params)?;
    let path = run_dir.join(AGREEMENT_FILE);
    let json = serde_json::to_string_pretty(&report).map_err(|e| StudentError::Config(e.to_string()))?;
    std::fs::write(&path, json + "\n").map_err(|e| StudentError::io(&path, e))?;
    Ok(DistillOutcome { step: end, last_loss, student_dir, report: Some(report) })
}

/// Scores `examples` with the student of `dir` at `precision` (inference on Flex).
pub fn score_examples(dir: &Path, precision: Precision, examples: &[TeacherExample], batch: usize) -> Result<Vec<Reward>, StudentError> {
    let device = Device::flex();
    let (config, model) = load_student(dir, precision, &device)?;
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(batch.max(1)) {
        let pairs: Vec<_> = chunk.iter().map(|e| (&e.source, &e.edited)).collect();
        let texts: Vec<&str> = chunk.iter().map(|e| e.instruction.as_str()).collect();
        out.extend(predict(&model, &config, &pairs, &texts, &device).map_err(|e| StudentError::Data(e.to_string()))?);
    }
    Ok(out)
}

/// Held-out agreement of the fp32 and int8 students of `dir` with the teacher (and the exact
/// oracle where the examples carry it).
pub fn evaluate(dir: &Path, heldout: &[TeacherExample], batch: usize, params: usize) -> Result<AgreementReport, StudentError> {
    let fp32 = score_examples(dir, Precision::Fp32, heldout, batch)?;
    let int8 = score_examples(dir, Precision::Int8, heldout, batch)?;
    let teacher: Vec<Reward> = heldout.iter().map(|e| e.teacher.clone()).collect();
    let exact: Option<Vec<Reward>> = heldout.iter().map(|e| e.exact.clone()).collect();
    let gap = fp32
        .iter()
        .zip(&int8)
        .flat_map(|(a, b)| Axis::ALL.map(|x| (a.axis(x).score() - b.axis(x).score()).abs()))
        .fold(0.0f32, f32::max);
    let size = |p: Precision| std::fs::metadata(dir.join(p.file())).map(|m| m.len()).unwrap_or(0);
    Ok(AgreementReport {
        n: heldout.len(),
        fp32_vs_teacher: agreement(&fp32, &teacher),
        int8_vs_teacher: agreement(&int8, &teacher),
        fp32_vs_exact: exact.as_ref().map(|x| agreement(&fp32, x)),
        int8_vs_exact: exact.as_ref().map(|x| agreement(&int8, x)),
        teacher_vs_exact: exact.as_ref().map(|x| agreement(&teacher, x)),
        max_fp32_int8_score_gap: gap,
        fp32_bytes: size(Precision::Fp32),
        int8_bytes: size(Precision::Int8),
        params,
    })
}

/// Exports the checkpoint of `run_dir` as a student folder `out` (config.json, fp32 and int8
/// weights), e.g. to evaluate a run before it ends. Returns the checkpoint's step.
pub fn export_checkpoint(run_dir: &Path, out: &Path) -> Result<u64, StudentError> {
    let ckpt = run_dir.join(CHECKPOINT_DIR);
    let state: CheckpointState = read_json(&ckpt.join("state.json"))?;
    let config = load_config(&ckpt)?;
    let model = StudentNet::new(&config, &Device::flex())
        .try_load_file(ckpt.join("model.bpk"))
        .map_err(|e| StudentError::format(ckpt.join("model.bpk"), e))?;
    save_student(out, &config, &model)?;
    Ok(state.step)
}

/// Writes the checkpoint into a fresh folder, then swaps it in, so a kill never leaves a
/// half-written checkpoint behind.
fn save_checkpoint(dir: &Path, config: &StudentConfig, model: &StudentNet, optim: &ModuleOptimizer, step: u64) -> Result<(), StudentError> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| StudentError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| StudentError::io(&tmp, e))?;
    let json = serde_json::to_string_pretty(config).map_err(|e| StudentError::Config(e.to_string()))?;
    std::fs::write(tmp.join(CONFIG_FILE), json).map_err(|e| StudentError::io(tmp.join(CONFIG_FILE), e))?;
    model.clone().save_file(tmp.join("model.bpk")).map_err(|e| StudentError::format(tmp.join("model.bpk"), e))?;
    optim.save(tmp.join("optim.bpk")).map_err(|e| StudentError::format(tmp.join("optim.bpk"), e))?;
    let state = serde_json::to_string(&CheckpointState { step }).map_err(|e| StudentError::Config(e.to_string()))?;
    std::fs::write(tmp.join("state.json"), state).map_err(|e| StudentError::io(tmp.join("state.json"), e))?;
    let old = dir.with_extension("old");
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| StudentError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| StudentError::io(dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| StudentError::io(&old, e))?;
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StudentError> {
    let text = std::fs::read_to_string(path).map_err(|e| StudentError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| StudentError::format(path, e))
}
