//! The distillation losses, each over one micro-batch drawn exactly as teacher training draws
//! it ([`NoisedBatch`]), the teacher run without gradients.

use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rewardedit_models::schedulers::{NoiseSchedule, NoiseScheduleConfig, SchedulerKind};

use super::ddim;
use super::recipe::CompressConfig;
use crate::batch::{mse, timestep_values, Conditions, NoisedBatch};
use crate::data::TrainExample;
use crate::editor::{Editor, EditorConfig};
use crate::frozen::FrozenEncoders;
use crate::recipe::DropoutConfig;
use crate::timesteps::TimestepSampling;
use crate::Result;

/// A frozen model the student learns from.
pub struct Teacher<'a> {
    pub editor: &'a Editor,
    pub config: &'a EditorConfig,
    /// An SD teacher's VAE and CLIP, which its students share (they read the same inputs).
    pub frozen: Option<&'a FrozenEncoders>,
}

impl Teacher<'_> {
    fn predict(&self, c: &Conditions, x: Tensor<4>, t: &[f32], device: &Device) -> Result<(Tensor<4>, Vec<Tensor<4>>)> {
        self.editor.predict(self.config, c, x.without_autodiff(), t, device)
    }
}

/// Attention transfer (Zagoruyko & Komodakis 2017): each feature map becomes its per-pixel
/// energy `mean_c F^2`, L2-normalised per row, so maps of different widths compare.
fn attention_map(f: Tensor<4>) -> Tensor<2> {
    let [b, _, h, w] = f.dims();
    let energy = (f.clone() * f).mean_dim(1).reshape([b, h * w]);
    let norm = (energy.clone() * energy.clone()).sum_dim(1).sqrt().add_scalar(1e-8);
    energy / norm
}

/// Mean attention-transfer distance over the stage pairs of equal spatial size.
pub fn feature_loss(student: &[Tensor<4>], teacher: &[Tensor<4>]) -> Option<Tensor<1>> {
    let pairs: Vec<Tensor<1>> = student
        .iter()
        .zip(teacher)
        .filter(|(s, t)| s.dims()[2..] == t.dims()[2..])
        .map(|(s, t)| {
            let d = attention_map(s.clone()) - attention_map(t.clone());
            (d.clone() * d).sum_dim(1).mean()
        })
        .collect();
    let n = pairs.len();
    (n > 0).then(|| Tensor::cat(pairs, 0).sum() / n as f32)
}

/// The training timesteps a sampler visits with `steps` steps, noisiest first, each rounded to
/// the nearest training timestep (Euler-A's linspace plan has fractional ones).
pub fn sampler_timesteps(kind: SchedulerKind, noise: &NoiseScheduleConfig, steps: usize) -> Vec<usize> {
    let mut scheduler = kind.build(noise);
    scheduler.set_timesteps(steps);
    let last = scheduler.schedule().num_train_timesteps() - 1;
    let mut ts: Vec<usize> = scheduler.timesteps().iter().map(|&t| (t.round().max(0.0) as usize).min(last)).collect();
    ts.dedup();
    ts
}

/// Phase 1: output distillation + attention transfer + the ordinary denoising loss, at uniform
/// timesteps or, where `at` is given, at one of those per row.
#[allow(clippy::too_many_arguments)]
pub fn compress_loss(
    student: &Editor,
    config: &EditorConfig,
    teacher: &Teacher,
    weights: &CompressConfig,
    at: Option<&[usize]>,
    schedule: &NoiseSchedule,
    dropout: &DropoutConfig,
    batch: &[TrainExample],
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor<1>> {
    let mut pick_t: Box<dyn FnMut(&mut ChaCha8Rng) -> usize + '_> = match at {
        Some(ts) => Box::new(move |rng: &mut ChaCha8Rng| ts[rng.random_range(0..ts.len())]),
        None => Box::new(TimestepSampling::Uniform.sampler(schedule.num_train_timesteps())),
    };
    let nb = NoisedBatch::draw(batch, schedule, dropout, config.reward.is_some(), teacher.frozen, &mut *pick_t, rng, device)?;
    let t = timestep_values(&nb.timesteps);
    let (t_out, t_feat) = teacher.predict(&nb.conditions.without_autodiff(), nb.noisy.clone(), &t, device)?;
    let target = schedule.training_target(nb.edited.clone(), nb.noise.clone(), &nb.timesteps);
    let (s_out, s_feat) = student.predict(config, &nb.conditions, nb.noisy, &t, device)?;
    let mut loss = mse(s_out.clone(), t_out) * weights.output as f32 + mse(s_out, target) * weights.denoise as f32;
    if weights.feature > 0.0
        && let Some(f) = feature_loss(&s_feat, &t_feat)
    {
        loss = loss + f * weights.feature as f32;
    }
    Ok(loss)
}

