//! diffusers' VAE `Encoder` with its `DownEncoderBlock2D`s: image `[B, 3, H, W]` -> moments
//! `[B, 2 * latent_channels, H / f, W / f]`.

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig};
use burn::prelude::*;

use super::config::AutoencoderKLConfig;
use super::mid_block::{UNetMidBlock2D, VAE_NORM_EPS};
use crate::unet::blocks::Downsample2D;
use crate::unet::resnet::{conv3x3, ResnetBlock2D};
use crate::fused::group_norm_silu;

/// `DownEncoderBlock2D`: ResNet blocks without time embedding, then (except in the last block)
/// a stride-2 convolution after padding the bottom and right by one pixel.
#[derive(Module, Debug)]
pub struct DownEncoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub downsamplers: Vec<Downsample2D>,
}

impl DownEncoderBlock2D {
    pub fn new(c_in: usize, c_out: usize, layers: usize, groups: usize, downsample: bool, device: &Device) -> Self {
        Self {
            resnets: (0..layers)
                .map(|i| ResnetBlock2D::new(if i == 0 { c_in } else { c_out }, c_out, None, groups, VAE_NORM_EPS, 1.0, device))
                .collect(),
            // diffusers: Downsample2D(padding=0), i.e. F.pad(x, (0, 1, 0, 1)) then conv.
            downsamplers: if downsample { vec![Downsample2D::new(c_out, 0, device)] } else { vec![] },
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.resnets.iter().fold(x, |x, r| r.forward(x, None));
        self.downsamplers.iter().fold(x, |x, d| d.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv2d,
    pub down_blocks: Vec<DownEncoderBlock2D>,
    pub mid_block: UNetMidBlock2D,
    pub conv_norm_out: GroupNorm,
    /// To `2 * latent_channels` (diffusers' `double_z`): mean and log-variance.
    pub conv_out: Conv2d,
}

impl Encoder {
    pub fn new(config: &AutoencoderKLConfig, device: &Device) -> Self {
        let boc = &config.block_out_channels;
        let groups = config.norm_num_groups;
        let last = *boc.last().expect("validated: non-empty");
        let down_blocks = (0..boc.len())
            .map(|i| {
                let c_in = if i == 0 { boc[0] } else { boc[i - 1] };
                DownEncoderBlock2D::new(c_in, boc[i], config.layers_per_block, groups, i + 1 < boc.len(), device)
            })
            .collect();
        Self {
            conv_in: conv3x3(config.in_channels, boc[0], device),
            down_blocks,
            mid_block: UNetMidBlock2D::new(last, groups, config.mid_block_add_attention, device),
            conv_norm_out: GroupNormConfig::new(groups, last).with_epsilon(VAE_NORM_EPS).init(device),
            conv_out: conv3x3(last, 2 * config.latent_channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv_in.forward(x);
        let x = self.down_blocks.iter().fold(x, |x, b| b.forward(x));
        let x = self.mid_block.forward(x);
        self.conv_out.forward(group_norm_silu(&self.conv_norm_out, x))
    }
}
