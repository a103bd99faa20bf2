//! The pipeline against diffusers' `StableDiffusionInstructPix2PixPipeline`
//! (tests/golden/ip2p_edit.safetensors: the tiny folder ip2p_tiny/, DDIM eta 0, 3 steps, text
//! cfg 7.5, image cfg 1.5, explicit initial latents; scripts/make_golden.py).

mod common;

use burn::prelude::*;
use common::{assert_close, golden, to_vec, Golden};
use rewardedit_core::RewardCondition;
use rewardedit_models::import::{check_editor_dir, load_unet_dir};
use rewardedit_models::pipeline::guidance::{guide, Branch, Branches, GuidanceScales};
use rewardedit_models::pipeline::{denoise, EditSettings, Editor, NoiseStream, SpaceKind};
use rewardedit_models::schedulers::{DDIMScheduler, NoiseScheduleConfig, Scheduler, SchedulerKind};
use rewardedit_models::unet::RewardConditioningConfig;

/// Guidance + DDIM over diffusers' own UNet outputs reproduce its latents at every step: the
/// branch order (instruction+image, image, neither) and eq. 3 are diffusers'.
#[test]
fn guidance_and_sampling_match_diffusers_given_its_unet_outputs() {
    let device = Device::flex();
    let g = Golden::open("ip2p_edit.safetensors");
    let config = NoiseScheduleConfig::from_file(golden("ip2p_edit_scheduler.json")).unwrap();
    let mut ddim = DDIMScheduler::new(&config, 0.0);
    ddim.set_timesteps(3);
    assert_eq!(ddim.timesteps(), g.vec("timesteps").as_slice());

    let scales = GuidanceScales { text: g.vec("guidance_scale")[0], image: g.vec("image_guidance_scale")[0], reward: 1.0 };
    let branches = Branches::needed(&scales, false);
    assert_eq!(branches.0, [Branch::Full, Branch::Image, Branch::Uncond]);
    let mut x: Tensor<4> = g.tensor("initial_latents", &device) * ddim.init_noise_sigma();
    for i in 0..3 {
        let eps = guide(branches.split(g.item("unet_outputs", i, &device)), &scales);
        x = ddim.step(eps, i, x, None).unwrap();
        assert_close(&format!("latents after step {i}"), &to_vec(x.clone()), &to_vec(g.item::<4>("step_latents", i, &device)), 1e-5);
    }
}

/// The folder's UNet loads strictly (fp32, every tensor placed) with the plain IP2P layout.
#[test]
fn the_tiny_instruct_pix2pix_unet_loads() {
    let unet = load_unet_dir(golden("ip2p_tiny"), &Device::flex()).unwrap();
    assert!(!unet.has_reward);
    assert_eq!(unet.config.in_channels, 8);
}

/// The whole edit through our pipeline (CLIP prompt and empty prompt, VAE mode of the source,
/// three branches in one UNet call per step, DDIM, decode) matches diffusers' run within 1e-4.
#[test]
fn the_whole_tiny_instruct_pix2pix_edit_matches_diffusers() {
    let device = Device::flex();
    let g = Golden::open("ip2p_edit.safetensors");
    let mut editor = Editor::load(golden("ip2p_tiny"), &device).unwrap();
    assert_eq!(editor.space.kind(), SpaceKind::Latent);
    assert_eq!(editor.resolution_multiple(), 4, "VAE x2, UNet x2");
    // The run used DDIM with its own config (leading spacing); the folder's is Euler-A's.
    editor.schedule = NoiseScheduleConfig::from_file(golden("ip2p_edit_scheduler.json")).unwrap();
    let settings = EditSettings { steps: 3, text_cfg: 7.5, image_cfg: 1.5, reward_cfg: 1.0, seed: 0, scheduler: SchedulerKind::Ddim, max_side: None };

    let source = g.tensor::<4>("image", &device) * 2.0 - 1.0;
    assert_close("image latents", &to_vec(editor.space.condition(source.clone())), &g.vec("image_latents"), 1e-4);
    let initial = g.tensor::<4>("initial_latents", &device);
    let latents = denoise(&editor, source, &["Turn the cat into a dog!"], &[RewardCondition::Null], &settings, &mut NoiseStream::new(0), Some(initial), &mut |_, _| {}).unwrap();
    assert_close("final latents", &to_vec(latents.clone()), &to_vec(g.item::<4>("step_latents", 2, &device)), 1e-4);
    let decoded = editor.space.to_images(latents);
    assert_close("decoded", &to_vec(decoded.clone()), &g.vec("decoded"), 1e-4);
    assert_close("output", &to_vec((decoded / 2.0 + 0.5).clamp(0.0, 1.0)), &g.vec("output"), 1e-4);
}

/// The folder saves and loads back as a latent-space editor with CLIP, and the tensor check
/// covers the VAE and CLIP; with zero-initialised reward modules attached the edit is unchanged.
#[test]
fn the_latent_editor_round_trips_and_zero_reward_modules_change_nothing() {
    let device = Device::flex();
    let editor = Editor::load(golden("ip2p_tiny"), &device).unwrap();
    let check = check_editor_dir(golden("ip2p_tiny")).unwrap();
    assert!(check.ok(), "{:?}", check.parts);
    assert_eq!(check.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["unet", "text encoder", "vae"]);

    let settings = EditSettings { steps: 2, seed: 3, ..EditSettings::default() };
    let source = Tensor::<4>::random([1, 3, 24, 16], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let run = |e: &Editor, reward: RewardCondition| {
        to_vec(denoise(e, source.clone(), &["make the sky blue"], &[reward], &settings, &mut NoiseStream::new(1), None, &mut |_, _| {}).unwrap())
    };
    let plain = run(&editor, RewardCondition::Null);

    let dir = tempfile::tempdir().unwrap();
    let Editor { unet, unet_config, text, space, schedule, config } = editor;
    let zero = RewardConditioningConfig { zero_init: true, null_dropout: 0.0 };
    let rewarded = Editor::new(unet.attach_reward(&unet_config, &zero), unet_config, text, space, schedule, config).unwrap();
    rewarded.save(dir.path()).unwrap();
    assert!(check_editor_dir(dir.path()).unwrap().ok());
    let loaded = Editor::load(dir.path(), &device).unwrap();
    assert!(loaded.has_reward());
    assert_close("zero-init reward editor", &run(&loaded, RewardCondition::paper_default()), &plain, 1e-5);
}
