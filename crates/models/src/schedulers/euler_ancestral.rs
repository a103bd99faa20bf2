//! diffusers' `EulerAncestralDiscreteScheduler` (epsilon prediction): Euler steps in sigma space
//! with ancestral noise (Karras et al. 2022, k-diffusion `sample_euler_ancestral`). The paper's
//! sampler (paper-notes.md, "Inference").

use burn::prelude::*;

use super::{alpha_of_sigma, axpby, check_index, interp, NoiseSchedule, NoiseScheduleConfig, Scheduler, TimestepSpacing};
use crate::{ModelError, Result};

#[derive(Debug, Clone)]
pub struct EulerAncestralDiscreteScheduler {
    schedule: NoiseSchedule,
    spacing: TimestepSpacing,
    timesteps: Vec<f64>,
    /// One sigma per timestep, then a final 0.
    sigmas: Vec<f64>,
}

impl EulerAncestralDiscreteScheduler {
    pub fn new(config: &NoiseScheduleConfig) -> Self {
        Self {
            schedule: NoiseSchedule::new(config),
            spacing: config.timestep_spacing.unwrap_or(TimestepSpacing::Linspace),
            timesteps: vec![],
            sigmas: vec![],
        }
    }

    /// Sigmas of the current plan (one per step, then 0).
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }
}

impl Scheduler for EulerAncestralDiscreteScheduler {
    fn set_timesteps(&mut self, steps: usize) {
        let timesteps = self.schedule.spaced_timesteps(steps, self.spacing);
        let train_sigmas = self.schedule.sigmas();
        // diffusers interpolates at the f64 timesteps, then stores sigmas and timesteps as f32.
        self.sigmas = timesteps.iter().map(|&t| interp(t, &train_sigmas) as f32 as f64).collect();
        self.timesteps = timesteps.iter().map(|&t| t as f32 as f64).collect();
        self.sigmas.push(0.0);
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f64 {
        let max = self.sigmas.iter().cloned().fold(0.0, f64::max);
        match self.spacing {
            TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
            TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
        }
    }

    fn scale_model_input(&self, sample: Tensor<4>, i: usize) -> Tensor<4> {
        let sigma = self.sigmas[i];
        sample / (sigma * sigma + 1.0).sqrt()
    }

    fn alpha_cumprod(&self, i: usize) -> f64 {
        alpha_of_sigma(self.sigmas[i])
    }

    fn needs_noise(&self) -> bool {
        true
    }

    fn step(&mut self, eps: Tensor<4>, i: usize, sample: Tensor<4>, noise: Option<Tensor<4>>) -> Result<Tensor<4>> {
        check_index(i, self.timesteps.len())?;
        let (sigma, sigma_to) = (self.sigmas[i], self.sigmas[i + 1]);
        let sigma_up = (sigma_to * sigma_to * (sigma * sigma - sigma_to * sigma_to) / (sigma * sigma)).sqrt();
        let sigma_down = (sigma_to * sigma_to - sigma_up * sigma_up).sqrt();
        // x0 = x - sigma eps; derivative = (x - x0) / sigma = eps; x' = x + eps (sigma_down - sigma).
        let prev = axpby(1.0, sample, sigma_down - sigma, eps);
        if sigma_up == 0.0 {
            return Ok(prev);
        }
        let noise = noise.ok_or_else(|| ModelError::Scheduler(format!("Euler-Ancestral step {i} needs noise")))?;
        Ok(prev + noise * sigma_up)
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }
}
