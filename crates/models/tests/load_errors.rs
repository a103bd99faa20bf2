//! Loading weights that do not match the module is an error naming the offending tensor.

mod common;

use burn::prelude::*;
use common::{expect_mismatch, golden, Golden, TensorMap};
use rewardedit_models::store::{load_safetensors_bytes, LoadOptions};
use rewardedit_models::unet::{RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel};
use rewardedit_models::ModelError;
use safetensors::Dtype;

fn config() -> UNet2DConditionConfig {
    UNet2DConditionConfig::from_file(golden("unet_tiny_config.json")).unwrap()
}

/// The golden plain UNet's tensors, edited by `edit`.
fn edited(edit: impl FnOnce(&mut TensorMap)) -> Vec<u8> {
    common::edited(&golden("unet_tiny.safetensors"), edit)
}

fn load(bytes: Vec<u8>, reward: bool) -> Result<(), ModelError> {
    let device = Device::flex();
    let reward = reward.then(RewardConditioningConfig::default);
    let mut unet = UNet2DConditionModel::new(&config(), reward.as_ref(), &device).unwrap();
    load_safetensors_bytes(&mut unet, bytes, &LoadOptions::strict()).map(|_| ())
}

#[test]
fn golden_weights_load_cleanly() {
    assert_eq!(Golden::open("unet_tiny.safetensors").names().len(), 208);
    load(edited(|_| {}), false).unwrap();
}

#[test]
fn missing_tensor_is_named() {
    let key = "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight";
    let bytes = edited(|m| {
        m.remove(key).unwrap();
    });
    expect_mismatch(load(bytes, false), &format!("missing tensors: {key}"));
}

#[test]
fn missing_group_norm_tensor_is_named_by_its_pytorch_key() {
    let key = "mid_block.resnets.1.norm2.weight";
    let bytes = edited(|m| {
        m.remove(key).unwrap();
    });
    expect_mismatch(load(bytes, false), key);
}

#[test]
fn extra_tensor_is_named() {
    let bytes = edited(|m| {
        m.insert("time_embedding.linear_3.weight".into(), (Dtype::F32, vec![2], vec![0; 8]));
    });
    expect_mismatch(load(bytes, false), "unexpected tensors: time_embedding.linear_3.weight");
}

#[test]
fn mis_shaped_tensor_is_named() {
    let key = "conv_in.weight";
    let bytes = edited(|m| {
        let (_, shape, data) = m.get_mut(key).unwrap();
        shape[1] -= 1; // [16, 8, 3, 3] -> [16, 7, 3, 3]
        data.truncate(shape.iter().product::<usize>() * 4);
    });
    expect_mismatch(load(bytes, false), key);
}

#[test]
fn reward_modules_are_required_by_a_reward_unet() {
    expect_mismatch(load(edited(|_| {}), true), "ca.attention.self.query.weight");
}
