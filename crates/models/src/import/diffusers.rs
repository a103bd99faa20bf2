//! The components of a diffusers-style folder — `unet/` (with or without the authors' reward
//! modules, official-checkpoint.md), `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/` — each
//! `config.json` + one safetensors file, loaded with every tensor accounted for and saved back in
//! the same layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Serialize;

use super::header::{read_header, TensorInfo};
use crate::schedulers::NoiseScheduleConfig;
use crate::store::{load_safetensors, save_safetensors, CheckpointKeys, LoadOptions, WeightFormat};
use crate::text::{CLIPTextConfig, CLIPTextModel, ClipTokenizer};
use crate::unet::{RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel};
use crate::vae::{AutoencoderKL, AutoencoderKLConfig};
use crate::{ModelError, Result};

/// Config file inside the folder.
pub const UNET_CONFIG: &str = "unet/config.json";
/// Weights, full precision (tried first).
pub const UNET_WEIGHTS: &str = "unet/diffusion_pytorch_model.safetensors";
/// Weights, the fp16 variant.
pub const UNET_WEIGHTS_FP16: &str = "unet/diffusion_pytorch_model.fp16.safetensors";

/// The VAE's config inside the folder.
pub const VAE_CONFIG: &str = "vae/config.json";
/// VAE weights, full precision (tried first).
pub const VAE_WEIGHTS: &str = "vae/diffusion_pytorch_model.safetensors";
/// VAE weights, the fp16 variant.
pub const VAE_WEIGHTS_FP16: &str = "vae/diffusion_pytorch_model.fp16.safetensors";

/// The text encoder's config (transformers' `CLIPTextConfig`) inside the folder.
pub const TEXT_ENCODER_CONFIG: &str = "text_encoder/config.json";
/// Text encoder weights, full precision (tried first).
pub const TEXT_ENCODER_WEIGHTS: &str = "text_encoder/model.safetensors";
/// Text encoder weights, the fp16 variant.
pub const TEXT_ENCODER_WEIGHTS_FP16: &str = "text_encoder/model.fp16.safetensors";

/// The tokenizer's folder (vocab.json + merges.txt, or tokenizer.json).
pub const TOKENIZER_DIR: &str = "tokenizer";

/// The noise schedule's config inside the folder.
pub const SCHEDULER_CONFIG: &str = "scheduler/scheduler_config.json";

/// Reads the folder's noise schedule (the sampler itself is chosen by the caller).
pub fn load_scheduler_config(dir: impl AsRef<Path>) -> Result<NoiseScheduleConfig> {
    NoiseScheduleConfig::from_file(dir.as_ref().join(SCHEDULER_CONFIG))
}

/// A tensor that only a reward checkpoint has (official-checkpoint.md).
const REWARD_MARKER: &str = "ca.attention.self.query.weight";
/// A tensor that only our reward checkpoints have.
const NULL_REWARD_MARKER: &str = "null_reward.scores";

/// The loaded UNet and what the import found.
#[derive(Debug)]
pub struct UNetImport {
    pub model: UNet2DConditionModel,
    pub config: UNet2DConditionConfig,
    /// The weights file that was read.
    pub weights: PathBuf,
    /// Tensors in the file (all of them placed: anything else is an error).
    pub tensors: usize,
    /// Tensors per safetensors dtype (`F32`, `F16`, `BF16`, `I8`).
    pub dtypes: BTreeMap<String, usize>,
    /// The file holds the authors' reward modules.
    pub has_reward: bool,
    /// The file holds our learned null reward (absent in the authors' checkpoint: it then
    /// starts at zero).
    pub has_null_reward: bool,
}

/// A loaded component (VAE, text encoder) and what the import found.
#[derive(Debug)]
pub struct Import<M, C> {
    pub model: M,
    pub config: C,
    /// The weights file that was read.
    pub weights: PathBuf,
    /// Tensors in the file (all of them placed: anything else is an error).
    pub tensors: usize,
    /// Tensors per safetensors dtype (`F32`, `F16`, `BF16`, `I8`).
    pub dtypes: BTreeMap<String, usize>,
}

/// The VAE of a folder.
pub type VaeImport = Import<AutoencoderKL, AutoencoderKLConfig>;
/// The text encoder of a folder.
pub type TextEncoderImport = Import<CLIPTextModel, CLIPTextConfig>;

/// The first of `candidates` (paths inside `dir`) that exists, else an error naming them.
fn find_weights(dir: &Path, candidates: &[&str]) -> Result<PathBuf> {
    candidates.iter().map(|w| dir.join(w)).find(|p| p.is_file()).ok_or_else(|| {
        let names: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
        ModelError::MissingFile {
            path: dir.join(Path::new(candidates[0]).parent().unwrap_or(Path::new(""))).display().to_string(),
            hint: format!(
                "no {} (PyTorch .bin and sharded weights are not read; convert to one safetensors file)",
                names.join(" or ")
            ),
        }
    })
}

/// Loads `weights` into `model` with strict accounting, reporting what the file held.
fn load_weights<M: CheckpointKeys, C>(mut model: M, config: C, weights: PathBuf, options: &LoadOptions) -> Result<Import<M, C>> {
    let header = read_header(&weights)?;
    load_safetensors(&mut model, &weights, options)?;
    Ok(Import { model, config, tensors: header.len(), dtypes: count_dtypes(&header), weights })
}

