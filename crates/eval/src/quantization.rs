//! How far a quantized editor drifts from the editor it was made from (issue 7,
//! `rewardedit quantize`). Weight-only quantization needs no activation statistics, so the
//! calibration set is used to *measure* the error, on each item:
//! - one UNet call: both editors denoise the same noised source at three training timesteps
//!   (T/10, T/2, 9T/10) with the same noise, instruction and reward, each through its own text
//!   encoder (and VAE); the error is `||out_q - out_ref|| / ||out_ref||` over the three;
//! - one whole edit with the same seed and settings: the PSNR of the quantized editor's image
//!   against the reference's ([`pixel_metrics`], capped at [`PSNR_CAP_DB`] for identical images).

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use rewardedit_core::formats::{read_examples, FormatSpec};
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::convert::to_tensor;
use rewardedit_models::pipeline::{edit, model_size, EditRequest, EditSettings, Editor, ImageSpace, NoiseStream};
use rewardedit_models::schedulers::NoiseSchedule;
use rewardedit_models::unet::RewardInputs;
use rewardedit_models::ModelError;
use serde::{Deserialize, Serialize};

use crate::benchmark::{Benchmark, BenchmarkItem, WorldSpec};
use crate::stats::{pixel_metrics, PSNR_CAP_DB};
use crate::{EvalError, Result};

/// Where the calibration items come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalibrationSet {
    /// The first items of the world benchmark (`world`).
    World,
    /// Any collection with source images and instructions (`manifest:DIR`, a manifest path,
    /// `imagefolder:DIR`, `rewardedit20k:...`).
    Collection(FormatSpec),
}

impl FromStr for CalibrationSet {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        if s == "world" {
            return Ok(CalibrationSet::World);
        }
        // A bare path is a manifest (its folder or its .jsonl file).
        let spec = if s.contains(':') { s.to_string() } else { format!("manifest:{s}") };
        spec.parse()
            .map(CalibrationSet::Collection)
            .map_err(|e| EvalError::Config(format!("calibration set {s:?}: {e}; expected `world` or a manifest")))
    }
}

impl fmt::Display for CalibrationSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibrationSet::World => f.write_str("world"),
            CalibrationSet::Collection(spec) => write!(f, "{spec}"),
        }
    }
}

impl CalibrationSet {
    /// The first `n` items (world items from `spec`).
    pub fn items(&self, spec: &WorldSpec, n: usize) -> Result<Vec<BenchmarkItem>> {
        match self {
            CalibrationSet::World => Benchmark::World { spec: spec.clone() }.items(Some(n)),
            CalibrationSet::Collection(format) => read_examples(format)?
                .take(n)
                .enumerate()
                .map(|(i, e)| {
                    let e = e?;
                    Ok(BenchmarkItem::from_file(e.id, e.edit_type, e.instruction, e.source, i as u64))
                })
                .collect(),
        }
    }
}

/// One calibration item's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDrift {
    pub id: String,
    /// `||out_q - out_ref|| / ||out_ref||` of the UNet call.
    pub unet_relative_error: f64,
    /// PSNR of the quantized edit against the reference edit, dB.
    pub psnr_db: f64,
}

/// The error of a quantized editor over a calibration set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub items: usize,
    /// Training timesteps of the UNet calls.
    pub timesteps: Vec<usize>,
    pub unet_relative_error_mean: f64,
    pub unet_relative_error_max: f64,
    pub psnr_db_mean: f64,
    pub psnr_db_min: f64,
    pub per_item: Vec<ItemDrift>,
}

fn model_err(e: ModelError) -> EvalError {
    EvalError::Editor(e.into())
}

