//! `rewardedit bench-unet`: times the editor's UNet forward on the chosen backend, with random
//! weights built from a config (no download needed), so a lent GPU can be measured with nothing
//! but this binary. Figures go to docs/benchmarks.md.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::{DType, Distribution, Tensor};
use clap::Args as ClapArgs;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs, UNet2DConditionConfig, UNet2DConditionModel};

use crate::backend::BackendKind;
use crate::exit::{bad_input, InputContext};

use super::bench_timing::{device_at, measure, Precision};

#[derive(ClapArgs)]
pub struct Args {
    /// A diffusers `unet/config.json`; default: SD 1.5 InstructPix2Pix (8 input channels).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Attach the authors' reward conditioning (three scores + reward text).
    #[arg(long)]
    pub reward: bool,
    /// Batch per call (3 = InstructPix2Pix's text/image guidance branches).
    #[arg(long, default_value_t = 3)]
    pub batch: usize,
    /// Latent side (64 = a 512 px image through the VAE).
    #[arg(long, default_value_t = 64)]
    pub latent: usize,
    /// Timed calls after warm-up.
    #[arg(long, default_value_t = 10)]
    pub iters: usize,
    /// Untimed calls first (kernel compilation, autotuning).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Float precision of the device.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: Precision,
    /// Time forward + backward (the UNet's share of a training step, no optimiser) on an
    /// autodiff device, instead of the forward alone.
    #[arg(long)]
    pub backward: bool,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    if args.batch == 0 || args.latent == 0 || args.iters == 0 {
        return Err(bad_input("--batch, --latent and --iters must be at least 1"));
    }
    let config = match &args.config {
        Some(path) => UNet2DConditionConfig::from_file(path).bad_input()?,
        None => UNet2DConditionConfig { in_channels: 8, ..UNet2DConditionConfig::default() },
    };
    config.validate().bad_input()?;
    if !args.latent.is_multiple_of(8) {
        return Err(bad_input("--latent must be a multiple of 8 (three downsamplings)"));
    }
    let device = device_at(kind, gpu, args.dtype)?;
    let device = if args.backward { device.autodiff() } else { device };

    let t0 = Instant::now();
    let reward_cfg = RewardConditioningConfig::default();
    let unet = UNet2DConditionModel::new(&config, args.reward.then_some(&reward_cfg), &device)
        .context("building the UNet")?;
    let build_s = t0.elapsed().as_secs_f64();

    let (b, s, d) = (args.batch, args.latent, config.cross_attention_dim);
    let normal = Distribution::Normal(0.0, 1.0);
    let sample = Tensor::<4>::random([b, config.in_channels, s, s], normal, &device);
    let timestep = Tensor::<1>::full([b], 500.0, &device);
    let text = Tensor::<3>::random([b, 77, d], normal, &device);
    let reward = || {
        args.reward.then(|| RewardInputs {
            scores: Tensor::full([b, 3], 5.0, &device),
            pooled_text: Tensor::random([b, d], normal, &device),
            null: None,
        })
    };
    let call = || -> Result<f64> {
        let t = Instant::now();
        let out = unet.forward(sample.clone(), timestep.clone(), text.clone(), reward());
        // Reading one value back waits for every queued kernel: the call's true wall time. With
        // --backward it is a gradient of the first layer, the last one the backward pass computes.
        let last = if args.backward {
            let grads = out.mean().backward();
            unet.conv_in.weight.val().grad(&grads).context("no gradient reached conv_in")?.sum()
        } else {
            out.sum()
        };
        let _: Vec<f32> = last.cast(DType::F32).into_data().try_to_vec().context("reading the result")?;
        Ok(t.elapsed().as_secs_f64())
    };
    let t = measure(args.warmup, args.iters, call)?;
    println!(
        "unet {} ({} input channels, reward {}), {}, batch {b}, latent {s}x{s}, {}, backend {}{}",
        args.config.as_ref().map_or("sd15".into(), |p| p.display().to_string()),
        config.in_channels,
        if args.reward { "on" } else { "off" },
        if args.backward { "forward + backward" } else { "forward" },
        args.dtype.name(),
        kind.name(),
        if rewardedit_models::fused::is_fused(&sample) { " (fused attention and GroupNorm)" } else { "" }
    );
    println!(
        "build {build_s:.2} s, first call {:.3} s, median {:.2} ms, min {:.2} ms over {} calls",
        t.first,
        t.median * 1e3,
        t.min * 1e3,
        t.timed
    );
    Ok(())
}
