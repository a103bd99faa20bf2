//! The training recipe (`recipes/world-teacher-stage1.toml`, ...): what is trained (stage,
//! network shape, initial weights), on what (data), and how (optimiser, dropout, EMA, run
//! bookkeeping). Every run writes its resolved recipe (defaults filled in) beside its outputs;
//! [`TrainRecipe::resolved_toml`] is also what `--dry-run` prints.

use std::path::{Path, PathBuf};

use rewardedit_models::pipeline::EditSettings;
use rewardedit_models::schedulers::{NoiseScheduleConfig, SchedulerKind};
use rewardedit_models::unet::{RewardConditioningConfig, UNet2DConditionConfig};
use serde::{Deserialize, Serialize};

use crate::data::DataSource;
use crate::lr::LrSchedule;
use crate::timesteps::TimestepSampling;
use crate::{Result, TrainError};

/// Which of the paper's two training stages a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// InstructPix2Pix: source image + instruction -> edited image; no rewards.
    Instruct,
    /// The reward-conditioned editor: stage 1 plus the three scores and the reward text.
    Reward,
}

/// A whole training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRecipe {
    /// `instruct` (stage 1) or `reward` (stage 2).
    pub stage: Stage,
    /// The network: UNet shape, text encoder, reward modules.
    pub model: ModelSpec,
    /// Where the initial weights come from (default: fresh, seeded).
    #[serde(default)]
    pub init: Init,
    /// Training triplets.
    pub data: DataSource,
    /// Optimisation: AdamW, schedule, accumulation, clipping, EMA.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Conditioning dropout of text and image (InstructPix2Pix section 3.2.1); reward dropout is
    /// `model.reward.null_dropout`.
    #[serde(default)]
    pub dropout: DropoutConfig,
    /// How the denoising error is weighted (absent: plain MSE, as before it existed).
    #[serde(default, skip_serializing_if = "LossConfig::is_plain")]
    pub loss: LossConfig,
    /// The DDPM training noise schedule (diffusers' scheduler_config fields). Absent: the
    /// schedule of the editor or checkpoint the run starts from (a pretrained SD UNet must keep
    /// its own), or diffusers' defaults from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseScheduleConfig>,
    /// Logging and checkpoint cadence.
    #[serde(default)]
    pub run: RunConfig,
    /// Sampling defaults written into the exported editor's `editor.json` (what `edit`,
    /// `eval` and the demo use when not told otherwise).
    #[serde(default)]
    pub sampling: SamplingDefaults,
}

/// Sampling defaults of an exported editor; each field left out keeps the pipeline's default
/// (the paper's settings; DDIM for editors trained with `clip_sample`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingDefaults {
    pub steps: Option<usize>,
    pub text_cfg: Option<f64>,
    pub image_cfg: Option<f64>,
    pub reward_cfg: Option<f64>,
    pub scheduler: Option<SchedulerKind>,
}

impl SamplingDefaults {
    /// `base` with the fields given here.
    pub fn apply(&self, base: EditSettings) -> EditSettings {
        EditSettings {
            steps: self.steps.unwrap_or(base.steps),
            text_cfg: self.text_cfg.unwrap_or(base.text_cfg),
            image_cfg: self.image_cfg.unwrap_or(base.image_cfg),
            reward_cfg: self.reward_cfg.unwrap_or(base.reward_cfg),
            scheduler: self.scheduler.unwrap_or(base.scheduler),
            ..base
        }
    }
}

/// Where the UNet works: on pixels (the world) or on VAE latents (Stable Diffusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// Images in [-1, 1] are the diffusion variable; the UNet reads 3 noisy + 3 source channels.
    #[default]
    Pixel,
    /// SD 1.5: the VAE's 4-channel latents (x 0.18215); the UNet reads 4 + 4 channels.
    Latent,
}

/// The editor's network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Pixel (world) or latent (SD 1.5) diffusion.
    #[serde(default)]
    pub space: Space,
    /// Training image side in pixels (square data) or the longest side of the aspect buckets.
    pub resolution: u32,
    /// The UNet (diffusers `unet/config.json` fields). Absent: taken from `init`'s folder.
    #[serde(default)]
    pub unet: Option<UNet2DConditionConfig>,
    /// The prompt encoder.
    pub text: TextSpec,
    /// Reward modules (stage 2; ignored in stage 1).
    #[serde(default)]
    pub reward: RewardConditioningConfig,
}

/// Which prompt encoder the editor has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TextSpec {
    /// The small word-level world encoder, trained jointly from scratch.
    World {
        /// Width of every token state; must equal the UNet's `cross_attention_dim`.
        dim: usize,
        /// Self-attention layers.
        layers: usize,
        /// Attention heads (must divide `dim`).
        heads: usize,
        /// Words read per prompt (the reward text is three sentences: leave room).
        max_tokens: usize,
    },
    /// The SD 1.5 CLIP text encoder from `init`'s diffusers folder (frozen, as InstructPix2Pix).
    Clip,
}

