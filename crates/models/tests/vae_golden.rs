//! The VAE (diffusers' `AutoencoderKL`) against diffusers: encode, sample, decode; fp16 and
//! pre-0.14 attention names; strict loading; save and reload.

mod common;

use burn::prelude::*;
use common::{assert_close, edited, expect_mismatch, golden, rename_keys, to_vec, Golden, TempDir};
use rewardedit_models::import::{load_vae_dir, read_header, save_vae_dir, VAE_CONFIG, VAE_WEIGHTS, VAE_WEIGHTS_FP16};
use rewardedit_models::store::{load_safetensors_bytes, LoadOptions, WeightFormat};
use rewardedit_models::vae::{AutoencoderKL, AutoencoderKLConfig};
use rewardedit_models::ModelError;
use safetensors::Dtype;

const TOL: f64 = 1e-4;

fn folder_weights() -> std::path::PathBuf {
    golden(&format!("ip2p_tiny/{VAE_WEIGHTS}"))
}

fn config() -> AutoencoderKLConfig {
    AutoencoderKLConfig::from_file(golden(&format!("ip2p_tiny/{VAE_CONFIG}"))).unwrap()
}

fn load_bytes(bytes: Vec<u8>) -> Result<AutoencoderKL, ModelError> {
    let mut vae = AutoencoderKL::new(&config(), &Device::flex())?;
    load_safetensors_bytes(&mut vae, bytes, &LoadOptions::strict())?;
    Ok(vae)
}

/// Encodes the golden images and checks mean, log-variance, a sample and the decoded mode.
fn check_against_diffusers(vae: &AutoencoderKL, what: &str) {
    let device = Device::flex();
    let g = Golden::open("vae_tiny_io.safetensors");
    let dist = vae.encode(g.tensor("x", &device));
    assert_close(&format!("{what}: mean"), &to_vec(dist.mean.clone()), &g.vec("mean"), TOL);
    assert_close(&format!("{what}: logvar"), &to_vec(dist.logvar.clone()), &g.vec("logvar"), TOL);
    assert_close(&format!("{what}: sample"), &to_vec(dist.sample(g.tensor("noise", &device))), &g.vec("sample"), TOL);
    assert_close(&format!("{what}: decode"), &to_vec(vae.decode(dist.mode())), &g.vec("decoded"), TOL);
}

#[test]
fn vae_folder_matches_diffusers() {
    let import = load_vae_dir(golden("ip2p_tiny"), &Device::flex()).unwrap();
    assert_eq!(import.config.block_out_channels, vec![8, 16]);
    assert_eq!(import.config.scaling_factor, 0.18215);
    assert_eq!(import.dtypes.get("F32"), Some(&import.tensors));
    check_against_diffusers(&import.model, "vae");
}

#[test]
fn fp16_vae_variant_loads_and_matches_the_rounded_reference() {
    let dir = TempDir::new("vae-fp16");
    dir.copy(&golden(&format!("ip2p_tiny/{VAE_CONFIG}")), VAE_CONFIG);
    dir.copy(&golden("vae_tiny_fp16.safetensors"), VAE_WEIGHTS_FP16);
    let import = load_vae_dir(&dir.0, &Device::flex()).unwrap();
    assert!(import.weights.ends_with(VAE_WEIGHTS_FP16));
    assert_eq!(import.dtypes.get("F16"), Some(&import.tensors));
    let device = Device::flex();
    let g = Golden::open("vae_tiny_fp16_io.safetensors");
    let out = import.model.decode(import.model.encode(g.tensor("x", &device)).mode());
    assert_close("fp16 vae decode", &to_vec(out), &g.vec("decoded"), TOL);
}

#[test]
fn pre_0_14_attention_names_load() {
    // SD 1.5's published VAE names the middle blocks' attention query/key/value/proj_attn.
    let mut renamed = 0;
    let bytes = edited(&folder_weights(), |m| {
        rename_keys(m, |k| {
            let new = k
                .replace(".attentions.0.to_q.", ".attentions.0.query.")
                .replace(".attentions.0.to_k.", ".attentions.0.key.")
                .replace(".attentions.0.to_v.", ".attentions.0.value.")
                .replace(".attentions.0.to_out.0.", ".attentions.0.proj_attn.");
            (new != k).then_some(new)
        });
        renamed = m.keys().filter(|k| k.contains(".query.") || k.contains(".proj_attn.")).count();
    });
    assert_eq!(renamed, 8, "weight and bias of query and proj_attn in the encoder and decoder");
    check_against_diffusers(&load_bytes(bytes).unwrap(), "legacy names");
}

#[test]
fn missing_unexpected_and_mis_shaped_vae_tensors_are_named() {
    let key = "decoder.up_blocks.1.resnets.1.norm2.weight";
    expect_mismatch(load_bytes(edited(&folder_weights(), |m| drop(m.remove(key).unwrap()))), &format!("missing tensors: {key}"));

    let extra = "encoder.mid_block.attentions.1.to_q.weight";
    let bytes = edited(&folder_weights(), |m| drop(m.insert(extra.into(), (Dtype::F32, vec![2], vec![0; 8]))));
    expect_mismatch(load_bytes(bytes), &format!("unexpected tensors: {extra}"));

    let key = "quant_conv.weight";
    let bytes = edited(&folder_weights(), |m| {
        let (_, shape, data) = m.get_mut(key).unwrap();
        assert_eq!(shape, &vec![8, 8, 1, 1]);
        *shape = vec![8, 4, 1, 1];
        data.truncate(8 * 4 * 4);
    });
    expect_mismatch(load_bytes(bytes), key);
}

#[test]
fn vae_saves_in_diffusers_layout_and_reloads() {
    let device = Device::flex();
    let import = load_vae_dir(golden("ip2p_tiny"), &device).unwrap();
    let out = TempDir::new("vae-saved");
    save_vae_dir(&import.model, &import.config, &out.0, WeightFormat::F32).unwrap();
    let ours = read_header(out.0.join(VAE_WEIGHTS)).unwrap();
    let theirs = read_header(folder_weights()).unwrap();
    assert_eq!(ours, theirs, "same names, shapes and dtypes as diffusers' file");
    let again = load_vae_dir(&out.0, &device).unwrap();
    assert_eq!(again.config, import.config);
    check_against_diffusers(&again.model, "reloaded vae");
}

#[test]
fn vae_folder_without_weights_names_the_file() {
    let dir = TempDir::new("vae-empty");
    dir.copy(&golden(&format!("ip2p_tiny/{VAE_CONFIG}")), VAE_CONFIG);
    let err = load_vae_dir(&dir.0, &Device::flex()).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("vae/diffusion_pytorch_model.safetensors"), "{err}");
}
