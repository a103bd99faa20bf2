//! Noise schedulers behind one trait (architecture.md rule 3: the UNet never sees the schedule).
//! Each follows the diffusers class of the same name; step noise is passed in, so tests and
//! seeded pipelines control it.

pub mod ddim;
pub mod dpm_solver;
pub mod euler_ancestral;
pub mod schedule;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use ddim::DDIMScheduler;
pub use dpm_solver::DPMSolverMultistepScheduler;
pub use euler_ancestral::EulerAncestralDiscreteScheduler;
pub use schedule::{per_row, BetaSchedule, NoiseSchedule, NoiseScheduleConfig, PredictionType, TimestepSpacing};

use crate::Result;

/// A sampler over a [`NoiseSchedule`]: `set_timesteps`, then for each step `i`
/// `scale_model_input(x, i)` -> UNet -> `step(eps, i, x, noise)`.
pub trait Scheduler {
    /// Chooses `num_inference_steps` timesteps and resets any multistep state.
    fn set_timesteps(&mut self, num_inference_steps: usize);
    /// The model timesteps of the current plan, first (noisiest) to last.
    fn timesteps(&self) -> &[f64];
    /// Standard deviation of the initial noise (multiply unit Gaussian noise by it); 1 for the
    /// variance-preserving samplers (DDIM, DPM-Solver).
    fn init_noise_sigma(&self) -> f64 {
        1.0
    }
    /// Scales the sample before the UNet at step `i` (identity for DDIM / DPM-Solver).
    fn scale_model_input(&self, sample: Tensor<4>, _i: usize) -> Tensor<4> {
        sample
    }
    /// The cumulative alpha of the variance-preserving process at step `i`.
    fn alpha_cumprod(&self, i: usize) -> f64;
    /// The noise implied by the UNet's (guided) output at step `i`, whatever the schedule's
    /// prediction type; `model_input` is [`scale_model_input`](Self::scale_model_input)'s result.
    fn epsilon(&self, model_output: Tensor<4>, i: usize, model_input: Tensor<4>) -> Tensor<4> {
        self.schedule().epsilon_from(model_output, model_input, self.alpha_cumprod(i))
    }
    /// Whether [`step`](Self::step) draws on the `noise` argument.
    fn needs_noise(&self) -> bool;
    /// Takes step `i` from `sample` given the UNet's noise prediction; `noise` (unit Gaussian,
    /// same shape) is required when [`needs_noise`](Self::needs_noise).
    fn step(&mut self, model_output: Tensor<4>, i: usize, sample: Tensor<4>, noise: Option<Tensor<4>>) -> Result<Tensor<4>>;
    /// The training schedule underneath.
    fn schedule(&self) -> &NoiseSchedule;
    /// Forward diffusion for training: `sqrt(a_t) x0 + sqrt(1 - a_t) noise`, one `t` per row.
    fn add_noise(&self, original: Tensor<4>, noise: Tensor<4>, timesteps: &[usize]) -> Tensor<4> {
        self.schedule().add_noise(original, noise, timesteps)
    }
}

/// The samplers a pipeline can choose (the paper uses Euler-Ancestral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    #[default]
    EulerA,
    Ddim,
    #[serde(rename = "dpm++")]
    DpmPlusPlus,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 3] = [SchedulerKind::EulerA, SchedulerKind::Ddim, SchedulerKind::DpmPlusPlus];

    /// The name the CLI and `editor.json` use.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::EulerA => "euler-a",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::DpmPlusPlus => "dpm++",
        }
    }
}

impl std::str::FromStr for SchedulerKind {
    type Err = crate::ModelError;

    fn from_str(s: &str) -> Result<Self> {
        SchedulerKind::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| {
            crate::ModelError::InvalidInput(format!("unknown scheduler {s:?}: expected one of euler-a, ddim, dpm++"))
        })
    }
}

impl SchedulerKind {
    /// Builds the sampler over `config`'s schedule (DDIM with eta 0).
    pub fn build(self, config: &NoiseScheduleConfig) -> Box<dyn Scheduler> {
        match self {
            SchedulerKind::EulerA => Box::new(EulerAncestralDiscreteScheduler::new(config)),
            SchedulerKind::Ddim => Box::new(DDIMScheduler::new(config, 0.0)),
            SchedulerKind::DpmPlusPlus => Box::new(DPMSolverMultistepScheduler::new(config)),
        }
    }
}

/// The cumulative alpha `1 / (sigma^2 + 1)` at Karras sigma `sigma`.
pub(crate) fn alpha_of_sigma(sigma: f64) -> f64 {
    1.0 / (sigma * sigma + 1.0)
}

/// `a * x + b * y`, the one tensor operation every step is made of.
pub(crate) fn axpby(a: f64, x: Tensor<4>, b: f64, y: Tensor<4>) -> Tensor<4> {
    x * a + y * b
}

/// Interpolates `values` (indexed 0..n) at fractional position `t`, as `np.interp`.
pub(crate) fn interp(t: f64, values: &[f64]) -> f64 {
    let last = values.len() - 1;
    if t <= 0.0 {
        return values[0];
    }
    if t >= last as f64 {
        return values[last];
    }
    let lo = t.floor() as usize;
    let frac = t - lo as f64;
    values[lo] + (values[lo + 1] - values[lo]) * frac
}

pub(crate) fn check_index(i: usize, n: usize) -> Result<()> {
    if i >= n {
        return Err(crate::ModelError::Scheduler(format!("step {i} is past the last of {n} steps (call set_timesteps first)")));
    }
    Ok(())
}
