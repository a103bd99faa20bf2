//! `UNet2DConditionConfig`: the fields of diffusers' `unet/config.json` that shape the network.
//! Defaults are Stable Diffusion 1.5's (with InstructPix2Pix's 8 input channels).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// A diffusers config value that is either one number for every block or one per block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    /// The same value for every block.
    All(usize),
    /// One value per down block (up blocks use the list reversed, as diffusers does).
    Each(Vec<usize>),
}

impl PerBlock {
    /// The value for down block `i` of `n`.
    pub fn get(&self, i: usize) -> usize {
        match self {
            PerBlock::All(v) => *v,
            PerBlock::Each(v) => v[i],
        }
    }

    fn check_len(&self, n: usize, name: &str) -> Result<()> {
        match self {
            PerBlock::Each(v) if v.len() != n => Err(ModelError::InvalidConfig(format!(
                "{name} has {} entries, expected one per block ({n})",
                v.len()
            ))),
            _ => Ok(()),
        }
    }
}

/// Block kinds of diffusers' UNet2DConditionModel that this crate builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DownBlockType {
    /// ResNet blocks, each followed by a Transformer2DModel.
    CrossAttnDownBlock2D,
    /// ResNet blocks only.
    DownBlock2D,
}

/// Up-path counterpart of [`DownBlockType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpBlockType {
    /// ResNet blocks, each followed by a Transformer2DModel.
    CrossAttnUpBlock2D,
    /// ResNet blocks only.
    UpBlock2D,
}

fn d_in() -> usize { 8 }
fn d_out() -> usize { 4 }
fn d_block_out() -> Vec<usize> { vec![320, 640, 1280, 1280] }
fn d_layers() -> PerBlock { PerBlock::All(2) }
fn d_down() -> Vec<DownBlockType> {
    use DownBlockType::*;
    vec![CrossAttnDownBlock2D, CrossAttnDownBlock2D, CrossAttnDownBlock2D, DownBlock2D]
}
fn d_up() -> Vec<UpBlockType> {
    use UpBlockType::*;
    vec![UpBlock2D, CrossAttnUpBlock2D, CrossAttnUpBlock2D, CrossAttnUpBlock2D]
}
fn d_mid() -> Option<String> { Some("UNetMidBlock2DCrossAttn".into()) }
fn d_head() -> PerBlock { PerBlock::All(8) }
fn d_one() -> PerBlock { PerBlock::All(1) }
fn d_cross() -> usize { 768 }
fn d_groups() -> usize { 32 }
fn d_eps() -> f64 { 1e-5 }
fn d_true() -> bool { true }
fn d_pad() -> usize { 1 }
fn d_scale() -> f64 { 1.0 }
fn d_silu() -> String { "silu".into() }
fn d_kernel() -> usize { 3 }
fn d_default() -> String { "default".into() }
fn d_positional() -> String { "positional".into() }

