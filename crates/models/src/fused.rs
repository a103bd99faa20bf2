//! Attention and GroupNorm through fused kernels where burn 0.22 does not reach them.
//!
//! burn's autodiff differentiates attention and GroupNorm as chains of small ops, each with
//! full-size temporaries (attention's score matrix several times over); on LibTorch that made a
//! UNet's backward ~4x PyTorch's (docs/benchmarks.md, "Fused attention and GroupNorm on
//! LibTorch"). With the `tch` feature, tensors on LibTorch run PyTorch's own fused ops instead,
//! under autodiff as one node whose backward is PyTorch's. Every other backend, and LibTorch
//! without the feature, gets burn's op unchanged.

use burn::nn::GroupNorm;
use burn::prelude::*;
use burn::tensor::module::attention as burn_attention;
use burn::tensor::ops::AttentionModuleOptions;

#[cfg(feature = "tch")]
mod torch;

/// Scaled dot-product attention on `[B, heads, T, head_dim]`, scale `1/sqrt(head_dim)`;
/// `causal` lets each token see only itself and the tokens before it.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, causal: bool) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if let Some(out) = torch::attention(&q, &k, &v, causal) {
        return out;
    }
    let options = AttentionModuleOptions { is_causal: causal, ..AttentionModuleOptions::default() };
    burn_attention(q, k, v, None, None, options)
}

/// `norm.forward(x)` for `x` of shape `[B, C, ...]`.
pub fn group_norm<const D: usize>(norm: &GroupNorm, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    if let Some(out) = torch::group_norm(norm, &x) {
        return out;
    }
    norm.forward(x)
}

/// Whether [`attention`] and [`group_norm`] run PyTorch's fused ops on tensors like `x`
/// (LibTorch with the `tch` feature), so a benchmark can say which path it timed.
pub fn is_fused<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "tch")]
    return torch::is_fused(x);
    #[cfg(not(feature = "tch"))]
    {
        let _ = x;
        false
    }
}
