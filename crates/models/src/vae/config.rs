//! `AutoencoderKLConfig`: the fields of diffusers' `vae/config.json`. Defaults are Stable
//! Diffusion 1.5's.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

fn d_rgb() -> usize { 3 }
fn d_down() -> Vec<String> { vec!["DownEncoderBlock2D".into(); 4] }
fn d_up() -> Vec<String> { vec!["UpDecoderBlock2D".into(); 4] }
fn d_block_out() -> Vec<usize> { vec![128, 256, 512, 512] }
fn d_layers() -> usize { 2 }
fn d_silu() -> String { "silu".into() }
fn d_latent() -> usize { 4 }
fn d_groups() -> usize { 32 }
fn d_sample() -> usize { 512 }
fn d_scaling() -> f64 { 0.18215 }
fn d_true() -> bool { true }

/// The VAE's architecture, as in diffusers' `vae/config.json` (class `AutoencoderKL`). Unknown
/// JSON fields are ignored; known fields that would need modules this crate lacks are rejected
/// by [`validate`](Self::validate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderKLConfig {
    /// Channels of the image (RGB: 3).
    #[serde(default = "d_rgb")]
    pub in_channels: usize,
    /// Channels of the decoded image (RGB: 3).
    #[serde(default = "d_rgb")]
    pub out_channels: usize,
    /// Encoder blocks, from the highest resolution down; only `DownEncoderBlock2D`.
    #[serde(default = "d_down")]
    pub down_block_types: Vec<String>,
    /// Decoder blocks, from the lowest resolution up; only `UpDecoderBlock2D`.
    #[serde(default = "d_up")]
    pub up_block_types: Vec<String>,
    /// Output channels of each encoder block (the decoder uses them reversed). Every block but
    /// the last halves the resolution: the latent is `2^(n-1)` times smaller (SD: 8).
    #[serde(default = "d_block_out")]
    pub block_out_channels: Vec<usize>,
    /// ResNet layers per encoder block (decoder blocks have one more).
    #[serde(default = "d_layers")]
    pub layers_per_block: usize,
    /// Activation everywhere; only `silu`.
    #[serde(default = "d_silu")]
    pub act_fn: String,
    /// Channels of the latent (SD: 4). The encoder outputs twice as many: mean and log-variance.
    #[serde(default = "d_latent")]
    pub latent_channels: usize,
    /// Groups of every GroupNorm (epsilon is 1e-6 throughout, as diffusers' VAE).
    #[serde(default = "d_groups")]
    pub norm_num_groups: usize,
    /// Image side, in pixels, the VAE was trained on (informational; any multiple of the
    /// downsampling factor works).
    #[serde(default = "d_sample")]
    pub sample_size: usize,
    /// Latents are multiplied by this before the UNet and divided by it before decoding
    /// (SD 1.5: 0.18215, so that the latents have roughly unit variance). The model itself
    /// does not apply it; the pipeline does.
    #[serde(default = "d_scaling")]
    pub scaling_factor: f64,
    /// Subtracted from latents before scaling (SD 3, FLUX); null for SD 1.5. Applied by the
    /// pipeline, not the model.
    #[serde(default)]
    pub shift_factor: Option<f64>,
    /// diffusers runs this VAE in fp32 even in fp16 pipelines; informational here.
    #[serde(default = "d_true")]
    pub force_upcast: bool,
    /// A 1x1 `quant_conv` after the encoder (true for SD 1.5).
    #[serde(default = "d_true")]
    pub use_quant_conv: bool,
    /// A 1x1 `post_quant_conv` before the decoder (true for SD 1.5).
    #[serde(default = "d_true")]
    pub use_post_quant_conv: bool,
    /// Self-attention in the encoder's and decoder's middle blocks (true for SD 1.5).
    #[serde(default = "d_true")]
    pub mid_block_add_attention: bool,
}

impl Default for AutoencoderKLConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

impl AutoencoderKLConfig {
    /// Parses a diffusers `vae/config.json` and validates it.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(json).map_err(|e| ModelError::InvalidConfig(format!("vae config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a diffusers `vae/config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::error::read_config_file(path.as_ref(), Self::from_json_str)
    }

    /// How many times smaller the latent is than the image, per side (SD: 8).
    pub fn downscale_factor(&self) -> usize {
        1 << self.block_out_channels.len().saturating_sub(1)
    }

    /// Checks that the config describes a network this crate builds, naming the first offender.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        let n = self.block_out_channels.len();
        if n == 0 {
            return bad("vae block_out_channels is empty".into());
        }
        if self.down_block_types.len() != n || self.up_block_types.len() != n {
            return bad(format!(
                "vae down_block_types ({}) and up_block_types ({}) must have one entry per block_out_channels ({n})",
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        if let Some(t) = self.down_block_types.iter().find(|t| *t != "DownEncoderBlock2D") {
            return bad(format!("vae down block {t:?} is not supported (only DownEncoderBlock2D)"));
        }
        if let Some(t) = self.up_block_types.iter().find(|t| *t != "UpDecoderBlock2D") {
            return bad(format!("vae up block {t:?} is not supported (only UpDecoderBlock2D)"));
        }
        if let Some((i, c)) = self.block_out_channels.iter().enumerate().find(|(_, c)| *c % self.norm_num_groups != 0) {
            return bad(format!("vae block_out_channels[{i}] = {c} is not divisible by norm_num_groups = {}", self.norm_num_groups));
        }
        if self.act_fn != "silu" {
            return bad(format!("vae act_fn {:?} is not supported (only silu)", self.act_fn));
        }
        if self.layers_per_block == 0 || self.latent_channels == 0 {
            return bad("vae layers_per_block and latent_channels must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd15_vae_config_parses() {
        // runwayml/stable-diffusion-v1-5 vae/config.json.
        let json = r#"{"_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu",
          "block_out_channels": [128, 256, 512, 512],
          "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
          "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
          "out_channels": 3, "sample_size": 512,
          "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}"#;
        let cfg = AutoencoderKLConfig::from_json_str(json).unwrap();
        assert_eq!(cfg, AutoencoderKLConfig::default());
        assert_eq!(cfg.downscale_factor(), 8);
        assert_eq!(cfg.scaling_factor, 0.18215);
    }

    #[test]
    fn rejects_unbuildable_vae_configs() {
        let err = AutoencoderKLConfig::from_json_str(r#"{"down_block_types": ["DownEncoderBlock2D"]}"#).unwrap_err();
        assert!(err.to_string().contains("down_block_types"), "{err}");
        let err = AutoencoderKLConfig::from_json_str(r#"{"norm_num_groups": 48}"#).unwrap_err();
        assert!(err.to_string().contains("norm_num_groups"), "{err}");
        let err = AutoencoderKLConfig::from_json_str(r#"{"act_fn": "gelu"}"#).unwrap_err();
        assert!(err.to_string().contains("gelu"), "{err}");
    }
}