/// The UNet's architecture, as in diffusers' `unet/config.json`. Unknown JSON fields are ignored;
/// known fields that would need modules this crate lacks are rejected by [`validate`](Self::validate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UNet2DConditionConfig {
    /// Channels of the input sample (InstructPix2Pix: 4 noisy latent + 4 source-image latent).
    #[serde(default = "d_in")]
    pub in_channels: usize,
    /// Channels of the predicted noise.
    #[serde(default = "d_out")]
    pub out_channels: usize,
    /// Output channels of each down block; `block_out_channels[0]` is also the width of
    /// `conv_in` and of the timestep sinusoid.
    #[serde(default = "d_block_out")]
    pub block_out_channels: Vec<usize>,
    /// ResNet layers per down block (up blocks have one more).
    #[serde(default = "d_layers")]
    pub layers_per_block: PerBlock,
    /// Kind of each down block, from the highest resolution down.
    #[serde(default = "d_down")]
    pub down_block_types: Vec<DownBlockType>,
    /// Kind of each up block, from the lowest resolution up.
    #[serde(default = "d_up")]
    pub up_block_types: Vec<UpBlockType>,
    /// Middle block; only `UNetMidBlock2DCrossAttn` is supported.
    #[serde(default = "d_mid")]
    pub mid_block_type: Option<String>,
    /// Despite its name, the number of attention heads per block when `num_attention_heads`
    /// is absent (a diffusers quirk kept for old configs such as SD 1.5's).
    #[serde(default = "d_head")]
    pub attention_head_dim: PerBlock,
    /// Attention heads per block; overrides `attention_head_dim` when present.
    #[serde(default)]
    pub num_attention_heads: Option<PerBlock>,
    /// Transformer blocks inside each Transformer2DModel.
    #[serde(default = "d_one")]
    pub transformer_layers_per_block: PerBlock,
    /// Width of the text tokens the cross-attention reads (CLIP ViT-L/14: 768).
    #[serde(default = "d_cross")]
    pub cross_attention_dim: usize,
    /// Groups of every GroupNorm in ResNet and output layers.
    #[serde(default = "d_groups")]
    pub norm_num_groups: usize,
    /// Epsilon of the ResNet and output GroupNorms (transformers use 1e-6, as diffusers).
    #[serde(default = "d_eps")]
    pub norm_eps: f64,
    /// Timestep sinusoid as `[cos, sin]` instead of `[sin, cos]`.
    #[serde(default = "d_true")]
    pub flip_sin_to_cos: bool,
    /// Frequency shift of the timestep sinusoid (`downscale_freq_shift` in diffusers).
    #[serde(default)]
    pub freq_shift: f64,
    /// Padding of the stride-2 downsampling convolutions, in pixels.
    #[serde(default = "d_pad")]
    pub downsample_padding: usize,
    /// The ResNet outputs of the middle block are divided by this.
    #[serde(default = "d_scale")]
    pub mid_block_scale_factor: f64,
    /// Map the input from [0, 1] to [-1, 1] first.
    #[serde(default)]
    pub center_input_sample: bool,
    /// Activation everywhere in the UNet; only `silu` is supported.
    #[serde(default = "d_silu")]
    pub act_fn: String,
    /// Kernel size of `conv_in` (odd; padding keeps the size).
    #[serde(default = "d_kernel")]
    pub conv_in_kernel: usize,
    /// Kernel size of `conv_out` (odd; padding keeps the size).
    #[serde(default = "d_kernel")]
    pub conv_out_kernel: usize,
    /// Linear instead of 1x1-conv projections in transformers (SD 2); must be false here.
    #[serde(default)]
    pub use_linear_projection: bool,
    /// Must be false: cross-attention-only transformer blocks are not built.
    #[serde(default)]
    pub only_cross_attention: bool,
    /// Must be false: dual cross-attention is not built.
    #[serde(default)]
    pub dual_cross_attention: bool,
    /// Must be "default" (time embedding added, not scale-shift).
    #[serde(default = "d_default")]
    pub resnet_time_scale_shift: String,
    /// Must be "positional" (the sinusoid).
    #[serde(default = "d_positional")]
    pub time_embedding_type: String,
    /// Must be null: class embeddings are not built.
    #[serde(default)]
    pub class_embed_type: Option<String>,
    /// Must be null: diffusers' own added embeddings (SDXL) are not built.
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    /// Must be null: timestep-conditioning projections (LCM) are not built.
    #[serde(default)]
    pub time_cond_proj_dim: Option<usize>,
    /// Must be null: no activation after the time embedding.
    #[serde(default)]
    pub time_embedding_act_fn: Option<String>,
    /// Must be null: no activation inside the time embedding after its second linear.
    #[serde(default)]
    pub timestep_post_act: Option<String>,
    /// Must be null: the time embedding is 4 x `block_out_channels[0]` wide.
    #[serde(default)]
    pub time_embedding_dim: Option<usize>,
    /// Must be null: text tokens are used as given.
    #[serde(default)]
    pub encoder_hid_dim: Option<usize>,
}

impl Default for UNet2DConditionConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