/// Initial weights.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    /// Fresh weights from `optim.seed`.
    #[default]
    Scratch,
    /// A checkpoint of an earlier run (a run folder: its newest intact checkpoint; or one
    /// checkpoint folder). Stage 2 from a stage-1 run attaches the reward modules afresh
    /// (zero-initialised if `model.reward.zero_init`). The optimiser starts afresh.
    Checkpoint {
        path: PathBuf,
        /// Start from the run's EMA weights (`ema`) or its raw weights (`raw`).
        #[serde(default)]
        weights: WeightsKind,
    },
    /// An editor folder (`unet/`, `text_encoder/`, ...: an exported run, a committed checkpoint,
    /// a diffusers InstructPix2Pix folder, the authors' reward checkpoint; fp32/fp16/bf16/int8
    /// weights), as `rewardedit edit` loads it; the same stage rules as a checkpoint. An SD
    /// folder's VAE and CLIP text encoder stay frozen: only its UNet trains.
    Editor { path: PathBuf },
}

/// Raw or EMA weights of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsKind {
    #[default]
    Ema,
    Raw,
}

/// AdamW with warm-up and a schedule, gradient accumulation, global-norm clipping, EMA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Seed of the initial weights, the data order, noise, timesteps and dropout draws (step
    /// `t`'s draws are a function of seed and `t`, so a resumed run sees the same ones).
    pub seed: u64,
    /// Optimiser steps.
    pub steps: u64,
    /// Examples per forward pass.
    pub batch_size: usize,
    /// Forward passes whose gradients are summed per optimiser step (effective batch =
    /// `batch_size * grad_accum`).
    pub grad_accum: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up then cosine or constant.
    pub schedule: LrSchedule,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// Final learning rate of the cosine decay, as a fraction of `lr`.
    pub min_lr_fraction: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Clip the global gradient norm (over all parameters) to this; 0 disables.
    pub grad_clip: f32,
    /// EMA decay of the weights (diffusers' warm-up `min(decay, (1 + t) / (10 + t))`).
    pub ema_decay: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            seed: 0,
            steps: 1000,
            batch_size: 16,
            grad_accum: 1,
            lr: 1e-3,
            schedule: LrSchedule::Cosine,
            warmup_steps: 100,
            min_lr_fraction: 0.1,
            weight_decay: 1e-2,
            grad_clip: 1.0,
            ema_decay: 0.999,
        }
    }
}

impl OptimConfig {
    /// Learning rate at `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        self.schedule.lr_at(step, self.lr, self.warmup_steps, self.steps, self.min_lr_fraction)
    }
}

/// Conditioning dropout, InstructPix2Pix section 3.2.1: each row loses its text with
/// probability `text` and its source image with probability `image`; as in the reference
/// training script the two are drawn from one uniform so that a fraction `both` loses both
/// (`text` only, `image` only, both are disjoint bands of width `text - both`, `image - both`,
/// `both`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropoutConfig {
    /// Probability that a row's prompt is replaced by the empty prompt.
    pub text: f64,
    /// Probability that a row's source image is replaced by zeros.
    pub image: f64,
    /// Probability that both are dropped together (at most min(text, image)).
    pub both: f64,
}

impl Default for DropoutConfig {
    fn default() -> Self {
        // InstructPix2Pix: 5% text only, 5% image only, 5% both.
        DropoutConfig { text: 0.10, image: 0.10, both: 0.05 }
    }
}

/// Weighting of the denoising loss.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Extra weight of the pixels inside the world's edit region: they count `1 + region_weight`
    /// times as much as the rest of their image (each image's weights averaging 1). An object
    /// edit changes a few percent of the pixels, so under plain MSE copying the source dominates
    /// the loss; 0 is plain MSE. World data only (folders carry no edit regions).
    pub region_weight: f64,
    /// The distribution of training timesteps (uniform unless set).
    pub timesteps: TimestepSampling,
}

impl LossConfig {
    /// Plain MSE: left out of the resolved recipe, so runs from before this table resume.
    pub fn is_plain(&self) -> bool {
        *self == LossConfig::default()
    }
}

/// Bookkeeping cadence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Steps between metrics.jsonl lines.
    pub log_every: u64,
    /// Steps between checkpoints (the last step always checkpoints).
    pub checkpoint_every: u64,
    /// Checkpoints kept (oldest removed first); at least 2, so a corrupt newest one has a
    /// predecessor.
    pub keep_checkpoints: usize,
    /// Steps between validation grids (0: none).
    pub validate_every: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { log_every: 10, checkpoint_every: 200, keep_checkpoints: 3, validate_every: 0 }
    }
}

