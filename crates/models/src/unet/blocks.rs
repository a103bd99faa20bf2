//! diffusers' UNet blocks: `CrossAttnDownBlock2D`/`DownBlock2D`, `UNetMidBlock2DCrossAttn`,
//! `CrossAttnUpBlock2D`/`UpBlock2D`, with `Downsample2D` and `Upsample2D`.
//!
//! The attention and plain variants are one struct each with an `attentions` list that is empty
//! for the plain kind: their state-dict keys are then exactly diffusers' (an enum would add its
//! variant name to every key).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::attention::Transformer2DModel;
use super::resnet::{conv3x3, ResnetBlock2D};
use crate::fused::conv2d;

/// diffusers' `Downsample2D` with a convolution: 3x3, stride 2.
#[derive(Module, Debug)]
pub struct Downsample2D {
    pub conv: Conv2d,
}

impl Downsample2D {
    /// `padding` pixels on every side; 0 means diffusers' `F.pad(x, (0, 1, 0, 1))` before an
    /// unpadded convolution (the VAE's encoder), i.e. one pixel at the bottom and right.
    pub fn new(channels: usize, padding: usize, device: &Device) -> Self {
        let p = padding;
        let pad = if p == 0 { PaddingConfig2d::Explicit(0, 0, 1, 1) } else { PaddingConfig2d::Explicit(p, p, p, p) };
        let conv = Conv2dConfig::new([channels, channels], [3, 3])
            .with_stride([2, 2])
            .with_padding(pad)
            .init(device);
        Self { conv }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(&self.conv, x)
    }
}

/// diffusers' `Upsample2D` with a convolution: nearest-neighbour upsampling, then 3x3 conv.
#[derive(Module, Debug)]
pub struct Upsample2D {
    pub conv: Conv2d,
}

impl Upsample2D {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self { conv: conv3x3(channels, channels, device) }
    }

    /// Upsamples to `size` (the skip connection's size, so odd sizes round-trip as in diffusers).
    pub fn forward(&self, x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let up = if size == [2 * h, 2 * w] {
            // Exact 2x nearest as a broadcast: each pixel becomes a 2x2 block.
            x.reshape([b, c, h, 1, w, 1]).expand([b, c, h, 2, w, 2]).reshape([b, c, 2 * h, 2 * w])
        } else {
            // PyTorch's legacy "nearest" (floor mapping), which burn's Nearest matches.
            let mut opts = InterpolateOptions::new(InterpolateMode::Nearest);
            opts.output_size = Some(size);
            interpolate(x, opts)
        };
        conv2d(&self.conv, up)
    }
}

/// Everything a block needs to know about the UNet around it.
#[derive(Debug, Clone, Copy)]
pub struct BlockSpec {
    /// ResNet layers in the block.
    pub layers: usize,
    /// Attention heads (head width = channels / heads).
    pub heads: usize,
    /// Transformer blocks in each Transformer2DModel.
    pub transformer_layers: usize,
    /// Width of the text tokens.
    pub cross_dim: usize,
    /// Width of the time embedding.
    pub temb: usize,
    /// GroupNorm groups.
    pub groups: usize,
    /// ResNet GroupNorm epsilon.
    pub eps: f64,
    /// Whether the block has Transformer2DModels.
    pub attention: bool,
}

impl BlockSpec {
    fn transformer(&self, channels: usize, device: &Device) -> Transformer2DModel {
        Transformer2DModel::new(channels, self.heads, self.transformer_layers, self.cross_dim, self.groups, device)
    }

    fn resnet(&self, c_in: usize, c_out: usize, scale: f64, device: &Device) -> ResnetBlock2D {
        ResnetBlock2D::new(c_in, c_out, Some(self.temb), self.groups, self.eps, scale, device)
    }
}

/// `CrossAttnDownBlock2D` (with `attentions`) or `DownBlock2D` (without).
#[derive(Module, Debug)]
pub struct DownBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    /// One entry except in the last block (diffusers keeps a list).
    pub downsamplers: Vec<Downsample2D>,
}