/// The timesteps of one progressive round: the teacher's `2N` trailing DDIM timesteps
/// (student step `i` starts at `teacher[2i]` and ends at `teacher[2i + 2]`, or at the final
/// alpha after the last).
pub struct RoundPlan {
    pub teacher_timesteps: Vec<usize>,
}

impl RoundPlan {
    pub fn new(schedule: &NoiseSchedule, student_steps: usize) -> Self {
        use rewardedit_models::schedulers::TimestepSpacing;
        let ts = schedule.spaced_timesteps(2 * student_steps, TimestepSpacing::Trailing);
        RoundPlan { teacher_timesteps: ts.into_iter().map(|t| t as usize).collect() }
    }

    pub fn student_steps(&self) -> usize {
        self.teacher_timesteps.len() / 2
    }

    /// Cumulative alpha after teacher step `j` (DDIM's `set_alpha_to_one = false`: past the
    /// last step, the schedule's first alpha).
    fn alpha_after(&self, schedule: &NoiseSchedule, j: usize) -> f64 {
        self.teacher_timesteps.get(j + 1).map_or(schedule.alphas_cumprod[0], |&t| schedule.alphas_cumprod[t])
    }
}

/// Phase 2, one round: from `x_t` at a student timestep the teacher takes two DDIM steps; the
/// student's target is the prediction whose single DDIM step lands on the same point.
#[allow(clippy::too_many_arguments)]
pub fn progressive_loss(
    student: &Editor,
    config: &EditorConfig,
    teacher: &Teacher,
    plan: &RoundPlan,
    schedule: &NoiseSchedule,
    dropout: &DropoutConfig,
    batch: &[TrainExample],
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor<1>> {
    let n = plan.student_steps();
    let mut starts = Vec::with_capacity(batch.len());
    let mut pick = |rng: &mut ChaCha8Rng| {
        let j = 2 * rng.random_range(0..n);
        starts.push(j);
        plan.teacher_timesteps[j]
    };
    let nb = NoisedBatch::draw(batch, schedule, dropout, config.reward.is_some(), teacher.frozen, &mut pick, rng, device)?;
    let alpha = |js: &[usize], f: &dyn Fn(usize) -> f64| js.iter().map(|&j| f(j)).collect::<Vec<f64>>();
    let a = alpha(&starts, &|j| schedule.alphas_cumprod[plan.teacher_timesteps[j]]);
    let a_mid = alpha(&starts, &|j| plan.alpha_after(schedule, j));
    let a_next = alpha(&starts, &|j| plan.alpha_after(schedule, j + 1));
    let t_mid: Vec<f32> = starts.iter().map(|&j| plan.teacher_timesteps[j + 1] as f32).collect();
    let t = timestep_values(&nb.timesteps);

    let teacher_conditions = nb.conditions.without_autodiff();
    let x_t = nb.noisy.clone().without_autodiff();
    let (out1, _) = teacher.predict(&teacher_conditions, x_t.clone(), &t, device)?;
    let x_mid = ddim::step(&teacher.config.noise, out1, x_t.clone(), &a, &a_mid);
    let (out2, _) = teacher.predict(&teacher_conditions, x_mid.clone(), &t_mid, device)?;
    let x_next = ddim::step(&teacher.config.noise, out2, x_mid, &a_mid, &a_next);

    let x0 = ddim::one_step_clean_target(x_t.clone(), x_next, &a, &a_next);
    let eps = ddim::implied_noise(x_t, x0.clone(), &a);
    let target = schedule.training_target(x0, eps, &nb.timesteps);
    let (pred, _) = student.predict(config, &nb.conditions, nb.noisy, &t, device)?;
    Ok(mse(pred, target))
}
