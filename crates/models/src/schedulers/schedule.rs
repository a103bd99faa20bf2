//! The training noise schedule (DDPM, Ho et al. 2020) shared by every sampler, with diffusers'
//! `scheduler_config.json` field names and Stable Diffusion's defaults.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// How betas run from `beta_start` to `beta_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Linear in beta.
    Linear,
    /// Linear in sqrt(beta) (Stable Diffusion).
    ScaledLinear,
}

/// How inference timesteps are spread (diffusers' `timestep_spacing`; Table 2 of
/// "Common Diffusion Noise Schedules and Sample Steps are Flawed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSpacing {
    /// Evenly from the last training step down to 0 (fractional timesteps allowed).
    Linspace,
    /// Multiples of `N / steps` from 0, plus `steps_offset`.
    Leading,
    /// Multiples of `N / steps` counted down from `N`, minus 1.
    Trailing,
}

fn d_n() -> usize { 1000 }
fn d_start() -> f64 { 0.00085 }
fn d_end() -> f64 { 0.012 }
fn d_sched() -> BetaSchedule { BetaSchedule::ScaledLinear }
fn d_offset() -> usize { 1 }

/// What the UNet predicts (diffusers' `prediction_type`). The samplers step on epsilon; the
/// other two are converted at each step ([`NoiseSchedule::epsilon_from`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionType {
    /// The added noise (SD 1.5, InstructPix2Pix).
    #[default]
    Epsilon,
    /// The clean sample x0.
    Sample,
    /// `v = sqrt(a) eps - sqrt(1 - a) x0` (Salimans & Ho 2022): a unit-scale target at every
    /// noise level, so a small model's error is not amplified at the noisiest steps, and the
    /// one progressive distillation needs.
    VPrediction,
}

/// The schedule's settings, as in diffusers' `scheduler/scheduler_config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseScheduleConfig {
    /// Training diffusion steps.
    #[serde(default = "d_n")]
    pub num_train_timesteps: usize,
    /// First beta (noise variance added at step 0).
    #[serde(default = "d_start")]
    pub beta_start: f64,
    /// Last beta.
    #[serde(default = "d_end")]
    pub beta_end: f64,
    /// Interpolation between `beta_start` and `beta_end`.
    #[serde(default = "d_sched")]
    pub beta_schedule: BetaSchedule,
    /// Added to `leading`-spaced timesteps (SD 1.5: 1).
    #[serde(default = "d_offset")]
    pub steps_offset: usize,
    /// Spacing of inference timesteps; `None` takes each sampler's diffusers default
    /// (Euler-A and DPM-Solver: linspace; DDIM: leading).
    #[serde(default)]
    pub timestep_spacing: Option<TimestepSpacing>,
    /// What the UNet predicts.
    #[serde(default)]
    pub prediction_type: PredictionType,
    /// Must be null: explicit beta lists are not read.
    #[serde(default)]
    pub trained_betas: Option<Vec<f64>>,
    /// DDIM clamps its predicted clean sample to `[-clip_sample_range, clip_sample_range]`
    /// each step (diffusers' `clip_sample`). Off for latent space (SD 1.5's config sets false);
    /// pixel-space editors want it: at the noisiest steps a small epsilon error is a huge
    /// error in the implied image, and the clamp keeps the sampler on the data's range.
    #[serde(default)]
    pub clip_sample: bool,
    /// Bound of `clip_sample` (images in [-1, 1]: 1).
    #[serde(default = "d_clip_range")]
    pub clip_sample_range: f64,
}

fn d_clip_range() -> f64 { 1.0 }

impl NoiseScheduleConfig {
    /// Parses diffusers' `scheduler_config.json` (any scheduler class: the schedule fields are
    /// shared; the sampler is chosen separately) and validates it.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(json).map_err(|e| ModelError::InvalidConfig(format!("scheduler config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates `scheduler/scheduler_config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::error::read_config_file(path.as_ref(), Self::from_json_str)
    }

    /// Rejects schedules the samplers here would get wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.num_train_timesteps < 2 {
            return bad(format!("num_train_timesteps = {} (need at least 2)", self.num_train_timesteps));
        }
        if !(0.0 < self.beta_start && self.beta_start < self.beta_end && self.beta_end < 1.0) {
            return bad(format!("betas must satisfy 0 < beta_start < beta_end < 1, got {} and {}", self.beta_start, self.beta_end));
        }
        if !(self.clip_sample_range.is_finite() && self.clip_sample_range > 0.0) {
            return bad(format!("clip_sample_range = {} must be a finite number > 0", self.clip_sample_range));
        }
        if self.trained_betas.is_some() {
            return bad("trained_betas is not supported".into());
        }
        Ok(())
    }
}

