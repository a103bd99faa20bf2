//! Each scheduler's timesteps, sigmas and steps against diffusers' traces
//! (tests/golden/schedulers.safetensors, made by scripts/make_golden.py).

mod common;

use burn::prelude::*;
use common::{assert_close, to_vec, Golden};
use rewardedit_models::schedulers::{
    DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, NoiseSchedule, NoiseScheduleConfig,
    PredictionType, Scheduler, TimestepSpacing,
};

const TOL: f64 = 1e-4;

/// Replays trace `name` step by step, each step starting from diffusers' previous sample.
fn check_trace(name: &str, scheduler: &mut dyn Scheduler, steps: usize) {
    let device = Device::flex();
    let g = Golden::open("schedulers.safetensors");
    let key = |k: &str| format!("{name}.{k}");
    scheduler.set_timesteps(steps);
    assert_close(&key("timesteps"), scheduler.timesteps(), &g.vec(&key("timesteps")), 1e-9);
    assert_close(&key("init_noise_sigma"), &[scheduler.init_noise_sigma()], &g.vec(&key("init_noise_sigma")), TOL);
    let mut sample: Tensor<4> = g.tensor(&key("sample"), &device);
    for i in 0..steps {
        let what = format!("{name} step {i}");
        let scaled = scheduler.scale_model_input(sample.clone(), i);
        let want_scaled: Tensor<4> = g.item(&key("scaled"), i, &device);
        assert_close(&format!("{what} scaled input"), &to_vec(scaled.clone()), &to_vec(want_scaled), TOL);
        // The identity for epsilon models; v and x0 outputs become the implied noise.
        let eps = scheduler.epsilon(g.item(&key("model_output"), i, &device), i, scaled);
        let noise = g.item(&key("noise"), i, &device);
        let prev = scheduler.step(eps, i, sample, Some(noise)).unwrap();
        let want: Tensor<4> = g.item(&key("prev"), i, &device);
        assert_close(&what, &to_vec(prev), &to_vec(want.clone()), TOL);
        sample = want;
    }
}

#[test]
fn euler_ancestral_linspace_matches_diffusers() {
    let mut s = EulerAncestralDiscreteScheduler::new(&NoiseScheduleConfig::default());
    check_trace("euler_a", &mut s, 10);
    let g = Golden::open("schedulers.safetensors");
    assert_close("euler_a sigmas", s.sigmas(), &g.vec("euler_a.sigmas"), TOL);
}

#[test]
fn euler_ancestral_leading_matches_diffusers() {
    let cfg = NoiseScheduleConfig { timestep_spacing: Some(TimestepSpacing::Leading), ..Default::default() };
    let mut s = EulerAncestralDiscreteScheduler::new(&cfg);
    check_trace("euler_a_leading", &mut s, 7);
    let g = Golden::open("schedulers.safetensors");
    assert_close("euler_a_leading sigmas", s.sigmas(), &g.vec("euler_a_leading.sigmas"), TOL);
}

#[test]
fn ddim_matches_diffusers() {
    check_trace("ddim", &mut DDIMScheduler::new(&NoiseScheduleConfig::default(), 0.0), 10);
}

#[test]
fn ddim_with_clip_sample_matches_diffusers() {
    let cfg = NoiseScheduleConfig { clip_sample: true, ..Default::default() };
    check_trace("ddim_clip", &mut DDIMScheduler::new(&cfg, 0.0), 10);
}

fn v_prediction() -> NoiseScheduleConfig {
    NoiseScheduleConfig { prediction_type: PredictionType::VPrediction, ..Default::default() }
}

#[test]
fn v_prediction_matches_diffusers_in_every_sampler() {
    check_trace("euler_a_v", &mut EulerAncestralDiscreteScheduler::new(&v_prediction()), 10);
    let clip = NoiseScheduleConfig { clip_sample: true, ..v_prediction() };
    check_trace("ddim_clip_v", &mut DDIMScheduler::new(&clip, 0.0), 10);
    check_trace("dpmpp_2m_v", &mut DPMSolverMultistepScheduler::new(&v_prediction()), 10);
}

#[test]
fn ddim_with_eta_one_uses_the_given_noise_like_diffusers() {
    check_trace("ddim_eta1", &mut DDIMScheduler::new(&NoiseScheduleConfig::default(), 1.0), 8);
}

#[test]
fn dpm_solver_pp_2m_matches_diffusers() {
    let mut s = DPMSolverMultistepScheduler::new(&NoiseScheduleConfig::default());
    check_trace("dpmpp_2m", &mut s, 10);
    let g = Golden::open("schedulers.safetensors");
    assert_close("dpmpp_2m sigmas", s.sigmas(), &g.vec("dpmpp_2m.sigmas"), TOL);
}

#[test]
fn dpm_solver_pp_2m_30_steps_matches_diffusers() {
    check_trace("dpmpp_2m_30", &mut DPMSolverMultistepScheduler::new(&NoiseScheduleConfig::default()), 30);
}

#[test]
fn dpm_solver_rejects_out_of_order_steps() {
    let device = Device::flex();
    let mut s = DPMSolverMultistepScheduler::new(&NoiseScheduleConfig::default());
    s.set_timesteps(10);
    let x = Tensor::<4>::zeros([1, 4, 2, 2], &device);
    assert!(s.step(x.clone(), 3, x, None).is_err());
}

#[test]
fn euler_ancestral_requires_noise() {
    let device = Device::flex();
    let mut s = EulerAncestralDiscreteScheduler::new(&NoiseScheduleConfig::default());
    s.set_timesteps(10);
    let x = Tensor::<4>::zeros([1, 4, 2, 2], &device);
    assert!(s.step(x.clone(), 0, x, None).unwrap_err().to_string().contains("needs noise"));
}

#[test]
fn ddpm_training_schedule_and_add_noise_match_diffusers() {
    let device = Device::flex();
    let g = Golden::open("schedulers.safetensors");
    let schedule = NoiseSchedule::new(&NoiseScheduleConfig::default());
    assert_close("alphas_cumprod", &schedule.alphas_cumprod, &g.vec("ddpm.alphas_cumprod"), 1e-7);
    let t: Vec<usize> = g.vec("ddpm.timesteps").into_iter().map(|t| t as usize).collect();
    let noisy = schedule.add_noise(g.tensor("ddpm.original", &device), g.tensor("ddpm.noise", &device), &t);
    assert_close("add_noise", &to_vec(noisy), &g.vec("ddpm.noisy"), 1e-5);
}
