//! diffusers' `AutoencoderKL` (the SD 1.5 VAE): `encode` to a diagonal Gaussian over latents,
//! `decode` latents to images. Images are in `[-1, 1]`; the latent scaling
//! (`scaling_factor`) is the pipeline's business.

use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::config::AutoencoderKLConfig;
use super::decoder::Decoder;
use super::encoder::Encoder;
use super::gaussian::DiagonalGaussian;
use crate::store::{CheckpointKeys, Remap};
use crate::unet::resnet::conv1x1;
use crate::Result;

#[derive(Module, Debug)]
pub struct AutoencoderKL {
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// 1x1 convolution of the moments (`use_quant_conv`).
    pub quant_conv: Option<Conv2d>,
    /// 1x1 convolution of the latent before decoding (`use_post_quant_conv`).
    pub post_quant_conv: Option<Conv2d>,
}

/// Checkpoints written before diffusers 0.14 name the middle blocks' attention
/// `query`/`key`/`value`/`proj_attn` (SD 1.5's published VAE among them); diffusers converts them
/// on load (`_convert_deprecated_attention_blocks`), and so do we. We save the current names.
impl CheckpointKeys for AutoencoderKL {
    const LOAD_REMAP: &'static [Remap] = &[
        (r"^((?:en|de)coder\.mid_block\.attentions\.\d+)\.query\.", "$1.to_q."),
        (r"^((?:en|de)coder\.mid_block\.attentions\.\d+)\.key\.", "$1.to_k."),
        (r"^((?:en|de)coder\.mid_block\.attentions\.\d+)\.value\.", "$1.to_v."),
        (r"^((?:en|de)coder\.mid_block\.attentions\.\d+)\.proj_attn\.", "$1.to_out.0."),
    ];
    const SAVE_REMAP: &'static [Remap] = &[];
}

impl AutoencoderKL {
    pub fn new(config: &AutoencoderKLConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let moments = 2 * config.latent_channels;
        Ok(Self {
            encoder: Encoder::new(config, device),
            decoder: Decoder::new(config, device),
            quant_conv: config.use_quant_conv.then(|| conv1x1(moments, moments, device)),
            post_quant_conv: config.use_post_quant_conv.then(|| conv1x1(config.latent_channels, config.latent_channels, device)),
        })
    }

    /// Image `[B, in_channels, H, W]` in `[-1, 1]` (H and W multiples of the downscale factor)
    /// -> the posterior over latents `[B, latent_channels, H / f, W / f]`.
    pub fn encode(&self, x: Tensor<4>) -> DiagonalGaussian {
        let moments = self.encoder.forward(x);
        let moments = match &self.quant_conv {
            Some(conv) => conv.forward(moments),
            None => moments,
        };
        DiagonalGaussian::from_moments(moments)
    }

    /// Latent `[B, latent_channels, h, w]` (unscaled: divide the UNet's latents by
    /// `scaling_factor` first) -> image `[B, out_channels, h * f, w * f]`, roughly in `[-1, 1]`.
    pub fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        let z = match &self.post_quant_conv {
            Some(conv) => conv.forward(z),
            None => z,
        };
        self.decoder.forward(z)
    }
}
