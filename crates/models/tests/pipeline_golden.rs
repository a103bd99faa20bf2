//! The pipeline against diffusers' `StableDiffusionInstructPix2PixPipeline`
//! (tests/golden/ip2p_edit.safetensors: the tiny folder ip2p_tiny/, DDIM eta 0, 3 steps, text
//! cfg 7.5, image cfg 1.5, explicit initial latents; scripts/make_golden.py).

mod common;

use burn::prelude::*;
use common::{assert_close, golden, to_vec, Golden};
use rewardedit_models::import::load_unet_dir;
use rewardedit_models::pipeline::guidance::{guide, Branch, Branches, GuidanceScales};
use rewardedit_models::schedulers::{DDIMScheduler, NoiseScheduleConfig, Scheduler};

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
