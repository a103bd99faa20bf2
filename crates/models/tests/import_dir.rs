//! Importing a diffusers-style folder: plain and reward UNets, fp16/bf16 weights, and saving
//! in the same layout.

mod common;

use std::path::Path;

use burn::prelude::*;
use common::{assert_close, golden, to_vec, Golden, TempDir};
use rewardedit_models::import::{
    load_scheduler_config, load_unet_dir, read_header, save_unet_dir, SCHEDULER_CONFIG, UNET_CONFIG, UNET_WEIGHTS,
};
use rewardedit_models::store::WeightFormat;
use rewardedit_models::unet::RewardInputs;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// A diffusers-style folder holding the golden config and `weights`.
fn folder(tag: &str, weights: &Path) -> TempDir {
    let dir = TempDir::new(tag);
    dir.copy(&golden("unet_tiny_config.json"), UNET_CONFIG);
    dir.copy(weights, UNET_WEIGHTS);
    dir
}

fn forward(unet: &rewardedit_models::unet::UNet2DConditionModel, g: &Golden, reward: bool, device: &Device) -> Vec<f64> {
    let reward = reward.then(|| RewardInputs {
        scores: g.tensor("scores", device),
        pooled_text: g.tensor("pooled_text", device),
        null: None,
    });
    to_vec(unet.forward(g.tensor("sample", device), g.tensor("timestep", device), g.tensor("encoder_hidden_states", device), reward))
}

#[test]
fn plain_folder_imports_and_matches_diffusers() {
    let device = Device::flex();
    let dir = folder("plain", &golden("unet_tiny.safetensors"));
    let import = load_unet_dir(&dir.0, &device).unwrap();
    assert!(!import.has_reward && import.model.reward.is_none());
    assert_eq!(import.tensors, 208);
    assert_eq!(import.dtypes.get("F32"), Some(&208));
    let g = Golden::open("unet_tiny_io.safetensors");
    assert_close("imported plain unet", &forward(&import.model, &g, false, &device), &g.vec("output"), 1e-4);
}

#[test]
fn authors_fp16_reward_folder_imports_saves_and_reimports() {
    let device = Device::flex();
    let dir = folder("reward", &golden("reward_unet_tiny.safetensors"));
    let import = load_unet_dir(&dir.0, &device).unwrap();
    assert!(import.has_reward && !import.has_null_reward);
    assert_eq!(import.dtypes.get("F16"), Some(&242));
    let g = Golden::open("reward_unet_tiny_io.safetensors");
    assert_close("imported reward unet", &forward(&import.model, &g, true, &device), &g.vec("output"), 1e-4);

    let out = TempDir::new("saved");
    save_unet_dir(&import.model, &import.config, &out.0, WeightFormat::F32).unwrap();
    let header = read_header(out.0.join(UNET_WEIGHTS)).unwrap();
    assert_eq!(header.len(), 244, "the authors' 242 tensors plus null_reward.scores/text");
    assert_eq!(header["ca.attention.self.query.weight"].shape, vec![16, 16]);
    assert_eq!(header["null_reward.text"].shape, vec![32]);
    let again = load_unet_dir(&out.0, &device).unwrap();
    assert!(again.has_reward && again.has_null_reward);
    assert_eq!(again.config, import.config);
    assert_close("re-imported reward unet", &forward(&again.model, &g, true, &device), &g.vec("output"), 1e-4);
}

#[test]
fn bf16_weights_are_cast_to_f32() {
    // Rewrite the plain golden weights as bf16 (truncating the low half of each f32).
    let bytes = std::fs::read(golden("unet_tiny.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            let data = v.data().chunks_exact(4).flat_map(|c| [c[2], c[3]]).collect();
            (name, v.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, d)| (n.clone(), TensorView::new(Dtype::BF16, s.clone(), d).unwrap())).collect();
    let dir = TempDir::new("bf16");
    dir.copy(&golden("unet_tiny_config.json"), UNET_CONFIG);
    dir.write(UNET_WEIGHTS, &safetensors::serialize(views, None).unwrap());

    let device = Device::flex();
    let import = load_unet_dir(&dir.0, &device).unwrap();
    assert_eq!(import.dtypes.get("BF16"), Some(&208));
    let w = to_vec(import.model.conv_in.weight.val());
    let (orig, _) = Golden::open("unet_tiny.safetensors").values("conv_in.weight");
    let truncated: Vec<f64> = orig.iter().map(|&x| f32::from_bits((x as f32).to_bits() & 0xFFFF_0000) as f64).collect();
    assert_close("bf16 conv_in.weight", &w, &truncated, 0.0);
}

#[test]
fn scheduler_config_is_read_from_the_folder() {
    let dir = TempDir::new("scheduler");
    std::fs::create_dir_all(dir.0.join("scheduler")).unwrap();
    std::fs::write(dir.0.join(SCHEDULER_CONFIG), r#"{"_class_name": "EulerAncestralDiscreteScheduler", "beta_end": 0.02, "timestep_spacing": "trailing"}"#).unwrap();
    let cfg = load_scheduler_config(&dir.0).unwrap();
    assert_eq!(cfg.beta_end, 0.02);
    assert_eq!(cfg.timestep_spacing, Some(rewardedit_models::schedulers::TimestepSpacing::Trailing));
    std::fs::write(dir.0.join(SCHEDULER_CONFIG), r#"{"prediction_type": "flow"}"#).unwrap();
    let err = load_scheduler_config(&dir.0).unwrap_err().to_string();
    assert!(err.contains("scheduler_config.json") && err.contains("flow"), "{err}");
}

#[test]
fn folder_without_weights_is_an_error_naming_it() {
    let dir = TempDir::new("empty");
    dir.copy(&golden("unet_tiny_config.json"), UNET_CONFIG);
    let err = load_unet_dir(&dir.0, &Device::flex()).unwrap_err().to_string();
    assert!(err.contains("diffusion_pytorch_model.safetensors"), "{err}");
    let none = TempDir::new("none");
    let err = load_unet_dir(none.0.join("missing"), &Device::flex()).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}