/// Writes `config` as `path` with diffusers' `_class_name` (or transformers' `architectures`
/// and `model_type`) added.
fn write_config<C: Serialize>(config: &C, extra: &[(&str, serde_json::Value)], path: &Path) -> Result<()> {
    let mut json = serde_json::to_value(config).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
    if let Some(obj) = json.as_object_mut() {
        for (k, v) in extra {
            obj.insert((*k).into(), v.clone());
        }
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| io_err(path, e))
}

fn io_err(p: &Path, e: std::io::Error) -> ModelError {
    ModelError::Store { path: p.display().to_string(), message: e.to_string() }
}

/// Loads `dir/unet` onto `device`. The reward modules are built when the file has them; every
/// tensor must then match one-to-one (only the null reward may be absent, as in the authors'
/// checkpoint). Weights of any float precision, or our int8 format, are cast to the device's
/// float dtype.
pub fn load_unet_dir(dir: impl AsRef<Path>, device: &Device) -> Result<UNetImport> {
    let dir = dir.as_ref();
    let config = UNet2DConditionConfig::from_file(dir.join(UNET_CONFIG))?;
    let weights = find_weights(dir, &[UNET_WEIGHTS, UNET_WEIGHTS_FP16])?;
    let header = read_header(&weights)?;
    let has_reward = header.contains_key(REWARD_MARKER);
    let has_null_reward = header.contains_key(NULL_REWARD_MARKER);

    let reward = has_reward.then(RewardConditioningConfig::default);
    let model = UNet2DConditionModel::new(&config, reward.as_ref(), device)?;
    let options = if has_reward && !has_null_reward { LoadOptions::authors_checkpoint() } else { LoadOptions::strict() };
    let Import { model, config, weights, tensors, dtypes } = load_weights(model, config, weights, &options)?;
    Ok(UNetImport { model, config, weights, tensors, dtypes, has_reward, has_null_reward })
}

/// Loads `dir/vae` (diffusers' `AutoencoderKL`) onto `device`, every tensor matched
/// one-to-one (the pre-0.14 attention names `query`/`key`/`value`/`proj_attn` are accepted).
pub fn load_vae_dir(dir: impl AsRef<Path>, device: &Device) -> Result<VaeImport> {
    let dir = dir.as_ref();
    let config = AutoencoderKLConfig::from_file(dir.join(VAE_CONFIG))?;
    let weights = find_weights(dir, &[VAE_WEIGHTS, VAE_WEIGHTS_FP16])?;
    let model = AutoencoderKL::new(&config, device)?;
    load_weights(model, config, weights, &LoadOptions::strict())
}

/// Loads `dir/text_encoder` (transformers' `CLIPTextModel`) onto `device`, every tensor
/// matched one-to-one (keys with or without the `text_model.` prefix).
pub fn load_text_encoder_dir(dir: impl AsRef<Path>, device: &Device) -> Result<TextEncoderImport> {
    let dir = dir.as_ref();
    let config = CLIPTextConfig::from_file(dir.join(TEXT_ENCODER_CONFIG))?;
    let weights = find_weights(dir, &[TEXT_ENCODER_WEIGHTS, TEXT_ENCODER_WEIGHTS_FP16])?;
    let model = CLIPTextModel::new(&config, device)?;
    load_weights(model, config, weights, &LoadOptions::strict())
}

/// Reads `dir/tokenizer` (see [`ClipTokenizer::from_dir`]).
pub fn load_tokenizer_dir(dir: impl AsRef<Path>) -> Result<ClipTokenizer> {
    ClipTokenizer::from_dir(dir.as_ref().join(TOKENIZER_DIR))
}

fn count_dtypes(header: &BTreeMap<String, TensorInfo>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for info in header.values() {
        *counts.entry(info.dtype.clone()).or_insert(0) += 1;
    }
    counts
}

/// Writes `dir/unet/config.json` (diffusers' fields plus `_class_name`) and
/// `dir/unet/diffusion_pytorch_model.safetensors` (weights as `format`) in PyTorch layout; the
/// reward modules keep the authors' names and our null reward is `null_reward.{scores,text}`.
pub fn save_unet_dir(model: &UNet2DConditionModel, config: &UNet2DConditionConfig, dir: impl AsRef<Path>, format: WeightFormat) -> Result<()> {
    let dir = dir.as_ref();
    write_config(config, &[("_class_name", "UNet2DConditionModel".into())], &dir.join(UNET_CONFIG))?;
    save_safetensors(model, dir.join(UNET_WEIGHTS), format)
}

/// Writes `dir/vae/config.json` and `dir/vae/diffusion_pytorch_model.safetensors` (current
/// diffusers names, weights as `format`).
pub fn save_vae_dir(model: &AutoencoderKL, config: &AutoencoderKLConfig, dir: impl AsRef<Path>, format: WeightFormat) -> Result<()> {
    let dir = dir.as_ref();
    write_config(config, &[("_class_name", "AutoencoderKL".into())], &dir.join(VAE_CONFIG))?;
    save_safetensors(model, dir.join(VAE_WEIGHTS), format)
}

/// Writes `dir/text_encoder/config.json` and `dir/text_encoder/model.safetensors` (keys under
/// `text_model.`, as SD 1.5 publishes them; weights as `format`).
pub fn save_text_encoder_dir(model: &CLIPTextModel, config: &CLIPTextConfig, dir: impl AsRef<Path>, format: WeightFormat) -> Result<()> {
    let dir = dir.as_ref();
    let extra = [("architectures", serde_json::json!(["CLIPTextModel"])), ("model_type", "clip_text_model".into())];
    write_config(config, &extra, &dir.join(TEXT_ENCODER_CONFIG))?;
    save_safetensors(model, dir.join(TEXT_ENCODER_WEIGHTS), format)
}
