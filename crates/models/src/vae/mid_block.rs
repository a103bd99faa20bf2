//! diffusers' `UNetMidBlock2D` as the VAE builds it: resnet, then (self-attention, resnet),
//! no time embedding, GroupNorm epsilon 1e-6.

use burn::prelude::*;

use crate::unet::attention::Attention;
use crate::unet::resnet::ResnetBlock2D;

/// Epsilon of every GroupNorm in the VAE.
pub const VAE_NORM_EPS: f64 = 1e-6;

#[derive(Module, Debug)]
pub struct UNetMidBlock2D {
    /// One self-attention over the pixels (single head of all channels), or none when the
    /// config says `mid_block_add_attention: false`.
    pub attentions: Vec<Attention>,
    /// Two ResNet blocks.
    pub resnets: Vec<ResnetBlock2D>,
}

impl UNetMidBlock2D {
    pub fn new(channels: usize, groups: usize, attention: bool, device: &Device) -> Self {
        let resnet = || ResnetBlock2D::new(channels, channels, None, groups, VAE_NORM_EPS, 1.0, device);
        Self {
            // diffusers' encoder/decoder pass attention_head_dim = channels: one head.
            attentions: if attention { vec![Attention::spatial(channels, channels, groups, VAE_NORM_EPS, device)] } else { vec![] },
            resnets: vec![resnet(), resnet()],
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.resnets[0].forward(x, None);
        for (i, resnet) in self.resnets[1..].iter().enumerate() {
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward_spatial(x);
            }
            x = resnet.forward(x, None);
        }
        x
    }
}
