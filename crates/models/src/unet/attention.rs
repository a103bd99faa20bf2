//! diffusers' `Transformer2DModel` (continuous input, 1x1-conv projections) with its
//! `BasicTransformerBlock`s: self-attention, cross-attention on the text tokens, GEGLU feed-forward.

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;

use super::resnet::conv1x1;
use crate::fused::{self, conv2d, group_norm};

/// Splits `[B, T, heads * d]` into `[B, heads, T, d]`.
pub(crate) fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<4> {
    let [b, t, c] = x.dims();
    x.reshape([b, t, heads, c / heads]).swap_dims(1, 2)
}

/// Inverse of [`split_heads`].
pub(crate) fn merge_heads(x: Tensor<4>) -> Tensor<3> {
    let [b, h, t, d] = x.dims();
    x.swap_dims(1, 2).reshape([b, t, h * d])
}

/// Scaled dot-product attention over heads, scale `1/sqrt(head_dim)`; `causal` lets each
/// token see only itself and the tokens before it (CLIP's text encoder).
pub(crate) fn multi_head_attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, heads: usize, causal: bool) -> Tensor<3> {
    merge_heads(crate::fused::attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads), causal))
}

/// diffusers' `Attention` (processor `AttnProcessor2_0`). In the UNet's transformers: bias-free
/// q/k/v, biased output, no norm. In the VAE's middle block ([`Attention::spatial`]): a
/// GroupNorm first, biased q/k/v, and a residual connection over a feature map.
#[derive(Module, Debug)]
pub struct Attention {
    /// GroupNorm of a spatial input (diffusers' `norm_num_groups`); absent in transformers.
    pub group_norm: Option<GroupNorm>,
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    /// diffusers' `to_out` is `[Linear, Dropout]`; only index 0 holds weights.
    pub to_out: Vec<Linear>,
    pub heads: usize,
}

impl Attention {
    /// `context_dim = None` makes it self-attention.
    pub fn new(query_dim: usize, context_dim: Option<usize>, heads: usize, head_dim: usize, device: &Device) -> Self {
        let inner = heads * head_dim;
        let ctx = context_dim.unwrap_or(query_dim);
        let nobias = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        Self {
            group_norm: None,
            to_q: nobias(query_dim, inner),
            to_k: nobias(ctx, inner),
            to_v: nobias(ctx, inner),
            to_out: vec![LinearConfig::new(inner, query_dim).init(device)],
            heads,
        }
    }

    /// Self-attention over the pixels of a `channels`-wide map, as the VAE's
    /// `UNetMidBlock2D` builds it: GroupNorm (`groups`, `eps`), biased q/k/v, heads of
    /// `head_dim` channels (SD's VAE: one head of all channels).
    pub fn spatial(channels: usize, head_dim: usize, groups: usize, eps: f64, device: &Device) -> Self {
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        Self {
            group_norm: Some(GroupNormConfig::new(groups, channels).with_epsilon(eps).init(device)),
            to_q: linear(channels, channels),
            to_k: linear(channels, channels),
            to_v: linear(channels, channels),
            to_out: vec![linear(channels, channels)],
            heads: channels / head_dim,
        }
    }

    /// `[B, C, H, W]` -> the same, with the attention output added to the input (diffusers'
    /// `residual_connection=True`, `rescale_output_factor=1`).
    pub fn forward_spatial(&self, x: Tensor<4>) -> Tensor<4> {
        let dims = x.dims();
        let h = match &self.group_norm {
            Some(norm) => group_norm(norm, x.clone()),
            None => x.clone(),
        };
        tokens_to_map(self.forward(map_to_tokens(h), None), dims) + x
    }

    /// `context = None` attends to `x` itself.
    pub fn forward(&self, x: Tensor<3>, context: Option<Tensor<3>>) -> Tensor<3> {
        let ctx = context.unwrap_or_else(|| x.clone());
        let q = self.to_q.forward(x);
        let k = self.to_k.forward(ctx.clone());
        let v = self.to_v.forward(ctx);
        self.to_out[0].forward(multi_head_attention(q, k, v, self.heads, false))
    }
}

/// diffusers' `GEGLU`: `proj` makes value and gate; output `value * gelu(gate)` (exact GELU).
#[derive(Module, Debug)]
pub struct GEGLU {
    pub proj: Linear,
}