impl Default for NoiseScheduleConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

/// `alphas_cumprod` of the schedule, computed in f32 as PyTorch does (diffusers builds it with
/// `torch.linspace(..., dtype=float32) ** 2` and `torch.cumprod`), kept as f64 for the samplers.
#[derive(Debug, Clone)]
pub struct NoiseSchedule {
    pub config: NoiseScheduleConfig,
    /// Cumulative product of `1 - beta`, one per training step.
    pub alphas_cumprod: Vec<f64>,
}

/// `torch.linspace` in f32: the same step, filled from both ends.
fn linspace_f32(start: f32, end: f32, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    let half = n / 2;
    (0..n)
        .map(|i| if i < half { start + step * i as f32 } else { end - step * (n - i - 1) as f32 })
        .collect()
}

/// `np.linspace(start, stop, num)` bit for bit: `i * step + start`, the last point exactly `stop`
/// (rounding the points later depends on it: 15 * 33.3 is 499.49999...).
pub(crate) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// One coefficient per batch row as a `[B, 1, 1, 1]` tensor (to scale `[B, C, H, W]` samples).
pub fn per_row(values: impl IntoIterator<Item = f64>, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = values.into_iter().map(|x| x as f32).collect();
    let b = v.len();
    Tensor::<1>::from_data(TensorData::new(v, [b]), device).reshape([b, 1, 1, 1])
}

impl NoiseSchedule {
    pub fn new(config: &NoiseScheduleConfig) -> Self {
        let n = config.num_train_timesteps;
        let betas: Vec<f32> = match config.beta_schedule {
            BetaSchedule::Linear => linspace_f32(config.beta_start as f32, config.beta_end as f32, n),
            BetaSchedule::ScaledLinear => linspace_f32(config.beta_start.sqrt() as f32, config.beta_end.sqrt() as f32, n)
                .into_iter()
                .map(|b| b * b)
                .collect(),
        };
        // torch's CPU cumprod accumulates floats in double and stores float.
        let mut acc = 1.0f64;
        let alphas_cumprod = betas
            .iter()
            .map(|&b| {
                acc *= (1.0f32 - b) as f64;
                acc as f32 as f64
            })
            .collect();
        Self { config: config.clone(), alphas_cumprod }
    }

    pub fn num_train_timesteps(&self) -> usize {
        self.config.num_train_timesteps
    }

    /// Karras sigmas `sqrt((1 - a) / a)` per training step, in f32 as diffusers computes them.
    pub fn sigmas(&self) -> Vec<f64> {
        self.alphas_cumprod
            .iter()
            .map(|&a| {
                let a = a as f32;
                ((1.0 - a) / a).sqrt() as f64
            })
            .collect()
    }

    /// `f(alphas_cumprod[t])` for each row's timestep, as `[B, 1, 1, 1]`.
    fn alpha_coef(&self, timesteps: &[usize], f: impl Fn(f64) -> f64, device: &Device) -> Tensor<4> {
        per_row(timesteps.iter().map(|&t| f(self.alphas_cumprod[t])), device)
    }

    /// Forward diffusion `sqrt(a_t) x0 + sqrt(1 - a_t) noise` with one timestep per batch row.
    pub fn add_noise(&self, original: Tensor<4>, noise: Tensor<4>, timesteps: &[usize]) -> Tensor<4> {
        let [b, _, _, _] = original.dims();
        assert_eq!(timesteps.len(), b, "one timestep per batch row");
        let device = original.device();
        original * self.alpha_coef(timesteps, f64::sqrt, &device) + noise * self.alpha_coef(timesteps, |a| (1.0 - a).sqrt(), &device)
    }

    /// What the UNet is trained to predict for `original` noised with `noise` at `timesteps`.
    pub fn training_target(&self, original: Tensor<4>, noise: Tensor<4>, timesteps: &[usize]) -> Tensor<4> {
        match self.config.prediction_type {
            PredictionType::Epsilon => noise,
            PredictionType::Sample => original,
            PredictionType::VPrediction => {
                let device = original.device();
                noise * self.alpha_coef(timesteps, f64::sqrt, &device) - original * self.alpha_coef(timesteps, |a| (1.0 - a).sqrt(), &device)
            }
        }
    }

