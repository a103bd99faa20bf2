//! `rewardedit bench-edit`: times whole edits (text encoding, VAE, every guided UNet step,
//! decoding) with an editor folder, after warm-up, at a chosen precision — the per-edit figure
//! that issue 3 compares with diffusers' pipeline on the same card. The image is a fixed pattern
//! of the requested size, so any folder (e.g. `model init --preset sd15`) can be timed.
//! `--stages` also times the edit's parts one by one through the pipeline's own calls, to show
//! where a gap to diffusers lies (`scripts/bench_sd15_gpu.py`'s `edit` part times the same parts
//! of diffusers' edit).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::DType;
use clap::Args as ClapArgs;
use image::RgbImage;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::convert::{to_images, to_tensor};
use rewardedit_models::pipeline::{denoise, edit, model_size, EditRequest, EditSettings, Editor, NoiseStream};

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
    /// Also time the parts of an edit one by one: text encoding, the image condition (VAE
    /// encode), the denoising loop, decoding and the copy to the host.
    #[arg(long)]
    pub stages: bool,
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
    let reward = if editor.has_reward() { editor.default_condition() } else { RewardCondition::Null };
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
    if args.stages {
        print_stages(&editor, &request, &settings, args.warmup, args.iters)?;
    }
    Ok(())
}

/// The parts of one edit, each timed on its own (median after warm-up) through the calls `edit`
/// makes. Each part ends by reading a value back, so queued device work is inside its time.
/// The denoising loop encodes its text and image condition itself, so its steps are what
/// remains of its time after those two.
fn print_stages(editor: &Editor, request: &EditRequest, settings: &EditSettings, warmup: usize, iters: usize) -> Result<()> {
    let device = editor.device();
    let fitted = model_size(editor, &request.image, settings.max_side);
    let instruction = request.instruction.as_str();
    let reward_text = request.reward.text();
    // Each part's median, and the output of its last run (the next part's input).
    let timed = |call: &dyn Fn() -> Result<Tensor<4>>| -> Result<(f64, Tensor<4>)> {
        let last = std::cell::RefCell::new(None);
        let run = || -> Result<f64> {
            let t = Instant::now();
            let out = call()?;
            let _: Vec<f32> = out.clone().sum().cast(DType::F32).into_data().try_to_vec().map_err(|e| anyhow::anyhow!("reading back: {e:?}"))?;
            let seconds = t.elapsed().as_secs_f64();
            *last.borrow_mut() = Some(out);
            Ok(seconds)
        };
        let median = measure(warmup, iters, run)?.median;
        Ok((median, last.into_inner().expect("measure runs the call at least once")))
    };
    let source = || to_tensor(std::slice::from_ref(&fitted), &device);
    let (text, _) = timed(&|| {
        // As `denoise`: the instruction, the empty prompt and (with reward modules) the reward text.
        let mut hidden = editor.text.encode(&[instruction], &device)?.hidden.sum() + editor.text.encode(&[""], &device)?.hidden.sum();
        if editor.has_reward() {
            hidden = hidden + editor.text.encode(&[reward_text], &device)?.pooled.sum();
        }
        Ok(hidden.reshape([1, 1, 1, 1]))
    })?;
    let (upload, _) = timed(&|| Ok(source()))?;
    let (condition, _) = timed(&|| Ok(editor.space.condition(source())))?;
    let run_denoise = || -> Result<Tensor<4>> {
        let mut noise = NoiseStream::new(settings.seed);
        Ok(denoise(editor, source(), &[instruction], std::slice::from_ref(&request.reward), settings, &mut noise, None, &mut |_, _| {})?)
    };
    let (denoising, sample) = timed(&run_denoise)?;
    let (decode, decoded) = timed(&|| Ok(editor.space.to_images(sample.clone())))?;
    let to_host = {
        let run = || -> Result<f64> {
            let t = Instant::now();
            to_images(decoded.clone());
            Ok(t.elapsed().as_secs_f64())
        };
        measure(warmup, iters, run)?.median
    };
    // `condition` includes the upload, and the denoising loop both of them and the text.
    let steps = (denoising - text - condition).max(0.0);
    println!(
        "stages (median s): text encoding {text:.4}, image upload {upload:.4}, VAE encode {:.4}, \
         denoising steps {steps:.4} ({:.4} per step), decode {decode:.4}, to host {to_host:.4}; sum {:.4}",
        (condition - upload).max(0.0),
        steps / settings.steps as f64,
        text + condition + steps + decode + to_host
    );
    Ok(())
}
