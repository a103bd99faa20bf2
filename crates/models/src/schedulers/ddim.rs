//! diffusers' `DDIMScheduler` (Song et al. 2021, eq. 12; epsilon prediction,
//! `set_alpha_to_one = false` as Stable Diffusion), with its optional `clip_sample`.

use burn::prelude::*;

use super::{axpby, check_index, NoiseSchedule, NoiseScheduleConfig, Scheduler, TimestepSpacing};
use crate::{ModelError, Result};

#[derive(Debug, Clone)]
pub struct DDIMScheduler {
    schedule: NoiseSchedule,
    spacing: TimestepSpacing,
    /// Stochasticity: 0 is deterministic DDIM, 1 is DDPM-like.
    pub eta: f64,
    timesteps: Vec<f64>,
    /// Timestep distance between steps (diffusers: `N // steps`, whatever the spacing).
    stride: i64,
}

impl DDIMScheduler {
    pub fn new(config: &NoiseScheduleConfig, eta: f64) -> Self {
        Self {
            schedule: NoiseSchedule::new(config),
            spacing: config.timestep_spacing.unwrap_or(TimestepSpacing::Leading),
            eta,
            timesteps: vec![],
            stride: 1,
        }
    }

    fn alpha_at(&self, t: i64) -> f64 {
        // With set_alpha_to_one = false the final "previous" alpha is alphas_cumprod[0].
        self.schedule.alphas_cumprod[t.max(0) as usize]
    }
}

impl Scheduler for DDIMScheduler {
    fn set_timesteps(&mut self, steps: usize) {
        self.timesteps = self.schedule.spaced_timesteps(steps, self.spacing).into_iter().map(f64::round_ties_even).collect();
        self.stride = (self.schedule.num_train_timesteps() / steps) as i64;
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn alpha_cumprod(&self, i: usize) -> f64 {
        self.alpha_at(self.timesteps[i] as i64)
    }

    fn needs_noise(&self) -> bool {
        self.eta > 0.0
    }

    fn step(&mut self, eps: Tensor<4>, i: usize, sample: Tensor<4>, noise: Option<Tensor<4>>) -> Result<Tensor<4>> {
        check_index(i, self.timesteps.len())?;
        let t = self.timesteps[i] as i64;
        let a_t = self.alpha_at(t);
        let a_prev = self.alpha_at(t - self.stride);
        let variance = (1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev);
        let std = self.eta * variance.sqrt();
        // x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t); x' = sqrt(a_prev) x0 + sqrt(1 - a_prev - std^2) eps.
        let config = &self.schedule.config;
        let prev = if config.clip_sample {
            // diffusers (use_clipped_model_output = false): clamp x0, keep the model's epsilon.
            let r = config.clip_sample_range;
            let x0 = axpby(1.0 / a_t.sqrt(), sample, -((1.0 - a_t) / a_t).sqrt(), eps.clone()).clamp(-r, r);
            axpby(a_prev.sqrt(), x0, (1.0 - a_prev - std * std).sqrt(), eps)
        } else {
            let c_x = (a_prev / a_t).sqrt();
            let c_eps = (1.0 - a_prev - std * std).sqrt() - (a_prev * (1.0 - a_t) / a_t).sqrt();
            axpby(c_x, sample, c_eps, eps)
        };
        if std == 0.0 {
            return Ok(prev);
        }
        let noise = noise.ok_or_else(|| ModelError::Scheduler(format!("DDIM step {i} with eta > 0 needs noise")))?;
        Ok(prev + noise * std)
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }
}
