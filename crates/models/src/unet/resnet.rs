//! diffusers' `ResnetBlock2D` ("default" scale-shift mode): with a time embedding in the UNet,
//! without one (`temb_channels=None`) in the VAE.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::silu;
use crate::fused::{conv2d, group_norm_silu};

/// A 3x3 convolution that keeps the spatial size.
pub(crate) fn conv3x3(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    conv_same(c_in, c_out, 3, device)
}

/// A `k`x`k` (odd `k`) convolution padded to keep the spatial size.
pub(crate) fn conv_same(c_in: usize, c_out: usize, k: usize, device: &Device) -> Conv2d {
    let p = (k - 1) / 2;
    Conv2dConfig::new([c_in, c_out], [k, k]).with_padding(PaddingConfig2d::Explicit(p, p, p, p)).init(device)
}

/// A 1x1 convolution.
pub(crate) fn conv1x1(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [1, 1]).init(device)
}

#[derive(Module, Debug)]
pub struct ResnetBlock2D {
    pub norm1: GroupNorm,
    pub conv1: Conv2d,
    /// Projection of the time embedding (absent in the VAE's blocks).
    pub time_emb_proj: Option<Linear>,
    pub norm2: GroupNorm,
    pub conv2: Conv2d,
    /// 1x1 projection of the skip path, present when channels change.
    pub conv_shortcut: Option<Conv2d>,
    /// The output is divided by this (diffusers `output_scale_factor`).
    pub output_scale_factor: f64,
}

impl ResnetBlock2D {
    /// `temb`: width of the time embedding, `None` for a block without one.
    pub fn new(c_in: usize, c_out: usize, temb: Option<usize>, groups: usize, eps: f64, output_scale_factor: f64, device: &Device) -> Self {
        Self {
            norm1: GroupNormConfig::new(groups, c_in).with_epsilon(eps).init(device),
            conv1: conv3x3(c_in, c_out, device),
            time_emb_proj: temb.map(|t| LinearConfig::new(t, c_out).init(device)),
            norm2: GroupNormConfig::new(groups, c_out).with_epsilon(eps).init(device),
            conv2: conv3x3(c_out, c_out, device),
            conv_shortcut: (c_in != c_out).then(|| conv1x1(c_in, c_out, device)),
            output_scale_factor,
        }
    }

    /// `temb` must be given exactly when the block was built with a time embedding (a wiring
    /// bug otherwise, not a user input: it panics).
    pub fn forward(&self, x: Tensor<4>, temb: Option<Tensor<2>>) -> Tensor<4> {
        let mut h = conv2d(&self.conv1, group_norm_silu(&self.norm1, x.clone()));
        match (&self.time_emb_proj, temb) {
            (Some(proj), Some(temb)) => {
                let t = proj.forward(silu(temb));
                let [b, c] = t.dims();
                h = h + t.reshape([b, c, 1, 1]);
            }
            (None, None) => {}
            (proj, _) => panic!("ResnetBlock2D: time embedding {} but the block was built {}", if proj.is_some() { "missing" } else { "given" }, if proj.is_some() { "with one" } else { "without" }),
        }
        let h = conv2d(&self.conv2, group_norm_silu(&self.norm2, h));
        let skip = match &self.conv_shortcut {
            Some(c) => conv2d(c, x),
            None => x,
        };
        let out = skip + h;
        if self.output_scale_factor == 1.0 { out } else { out / self.output_scale_factor }
    }
}