impl UNet2DConditionConfig {
    /// Parses a diffusers `config.json` and validates it.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(json)
            .map_err(|e| ModelError::InvalidConfig(format!("unet config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a diffusers `unet/config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::error::read_config_file(path.as_ref(), Self::from_json_str)
    }

    /// Width of the time embedding (4 x `block_out_channels[0]`, as diffusers).
    pub fn time_embed_dim(&self) -> usize {
        self.block_out_channels[0] * 4
    }

    /// Attention heads of down block `i` (diffusers: `num_attention_heads or attention_head_dim`).
    pub fn heads(&self, i: usize) -> usize {
        self.num_attention_heads.as_ref().unwrap_or(&self.attention_head_dim).get(i)
    }

    /// Checks that the config describes a network this crate builds, naming the first offender.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        let n = self.block_out_channels.len();
        if n == 0 {
            return bad("block_out_channels is empty".into());
        }
        if self.down_block_types.len() != n || self.up_block_types.len() != n {
            return bad(format!(
                "down_block_types ({}) and up_block_types ({}) must have one entry per block_out_channels ({n})",
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        self.layers_per_block.check_len(n, "layers_per_block")?;
        self.attention_head_dim.check_len(n, "attention_head_dim")?;
        self.transformer_layers_per_block.check_len(n, "transformer_layers_per_block")?;
        if let Some(h) = &self.num_attention_heads {
            h.check_len(n, "num_attention_heads")?;
        }
        for (i, &c) in self.block_out_channels.iter().enumerate() {
            if c % self.norm_num_groups != 0 {
                return bad(format!("block_out_channels[{i}] = {c} is not divisible by norm_num_groups = {}", self.norm_num_groups));
            }
            if c % self.heads(i) != 0 {
                return bad(format!("block_out_channels[{i}] = {c} is not divisible by {} heads", self.heads(i)));
            }
        }
        if self.mid_block_type.as_deref() != Some("UNetMidBlock2DCrossAttn") {
            return bad(format!("mid_block_type {:?} is not supported", self.mid_block_type));
        }
        if self.act_fn != "silu" {
            return bad(format!("act_fn {:?} is not supported (only silu)", self.act_fn));
        }
        if self.conv_in_kernel.is_multiple_of(2) || self.conv_out_kernel.is_multiple_of(2) {
            return bad("conv_in_kernel and conv_out_kernel must be odd".into());
        }
        let unsupported = [
            (self.use_linear_projection, "use_linear_projection"),
            (self.only_cross_attention, "only_cross_attention"),
            (self.dual_cross_attention, "dual_cross_attention"),
            (self.resnet_time_scale_shift != "default", "resnet_time_scale_shift"),
            (self.time_embedding_type != "positional", "time_embedding_type"),
            (self.class_embed_type.is_some(), "class_embed_type"),
            (self.addition_embed_type.is_some(), "addition_embed_type"),
            (self.time_cond_proj_dim.is_some(), "time_cond_proj_dim"),
            (self.time_embedding_act_fn.is_some(), "time_embedding_act_fn"),
            (self.timestep_post_act.is_some(), "timestep_post_act"),
            (self.encoder_hid_dim.is_some(), "encoder_hid_dim"),
            (self.time_embedding_dim.is_some(), "time_embedding_dim"),
        ];
        if let Some((_, name)) = unsupported.iter().find(|(on, _)| *on) {
            return bad(format!("{name} is set to a value this crate does not build"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd15_instruct_pix2pix_config_parses() {
        // The fields of timbrooks/instruct-pix2pix unet/config.json.
        let json = r#"{"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0",
          "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false, "cross_attention_dim": 768,
          "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
          "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 8,
          "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32,
          "out_channels": 4, "sample_size": 32,
          "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}"#;
        let cfg = UNet2DConditionConfig::from_json_str(json).unwrap();
        assert_eq!(cfg, UNet2DConditionConfig::default());
        assert_eq!(cfg.time_embed_dim(), 1280);
        assert_eq!(cfg.heads(3), 8);
    }

    #[test]
    fn rejects_unbuildable_configs() {
        let err = UNet2DConditionConfig::from_json_str(r#"{"use_linear_projection": true}"#).unwrap_err();
        assert!(err.to_string().contains("use_linear_projection"), "{err}");
        let err = UNet2DConditionConfig::from_json_str(r#"{"block_out_channels": [32, 64]}"#).unwrap_err();
        assert!(err.to_string().contains("down_block_types"), "{err}");
        let err = UNet2DConditionConfig::from_json_str(r#"{"norm_num_groups": 7}"#).unwrap_err();
        assert!(err.to_string().contains("norm_num_groups"), "{err}");
    }
}