    /// The noise implied by a model output at cumulative alpha `alpha` for the variance-preserving
    /// model input `input` (linear in the output, so guidance may combine outputs first).
    pub fn epsilon_from(&self, output: Tensor<4>, input: Tensor<4>, alpha: f64) -> Tensor<4> {
        match self.config.prediction_type {
            PredictionType::Epsilon => output,
            // eps = (x - sqrt(a) x0) / sqrt(1 - a)
            PredictionType::Sample => (input - output * alpha.sqrt()) / (1.0 - alpha).sqrt(),
            // eps = sqrt(1 - a) x + sqrt(a) v
            PredictionType::VPrediction => input * (1.0 - alpha).sqrt() + output * alpha.sqrt(),
        }
    }

    /// Inference timesteps for `steps` steps with `spacing` (integer-valued except linspace).
    pub fn spaced_timesteps(&self, steps: usize, spacing: TimestepSpacing) -> Vec<f64> {
        let n = self.num_train_timesteps();
        match spacing {
            TimestepSpacing::Linspace => np_linspace(0.0, (n - 1) as f64, steps).into_iter().rev().collect(),
            TimestepSpacing::Leading => {
                let ratio = n / steps;
                (0..steps).rev().map(|i| (i * ratio + self.config.steps_offset) as f64).collect()
            }
            TimestepSpacing::Trailing => {
                let ratio = n as f64 / steps as f64;
                let mut t = Vec::with_capacity(steps);
                let mut x = n as f64;
                while x > 0.0 && t.len() < steps {
                    t.push(x.round_ties_even() - 1.0);
                    x -= ratio;
                }
                t
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruct_pix2pix_scheduler_config_parses() {
        // timbrooks/instruct-pix2pix scheduler/scheduler_config.json.
        let json = r#"{"_class_name": "EulerAncestralDiscreteScheduler", "_diffusers_version": "0.10.0",
          "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
          "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1, "trained_betas": null}"#;
        assert_eq!(NoiseScheduleConfig::from_json_str(json).unwrap(), NoiseScheduleConfig::default());
        let leading = NoiseScheduleConfig::from_json_str(r#"{"timestep_spacing": "leading"}"#).unwrap();
        assert_eq!(leading.timestep_spacing, Some(TimestepSpacing::Leading));
    }

    #[test]
    fn every_prediction_type_converts_back_to_the_noise() {
        let device = Device::flex();
        let x0 = Tensor::<4>::from_data(TensorData::new((0..8).map(|i| i as f32 / 4.0 - 1.0).collect::<Vec<_>>(), [2, 1, 2, 2]), &device);
        let eps = Tensor::<4>::from_data(TensorData::new((0..8).map(|i| ((i * 7) % 5) as f32 / 2.0 - 1.0).collect::<Vec<_>>(), [2, 1, 2, 2]), &device);
        for (name, ty) in [("epsilon", PredictionType::Epsilon), ("sample", PredictionType::Sample), ("v_prediction", PredictionType::VPrediction)] {
            let cfg = NoiseScheduleConfig::from_json_str(&format!(r#"{{"prediction_type": "{name}"}}"#)).unwrap();
            assert_eq!(cfg.prediction_type, ty);
            let schedule = NoiseSchedule::new(&cfg);
            for t in [10usize, 500, 990] {
                let x_t = schedule.add_noise(x0.clone(), eps.clone(), &[t, t]);
                let target = schedule.training_target(x0.clone(), eps.clone(), &[t, t]);
                let back = schedule.epsilon_from(target, x_t, schedule.alphas_cumprod[t]);
                let err: f32 = (back - eps.clone()).abs().max().into_scalar();
                assert!(err < 1e-3, "{name} at t={t}: {err}");
            }
        }
    }

    #[test]
    fn rejects_what_the_samplers_do_not_implement() {
        let err = NoiseScheduleConfig::from_json_str(r#"{"prediction_type": "flow"}"#).unwrap_err();
        assert!(err.to_string().contains("flow"), "{err}");
        assert!(NoiseScheduleConfig::from_json_str(r#"{"beta_schedule": "squaredcos_cap_v2"}"#).is_err());
        assert!(NoiseScheduleConfig::from_json_str(r#"{"beta_start": 0.02}"#).is_err());
        assert!(NoiseScheduleConfig::from_json_str(r#"{"trained_betas": [0.1, 0.2]}"#).is_err());
    }
}
