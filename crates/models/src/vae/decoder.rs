//! diffusers' VAE `Decoder` with its `UpDecoderBlock2D`s: latent `[B, latent_channels, h, w]`
//! -> image `[B, 3, h * f, w * f]`.

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig};
use burn::prelude::*;

use super::config::AutoencoderKLConfig;
use super::mid_block::{UNetMidBlock2D, VAE_NORM_EPS};
use crate::unet::blocks::Upsample2D;
use crate::unet::resnet::{conv3x3, ResnetBlock2D};
use crate::fused::group_norm_silu;

/// `UpDecoderBlock2D`: ResNet blocks without time embedding, then (except in the last block)
/// 2x nearest upsampling and a 3x3 convolution.
#[derive(Module, Debug)]
pub struct UpDecoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub upsamplers: Vec<Upsample2D>,
}

impl UpDecoderBlock2D {
    pub fn new(c_in: usize, c_out: usize, layers: usize, groups: usize, upsample: bool, device: &Device) -> Self {
        Self {
            resnets: (0..layers)
                .map(|i| ResnetBlock2D::new(if i == 0 { c_in } else { c_out }, c_out, None, groups, VAE_NORM_EPS, 1.0, device))
                .collect(),
            upsamplers: if upsample { vec![Upsample2D::new(c_out, device)] } else { vec![] },
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.resnets.iter().fold(x, |x, r| r.forward(x, None));
        self.upsamplers.iter().fold(x, |x, u| {
            let [_, _, h, w] = x.dims();
            u.forward(x, [2 * h, 2 * w])
        })
    }
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv2d,
    pub mid_block: UNetMidBlock2D,
    /// From the lowest resolution up (block_out_channels reversed).
    pub up_blocks: Vec<UpDecoderBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

impl Decoder {
    pub fn new(config: &AutoencoderKLConfig, device: &Device) -> Self {
        let rev: Vec<usize> = config.block_out_channels.iter().rev().copied().collect();
        let groups = config.norm_num_groups;
        let up_blocks = (0..rev.len())
            .map(|i| {
                let c_in = if i == 0 { rev[0] } else { rev[i - 1] };
                UpDecoderBlock2D::new(c_in, rev[i], config.layers_per_block + 1, groups, i + 1 < rev.len(), device)
            })
            .collect();
        let first = config.block_out_channels[0];
        Self {
            conv_in: conv3x3(config.latent_channels, rev[0], device),
            mid_block: UNetMidBlock2D::new(rev[0], groups, config.mid_block_add_attention, device),
            up_blocks,
            conv_norm_out: GroupNormConfig::new(groups, first).with_epsilon(VAE_NORM_EPS).init(device),
            conv_out: conv3x3(first, config.out_channels, device),
        }
    }

    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let x = self.mid_block.forward(self.conv_in.forward(z));
        let x = self.up_blocks.iter().fold(x, |x, b| b.forward(x));
        self.conv_out.forward(group_norm_silu(&self.conv_norm_out, x))
    }
}