impl DownBlock2D {
    pub fn new(spec: BlockSpec, c_in: usize, c_out: usize, downsample: Option<usize>, device: &Device) -> Self {
        Self {
            resnets: (0..spec.layers)
                .map(|i| spec.resnet(if i == 0 { c_in } else { c_out }, c_out, 1.0, device))
                .collect(),
            attentions: if spec.attention { (0..spec.layers).map(|_| spec.transformer(c_out, device)).collect() } else { vec![] },
            downsamplers: downsample.map(|pad| Downsample2D::new(c_out, pad, device)).into_iter().collect(),
        }
    }

    /// Returns the output and every intermediate state kept for the up path's skips.
    pub fn forward(&self, mut x: Tensor<4>, temb: Tensor<2>, context: Tensor<3>) -> (Tensor<4>, Vec<Tensor<4>>) {
        let mut states = Vec::with_capacity(self.resnets.len() + 1);
        for (i, resnet) in self.resnets.iter().enumerate() {
            x = resnet.forward(x, Some(temb.clone()));
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x, context.clone());
            }
            states.push(x.clone());
        }
        for down in &self.downsamplers {
            x = down.forward(x);
            states.push(x.clone());
        }
        (x, states)
    }
}

/// diffusers' `UNetMidBlock2DCrossAttn`: resnet, then (attention, resnet) per layer (one here).
#[derive(Module, Debug)]
pub struct UNetMidBlock2DCrossAttn {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
}

impl UNetMidBlock2DCrossAttn {
    pub fn new(spec: BlockSpec, channels: usize, output_scale_factor: f64, device: &Device) -> Self {
        Self {
            resnets: (0..2).map(|_| spec.resnet(channels, channels, output_scale_factor, device)).collect(),
            attentions: vec![spec.transformer(channels, device)],
        }
    }

    pub fn forward(&self, x: Tensor<4>, temb: Tensor<2>, context: Tensor<3>) -> Tensor<4> {
        let mut x = self.resnets[0].forward(x, Some(temb.clone()));
        for (attn, resnet) in self.attentions.iter().zip(&self.resnets[1..]) {
            x = resnet.forward(attn.forward(x, context.clone()), Some(temb.clone()));
        }
        x
    }
}

/// `CrossAttnUpBlock2D` (with `attentions`) or `UpBlock2D` (without).
#[derive(Module, Debug)]
pub struct UpBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    /// One entry except in the last block.
    pub upsamplers: Vec<Upsample2D>,
}

impl UpBlock2D {
    /// `c_prev`: channels coming from below; `c_skip_in`: channels of the deepest skip this
    /// block takes (the next down block's input), as diffusers' `in_channels`.
    pub fn new(spec: BlockSpec, c_skip_in: usize, c_out: usize, c_prev: usize, upsample: bool, device: &Device) -> Self {
        let n = spec.layers;
        Self {
            resnets: (0..n)
                .map(|i| {
                    let skip = if i == n - 1 { c_skip_in } else { c_out };
                    let from_below = if i == 0 { c_prev } else { c_out };
                    spec.resnet(from_below + skip, c_out, 1.0, device)
                })
                .collect(),
            attentions: if spec.attention { (0..n).map(|_| spec.transformer(c_out, device)).collect() } else { vec![] },
            upsamplers: if upsample { vec![Upsample2D::new(c_out, device)] } else { vec![] },
        }
    }

    /// `skips` are consumed from the end; `up_size` is the spatial size after upsampling.
    pub fn forward(&self, mut x: Tensor<4>, skips: &mut Vec<Tensor<4>>, temb: Tensor<2>, context: Tensor<3>, up_size: Option<[usize; 2]>) -> Tensor<4> {
        for (i, resnet) in self.resnets.iter().enumerate() {
            let skip = skips.pop().expect("the down path leaves one skip per up-path resnet");
            x = resnet.forward(Tensor::cat(vec![x, skip], 1), Some(temb.clone()));
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x, context.clone());
            }
        }
        for up in &self.upsamplers {
            let [_, _, h, w] = x.dims();
            x = up.forward(x, up_size.unwrap_or([2 * h, 2 * w]));
        }
        x
    }
}
