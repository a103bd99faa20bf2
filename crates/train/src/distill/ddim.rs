//! DDIM steps with one timestep per batch row, for the targets of progressive distillation:
//! the teacher's two steps, and the clean image that would make one student step land where
//! they did (Salimans & Ho 2022, algorithm 2). Same maths as the pipeline's
//! [`DDIMScheduler`](rewardedit_models::schedulers::DDIMScheduler) (eta 0, clip_sample).

use burn::prelude::*;
use rewardedit_models::schedulers::{per_row, NoiseScheduleConfig, PredictionType};

/// `f` of each row's cumulative alpha, as `[B, 1, 1, 1]`.
fn coef(a: &[f64], f: impl Fn(f64) -> f64, device: &Device) -> Tensor<4> {
    per_row(a.iter().map(|&x| f(x)), device)
}

/// The noise `(x_t - sqrt(a) x0) / sqrt(1 - a)` that takes clean `x0` to `x_t` (per row).
pub fn implied_noise(x_t: Tensor<4>, x0: Tensor<4>, a: &[f64]) -> Tensor<4> {
    let device = x_t.device();
    (x_t - x0 * coef(a, f64::sqrt, &device)) / coef(a, |a| (1.0 - a).sqrt(), &device)
}

/// `(x0, eps)` implied by the model `output` for sample `x` at cumulative alphas `a` (per row).
pub fn split_prediction(config: &NoiseScheduleConfig, output: Tensor<4>, x: Tensor<4>, a: &[f64]) -> (Tensor<4>, Tensor<4>) {
    let device = x.device();
    let sa = coef(a, f64::sqrt, &device);
    let sb = coef(a, |a| (1.0 - a).sqrt(), &device);
    match config.prediction_type {
        PredictionType::Epsilon => ((x - output.clone() * sb) / sa, output),
        PredictionType::Sample => (output.clone(), implied_noise(x, output, a)),
        PredictionType::VPrediction => (x.clone() * sa.clone() - output.clone() * sb.clone(), x * sb + output * sa),
    }
}

/// One deterministic DDIM step per row from cumulative alpha `a` to `a_prev`, clamping the
/// predicted clean image when the schedule says `clip_sample` (as diffusers).
pub fn step(config: &NoiseScheduleConfig, output: Tensor<4>, x: Tensor<4>, a: &[f64], a_prev: &[f64]) -> Tensor<4> {
    let device = x.device();
    let (x0, eps) = split_prediction(config, output, x, a);
    let x0 = if config.clip_sample {
        let r = config.clip_sample_range;
        x0.clamp(-r, r)
    } else {
        x0
    };
    x0 * coef(a_prev, f64::sqrt, &device) + eps * coef(a_prev, |a| (1.0 - a).sqrt(), &device)
}

/// The clean image `x0` for which one DDIM step from `x_t` (alpha `a`) lands on `x_next`
/// (alpha `a_next`): `x_next = sqrt(a_next) x0 + sqrt(1 - a_next) (x_t - sqrt(a) x0) / sqrt(1 - a)`.
pub fn one_step_clean_target(x_t: Tensor<4>, x_next: Tensor<4>, a: &[f64], a_next: &[f64]) -> Tensor<4> {
    let device = x_t.device();
    let ratio: Vec<f64> = a.iter().zip(a_next).map(|(a, n)| ((1.0 - n) / (1.0 - a)).sqrt()).collect();
    let denom: Vec<f64> = a.iter().zip(&ratio).zip(a_next).map(|((a, r), n)| n.sqrt() - r * a.sqrt()).collect();
    (x_next - x_t * per_row(ratio, &device)) / per_row(denom, &device)
}

#[cfg(test)]
mod tests {
    use rewardedit_models::schedulers::NoiseSchedule;

    use super::*;

    #[test]
    fn a_step_with_the_one_step_target_lands_on_the_given_point() {
        let device = Device::flex();
        let x = |seed: u32| {
            let v: Vec<f32> = (0..32).map(|i| (((i * 37 + seed * 11) % 17) as f32 / 8.0) - 1.0).collect();
            Tensor::<4>::from_data(TensorData::new(v, [2, 1, 4, 4]), &device)
        };
        for ty in [PredictionType::Epsilon, PredictionType::Sample, PredictionType::VPrediction] {
            let config = NoiseScheduleConfig { prediction_type: ty, ..Default::default() };
            let schedule = NoiseSchedule::new(&config);
            let ts = [700usize, 200];
            let a: Vec<f64> = ts.iter().map(|&t| schedule.alphas_cumprod[t]).collect();
            let a_next: Vec<f64> = ts.iter().map(|&t| schedule.alphas_cumprod[t - 150]).collect();
            let (x_t, x_next) = (x(1), x(2));
            let x0 = one_step_clean_target(x_t.clone(), x_next.clone(), &a, &a_next);
            let eps = implied_noise(x_t.clone(), x0.clone(), &a);
            let output = schedule.training_target(x0, eps, &ts);
            let landed = step(&config, output, x_t, &a, &a_next);
            let err: f32 = (landed - x_next).abs().max().into_scalar();
            assert!(err < 1e-4, "{ty:?}: {err}");
        }
    }
}
