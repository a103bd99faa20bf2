//! `rewardedit bench-edit`: times whole edits (text encoding, VAE, every guided UNet step,
//! decoding) with an editor folder, after warm-up, at a chosen precision — the per-edit figure
//! that issue 3 compares with diffusers' pipeline on the same card. The image is a fixed pattern
//! of the requested size, so any folder (e.g. `model init --preset sd15`) can be timed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args as ClapArgs;
use image::RgbImage;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::{edit, EditRequest, Editor};

use crate::backend::BackendKind;
use crate::exit::bad_input;

use super::bench_timing::{device_at, measure, Precision};
use super::sampler_args::SamplerArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Editor folder (as for `edit`).
    #[arg(long)]
    pub model: PathBuf,
    /// Side of the square input image in pixels (512 = SD 1.5's native size).
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    /// Denoising steps per edit.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Timed edits after warm-up.
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Untimed edits first (kernel compilation, autotuning).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Float precision of the device (the weights are cast to it at load).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: Precision,
    #[command(flatten)]
    pub sampler: SamplerArgs,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    if args.size == 0 || args.steps == 0 || args.iters == 0 {
        return Err(bad_input("--size, --steps and --iters must be at least 1"));
    }
    if !args.model.is_dir() {
        return Err(bad_input(format!("--model {}: not a folder", args.model.display())));
    }
    let device = device_at(kind, gpu, args.dtype)?;

    let t0 = Instant::now();
    let editor = Editor::load(&args.model, &device)
        .map_err(|e| bad_input(format!("cannot load the editor {}: {e}", args.model.display())))?;
    let load_s = t0.elapsed().as_secs_f64();
    let mut settings = editor.config.defaults.clone();
    settings.steps = args.steps;
    settings.max_side = Some(args.size);
    let settings = args.sampler.apply(&settings)?;

    // Cost does not depend on content; a pattern keeps the input fixed without a seeded RNG.
    let image = RgbImage::from_fn(args.size, args.size, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, ((x + y) % 256) as u8]));
    let reward = if editor.has_reward() { RewardCondition::paper_default() } else { RewardCondition::Null };
    let request = EditRequest { image, instruction: "make the sky purple".into(), reward };
    let one = || -> Result<f64> {
        let t = Instant::now();
        // `edit` returns decoded images on the host: every queued kernel has finished.
        edit(&editor, std::slice::from_ref(&request), &settings, &mut |_, _| {})?;
        Ok(t.elapsed().as_secs_f64())
    };
    let t = measure(args.warmup, args.iters, one)?;
    println!(
        "edit {} ({}x{} px, {} steps {}, reward {}), {}, backend {}",
        args.model.display(),
        args.size,
        args.size,
        settings.steps,
        settings.scheduler.name(),
        if editor.has_reward() { "on" } else { "off" },
        args.dtype.name(),
        kind.name()
    );
    println!(
        "load {load_s:.2} s, first edit {:.3} s, median {:.3} s, min {:.3} s over {} edits",
        t.first,
        t.median,
        t.min,
        t.timed
    );
    Ok(())
}