/// The UNet's outputs of `editor` on `source` noised with `noise` at `timesteps` (one row each).
fn unet_outputs(editor: &Editor, source: Tensor<4>, instruction: &str, reward: &RewardCondition, noise: &Tensor<4>, timesteps: &[usize]) -> Result<Tensor<4>> {
    let device = source.device();
    let n = timesteps.len();
    let condition = editor.space.condition(source);
    // The clean sample the condition stands for: latents are scaled as the sampler sees them.
    let x0 = match &editor.space {
        ImageSpace::Pixel => condition.clone(),
        ImageSpace::Latent { config, .. } => (condition.clone() - config.shift_factor.unwrap_or(0.0)) * config.scaling_factor,
    };
    let noisy = NoiseSchedule::new(&editor.schedule).add_noise(x0.repeat_dim(0, n), noise.clone().repeat_dim(0, n), timesteps);
    let input = Tensor::cat(vec![noisy, condition.repeat_dim(0, n)], 1);
    let hidden = editor.text.encode(&[instruction], &device).map_err(model_err)?.hidden.repeat_dim(0, n);
    let rewards = match (editor.has_reward(), reward) {
        (true, RewardCondition::Given { text, .. }) => {
            let pooled = editor.text.encode(&[text.as_str()], &device).map_err(model_err)?.pooled;
            Some(RewardInputs::from_conditions(&vec![reward.clone(); n], pooled.repeat_dim(0, n)))
        }
        _ => None,
    };
    let t = Tensor::<1>::from_data(TensorData::new(timesteps.iter().map(|&t| t as f32).collect::<Vec<_>>(), [n]), &device);
    Ok(editor.unet.forward(input, t, hidden, rewards))
}

fn norm(t: Tensor<4>) -> f64 {
    f64::from((t.clone() * t).sum().into_scalar::<f32>()).sqrt()
}

/// Measures `quantized` against `reference` on `items` with `settings` (item `i` edits with
/// seed `settings.seed + index`); rewards are the editor's default (5, 5, 5 with its reward text)
/// for reward editors. `progress(done)` is called after each item.
pub fn measure_drift(reference: &Editor, quantized: &Editor, items: &[BenchmarkItem], settings: &EditSettings, progress: &mut dyn FnMut(usize)) -> Result<Drift> {
    if reference.has_reward() != quantized.has_reward() {
        return Err(EvalError::Config("one editor has reward modules and the other has not: they are not the same editor".into()));
    }
    if items.is_empty() {
        return Err(EvalError::Config("the calibration set has no items".into()));
    }
    let reward = if reference.has_reward() { reference.default_condition() } else { RewardCondition::Null };
    let total = reference.schedule.num_train_timesteps;
    let timesteps = vec![total / 10, total / 2, total * 9 / 10];
    let mut per_item = Vec::with_capacity(items.len());
    for (done, item) in items.iter().enumerate() {
        let image = item.source.load()?;
        let seed = settings.seed + item.index;

        let fitted = model_size(reference, &image, settings.max_side);
        let source = to_tensor(std::slice::from_ref(&fitted), &reference.device());
        let [_, _, h, w] = source.dims();
        let ds = reference.space.downscale();
        let noise = NoiseStream::new(seed).next([1, reference.space.channels(), h / ds, w / ds], &reference.device());
        let a = unet_outputs(reference, source.clone(), &item.instruction, &reward, &noise, &timesteps)?;
        let b = unet_outputs(quantized, source, &item.instruction, &reward, &noise, &timesteps)?;
        let unet_relative_error = norm(b - a.clone()) / norm(a).max(f64::MIN_POSITIVE);

        let request = [EditRequest { image: (*image).clone(), instruction: item.instruction.clone(), reward: reward.clone() }];
        let settings = EditSettings { seed, ..settings.clone() };
        let run = |e: &Editor| edit(e, &request, &settings, &mut |_, _| {}).map_err(model_err);
        let (theirs, ours) = (run(reference)?, run(quantized)?);
        let psnr_db = pixel_metrics(&theirs[0], &ours[0]).psnr;

        per_item.push(ItemDrift { id: item.id.clone(), unet_relative_error, psnr_db });
        progress(done + 1);
    }
    let n = per_item.len() as f64;
    let errors = per_item.iter().map(|i| i.unet_relative_error);
    let psnrs = per_item.iter().map(|i| i.psnr_db);
    Ok(Drift {
        items: per_item.len(),
        timesteps,
        unet_relative_error_mean: errors.clone().sum::<f64>() / n,
        unet_relative_error_max: errors.fold(0.0, f64::max),
        psnr_db_mean: psnrs.clone().sum::<f64>() / n,
        psnr_db_min: psnrs.fold(PSNR_CAP_DB, f64::min),
        per_item,
    })
}
