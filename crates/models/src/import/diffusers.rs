//! The UNet of a diffusers-style folder (`unet/config.json` + safetensors weights), with or
//! without the authors' reward modules (official-checkpoint.md), and the same layout on save.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::header::{read_header, TensorInfo};
use crate::schedulers::NoiseScheduleConfig;
use crate::store::{load_safetensors, save_safetensors, LoadOptions};
use crate::unet::{RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel};
use crate::{ModelError, Result};

/// Config file inside the folder.
pub const UNET_CONFIG: &str = "unet/config.json";
/// Weights, full precision (tried first).
pub const UNET_WEIGHTS: &str = "unet/diffusion_pytorch_model.safetensors";
/// Weights, the fp16 variant.
pub const UNET_WEIGHTS_FP16: &str = "unet/diffusion_pytorch_model.fp16.safetensors";

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
    /// Tensors per safetensors dtype (`F32`, `F16`, `BF16`).
    pub dtypes: BTreeMap<String, usize>,
    /// The file holds the authors' reward modules.
    pub has_reward: bool,
    /// The file holds our learned null reward (absent in the authors' checkpoint: it then
    /// starts at zero).
    pub has_null_reward: bool,
}

/// Loads `dir/unet` onto `device`. The reward modules are built when the file has them; every
/// tensor must then match one-to-one (only the null reward may be absent, as in the authors'
/// checkpoint). Weights of any float precision are cast to the device's float dtype.
pub fn load_unet_dir(dir: impl AsRef<Path>, device: &Device) -> Result<UNetImport> {
    let dir = dir.as_ref();
    let config = UNet2DConditionConfig::from_file(dir.join(UNET_CONFIG))?;
    let weights = [UNET_WEIGHTS, UNET_WEIGHTS_FP16]
        .iter()
        .map(|w| dir.join(w))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::Store {
            path: dir.join("unet").display().to_string(),
            message: format!(
                "no {} or {} (PyTorch .bin and sharded weights are not read; convert to one safetensors file)",
                Path::new(UNET_WEIGHTS).file_name().unwrap_or_default().to_string_lossy(),
                Path::new(UNET_WEIGHTS_FP16).file_name().unwrap_or_default().to_string_lossy()
            ),
        })?;
    let header = read_header(&weights)?;
    let has_reward = header.contains_key(REWARD_MARKER);
    let has_null_reward = header.contains_key(NULL_REWARD_MARKER);

    let reward = has_reward.then(RewardConditioningConfig::default);
    let mut model = UNet2DConditionModel::new(&config, reward.as_ref(), device)?;
    let options = if has_reward && !has_null_reward { LoadOptions::authors_checkpoint() } else { LoadOptions::strict() };
    load_safetensors(&mut model, &weights, &options)?;

    Ok(UNetImport {
        model,
        config,
        weights,
        tensors: header.len(),
        dtypes: count_dtypes(&header),
        has_reward,
        has_null_reward,
    })
}

fn count_dtypes(header: &BTreeMap<String, TensorInfo>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for info in header.values() {
        *counts.entry(info.dtype.clone()).or_insert(0) += 1;
    }
    counts
}

/// Writes `dir/unet/config.json` (diffusers' fields plus `_class_name`) and
/// `dir/unet/diffusion_pytorch_model.safetensors` in PyTorch layout; the reward modules keep
/// the authors' names and our null reward is `null_reward.{scores,text}`.
pub fn save_unet_dir(model: &UNet2DConditionModel, config: &UNet2DConditionConfig, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    let unet_dir = dir.join("unet");
    let io_err = |p: &Path, e: std::io::Error| ModelError::Store { path: p.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(&unet_dir).map_err(|e| io_err(&unet_dir, e))?;
    let mut json = serde_json::to_value(config).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("_class_name".into(), "UNet2DConditionModel".into());
    }
    let config_path = dir.join(UNET_CONFIG);
    let text = serde_json::to_string_pretty(&json).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
    std::fs::write(&config_path, text).map_err(|e| io_err(&config_path, e))?;
    save_safetensors(model, dir.join(UNET_WEIGHTS))
}
