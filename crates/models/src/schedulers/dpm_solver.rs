//! diffusers' `DPMSolverMultistepScheduler` as DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2;
//! data prediction, midpoint second-order update, first-order final step to sigma 0,
//! `lower_order_final` below 15 steps).

use burn::prelude::*;

use super::schedule::np_linspace;
use super::{alpha_of_sigma, axpby, check_index, interp, NoiseSchedule, NoiseScheduleConfig, Scheduler, TimestepSpacing};
use crate::{ModelError, Result};

#[derive(Debug, Clone)]
pub struct DPMSolverMultistepScheduler {
    schedule: NoiseSchedule,
    spacing: TimestepSpacing,
    timesteps: Vec<f64>,
    /// One sigma per timestep, then the final 0.
    sigmas: Vec<f64>,
    /// The previous step's data prediction (x0) and its step index.
    previous: Option<(usize, Tensor<4>)>,
}

/// `(alpha_t, sigma_t)` of the VP process at Karras sigma `s`.
fn alpha_sigma(s: f64) -> (f64, f64) {
    let alpha = 1.0 / (s * s + 1.0).sqrt();
    (alpha, s * alpha)
}

/// Half-log-SNR `lambda = log(alpha) - log(sigma)`.
fn lambda(s: f64) -> f64 {
    let (a, sg) = alpha_sigma(s);
    a.ln() - sg.ln()
}

impl DPMSolverMultistepScheduler {
    pub fn new(config: &NoiseScheduleConfig) -> Self {
        Self {
            schedule: NoiseSchedule::new(config),
            spacing: config.timestep_spacing.unwrap_or(TimestepSpacing::Linspace),
            timesteps: vec![],
            sigmas: vec![],
            previous: None,
        }
    }

    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }
}

impl Scheduler for DPMSolverMultistepScheduler {
    fn set_timesteps(&mut self, steps: usize) {
        let n = self.schedule.num_train_timesteps();
        // diffusers spaces steps + 1 points and drops the last.
        self.timesteps = match self.spacing {
            TimestepSpacing::Linspace => np_linspace(0.0, (n - 1) as f64, steps + 1)
                .into_iter()
                .rev()
                .take(steps)
                .map(f64::round_ties_even)
                .collect(),
            TimestepSpacing::Leading => {
                let ratio = n / (steps + 1);
                (0..=steps).rev().take(steps).map(|i| (i * ratio + self.schedule.config.steps_offset) as f64).collect()
            }
            TimestepSpacing::Trailing => self.schedule.spaced_timesteps(steps, TimestepSpacing::Trailing),
        };
        let train_sigmas = self.schedule.sigmas();
        self.sigmas = self.timesteps.iter().map(|&t| interp(t, &train_sigmas) as f32 as f64).collect();
        self.sigmas.push(0.0);
        self.previous = None;
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn alpha_cumprod(&self, i: usize) -> f64 {
        alpha_of_sigma(self.sigmas[i])
    }

    fn needs_noise(&self) -> bool {
        false
    }

    fn step(&mut self, eps: Tensor<4>, i: usize, sample: Tensor<4>, _noise: Option<Tensor<4>>) -> Result<Tensor<4>> {
        let n = self.timesteps.len();
        check_index(i, n)?;
        let previous = self.previous.take();
        if i > 0 && previous.as_ref().map(|(j, _)| *j) != Some(i - 1) {
            return Err(ModelError::Scheduler(format!("DPM-Solver++ steps must run in order; got step {i}")));
        }
        let (s0, s_next) = (self.sigmas[i], self.sigmas[i + 1]);
        let (a0, sg0) = alpha_sigma(s0);
        // Data prediction x0 = (x - sigma_t eps) / alpha_t.
        let x0 = axpby(1.0 / a0, sample.clone(), -sg0 / a0, eps);
        self.previous = Some((i, x0.clone()));

        let (a_t, sg_t) = alpha_sigma(s_next);
        if s_next == 0.0 {
            // The final step to sigma 0 lands on the data prediction.
            return Ok(x0);
        }
        let h = lambda(s_next) - lambda(s0);
        let phi = (-h).exp() - 1.0;
        let x = axpby(sg_t / sg0, sample, -a_t * phi, x0.clone());
        match previous {
            // Second order once a previous prediction exists (the final step, to sigma 0,
            // returned above: diffusers' lower_order_final with final_sigmas_type "zero").
            Some((_, m1)) => {
                let h0 = lambda(s0) - lambda(self.sigmas[i - 1]);
                let r0 = h0 / h;
                // D1 = (m0 - m1) / r0; midpoint update subtracts 0.5 alpha_t phi D1.
                let d1 = (x0 - m1) / r0;
                Ok(x - d1 * (0.5 * a_t * phi))
            }
            None => Ok(x),
        }
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }
}