impl GEGLU {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut halves = self.proj.forward(x).chunk(2, 2);
        let gate = halves.pop().expect("two halves");
        let value = halves.pop().expect("two halves");
        value * gelu(gate)
    }
}

/// diffusers' `FeedForward` with GEGLU. Its state-dict keys are `net.0.proj` and `net.2`
/// (index 1 is Dropout); Rust fields cannot be numbers, so they are `net_0`/`net_2` here and
/// the loader remaps (see `crate::store`).
#[derive(Module, Debug)]
pub struct FeedForward {
    pub net_0: GEGLU,
    pub net_2: Linear,
}

impl FeedForward {
    /// Inner width is 4 x `dim`, as diffusers' default `mult = 4`.
    pub fn new(dim: usize, device: &Device) -> Self {
        let inner = dim * 4;
        Self {
            net_0: GEGLU { proj: LinearConfig::new(dim, inner * 2).init(device) },
            net_2: LinearConfig::new(inner, dim).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.net_2.forward(self.net_0.forward(x))
    }
}

/// diffusers' `BasicTransformerBlock` (layer_norm type): pre-norm self-attention,
/// cross-attention and feed-forward, each with a residual.
#[derive(Module, Debug)]
pub struct BasicTransformerBlock {
    pub norm1: LayerNorm,
    pub attn1: Attention,
    pub norm2: LayerNorm,
    pub attn2: Attention,
    pub norm3: LayerNorm,
    pub ff: FeedForward,
}

impl BasicTransformerBlock {
    pub fn new(dim: usize, heads: usize, head_dim: usize, cross_dim: usize, device: &Device) -> Self {
        let ln = || LayerNormConfig::new(dim).with_epsilon(1e-5).init(device);
        Self {
            norm1: ln(),
            attn1: Attention::new(dim, None, heads, head_dim, device),
            norm2: ln(),
            attn2: Attention::new(dim, Some(cross_dim), heads, head_dim, device),
            norm3: ln(),
            ff: FeedForward::new(dim, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, context: Tensor<3>) -> Tensor<3> {
        let x = self.attn1.forward(self.norm1.forward(x.clone()), None) + x;
        let x = self.attn2.forward(self.norm2.forward(x.clone()), Some(context)) + x;
        self.ff.forward(self.norm3.forward(x.clone())) + x
    }
}

/// diffusers' `Transformer2DModel` for continuous maps: GroupNorm (eps 1e-6), 1x1 `proj_in`,
/// transformer blocks over the H*W tokens, 1x1 `proj_out`, residual.
#[derive(Module, Debug)]
pub struct Transformer2DModel {
    pub norm: GroupNorm,
    pub proj_in: Conv2d,
    pub transformer_blocks: Vec<BasicTransformerBlock>,
    pub proj_out: Conv2d,
}

impl Transformer2DModel {
    pub fn new(channels: usize, heads: usize, layers: usize, cross_dim: usize, groups: usize, device: &Device) -> Self {
        let head_dim = channels / heads;
        Self {
            norm: GroupNormConfig::new(groups, channels).with_epsilon(1e-6).init(device),
            proj_in: conv1x1(channels, channels, device),
            transformer_blocks: (0..layers)
                .map(|_| BasicTransformerBlock::new(channels, heads, head_dim, cross_dim, device))
                .collect(),
            proj_out: conv1x1(channels, channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, context: Tensor<3>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let tokens = map_to_tokens(conv2d(&self.proj_in, group_norm(&self.norm, x.clone())));
        let tokens = self.transformer_blocks.iter().fold(tokens, |t, blk| blk.forward(t, context.clone()));
        conv2d(&self.proj_out, tokens_to_map(tokens, [b, c, h, w])) + x
    }
}

/// `[B, C, H, W]` -> `[B, H*W, C]`.
pub(crate) fn map_to_tokens(x: Tensor<4>) -> Tensor<3> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).swap_dims(1, 2)
}

/// `[B, H*W, C]` -> `[B, C, H, W]`, laid out as its shape reads (as diffusers' `.contiguous()`
/// there): a channels-last view would slow every convolution after it ([`fused::contiguous`]).
pub(crate) fn tokens_to_map(t: Tensor<3>, [b, c, h, w]: [usize; 4]) -> Tensor<4> {
    fused::contiguous(t.swap_dims(1, 2).reshape([b, c, h, w]))
}