/// Reads a recipe file with `parse` (TOML text -> validated recipe); a config error names the file.
pub fn load_file<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    parse(&text).map_err(|e| match e {
        TrainError::Config(m) => TrainError::format(path, m),
        e => e,
    })
}

/// Parses TOML text into `T`, a config error on failure.
pub fn parse_toml<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))
}

impl TrainRecipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Self> {
        load_file(path, Self::from_toml)
    }

    /// Parses and validates recipe text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let recipe: TrainRecipe = parse_toml(text)?;
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        let o = &self.optim;
        if o.steps == 0 || o.batch_size == 0 || o.grad_accum == 0 {
            return bad("optim.steps, optim.batch_size and optim.grad_accum must be positive".into());
        }
        if !o.lr.is_finite() || o.lr <= 0.0 || !(0.0..=1.0).contains(&o.min_lr_fraction) || !(0.0..1.0).contains(&o.ema_decay) {
            return bad(format!("optim.lr ({}) must be positive, min_lr_fraction in [0, 1], ema_decay in [0, 1)", o.lr));
        }
        let d = &self.dropout;
        let p = |x: f64| (0.0..=1.0).contains(&x);
        if !(p(d.text) && p(d.image) && p(d.both) && d.both <= d.text.min(d.image) && d.text + d.image - d.both <= 1.0) {
            return bad(format!("dropout: need 0 <= both <= min(text, image) and text + image - both <= 1, got {d:?}"));
        }
        let w = self.loss.region_weight;
        if !w.is_finite() || w < 0.0 {
            return bad(format!("loss.region_weight must be a finite number >= 0, got {w}"));
        }
        self.loss.timesteps.check().map_err(TrainError::Config)?;
        if w > 0.0 && !matches!(self.data, DataSource::World { .. }) {
            return bad("loss.region_weight needs the edit regions of world data; folder data has none (set it to 0)".into());
        }
        if !p(self.model.reward.null_dropout) {
            return bad("model.reward.null_dropout must be in [0, 1]".into());
        }
        let r = &self.run;
        if r.log_every == 0 || r.checkpoint_every == 0 || r.keep_checkpoints < 2 {
            return bad("run.log_every and run.checkpoint_every must be positive, run.keep_checkpoints at least 2".into());
        }
        if self.model.resolution < 8 {
            return bad(format!("model.resolution {} is too small", self.model.resolution));
        }
        if let Some(noise) = &self.noise {
            noise.validate()?;
        }
        if self.model.space == Space::Latent && self.init == Init::Scratch {
            return bad("init: latent-space training starts from an editor folder (from = \"editor\": an InstructPix2Pix or reward checkpoint folder) or a checkpoint; it supplies the frozen VAE and CLIP".into());
        }
        match (&self.model.unet, &self.init) {
            (Some(unet), _) => {
                unet.validate()?;
                let want = match self.model.space {
                    Space::Pixel => (6, 3),
                    Space::Latent => (8, 4),
                };
                if (unet.in_channels, unet.out_channels) != want {
                    return bad(format!(
                        "model.unet: {:?} diffusion needs in_channels = {} (noisy + source) and out_channels = {}, got {} and {}",
                        self.model.space, want.0, want.1, unet.in_channels, unet.out_channels
                    ));
                }
                if let TextSpec::World { dim, .. } = &self.model.text
                    && *dim != unet.cross_attention_dim
                {
                    return bad(format!("model.text.dim ({dim}) must equal model.unet.cross_attention_dim ({})", unet.cross_attention_dim));
                }
            }
            (None, Init::Scratch) => return bad("model.unet is required when training from scratch".into()),
            (None, _) => {}
        }
        if let TextSpec::World { dim, layers, heads, max_tokens } = &self.model.text
            && (*dim == 0 || *layers == 0 || *max_tokens == 0 || *heads == 0 || dim % heads != 0)
        {
            return bad("model.text: dim, layers, heads, max_tokens must be positive and heads must divide dim".into());
        }
        match (self.model.space, &self.model.text) {
            (Space::Pixel, TextSpec::Clip) => return bad("model.text: CLIP goes with latent diffusion (space = \"latent\")".into()),
            (Space::Latent, TextSpec::World { .. }) => {
                return bad("model.text: latent diffusion trains SD editors, whose prompt encoder is CLIP (kind = \"clip\")".into());
            }
            _ => {}
        }
        self.data.validate()?;
        Ok(())
    }

    /// The recipe with every default filled in, as TOML (written to the run folder; `--dry-run`).
    pub fn resolved_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(format!("cannot write the recipe as TOML: {e}")))
    }

    /// Examples per optimiser step.
    pub fn effective_batch(&self) -> usize {
        self.optim.batch_size * self.optim.grad_accum
    }
}

/// Reads, validates and resolves a recipe without training: what `--dry-run` prints.
pub fn dry_run(path: &Path) -> Result<String> {
    TrainRecipe::load(path)?.resolved_toml()
}
