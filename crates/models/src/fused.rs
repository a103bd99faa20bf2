//! Attention and GroupNorm through fused kernels where burn 0.22 does not reach them, and, on
//! LibTorch, the convolution's backward and a row-major layout where burn leaves PyTorch with
//! something slower.
//!
//! burn's autodiff differentiates attention and GroupNorm as chains of small ops, each with
//! full-size temporaries (attention's score matrix several times over); on LibTorch that made a
//! UNet's backward ~4x PyTorch's (docs/benchmarks.md, "Fused attention and GroupNorm on
//! LibTorch"). So tensors on Flex (the CPU default) run our own kernels, under autodiff as one
//! node with a written-out backward; with the `tch` feature, tensors on LibTorch run PyTorch's
//! fused ops, under autodiff as one node whose backward is PyTorch's. Every other backend (CUDA,
//! NdArray), causal attention on Flex, attention without autodiff on Flex (burn-flex's own is
//! fused already, and faster than ours there) and non-f32 tensors get burn's op unchanged.

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::module::attention as burn_attention;
use burn::tensor::ops::AttentionModuleOptions;

mod flex;
mod kernels;
#[cfg(feature = "tch")]
mod torch;

/// Scaled dot-product attention on `[B, heads, T, head_dim]`, scale `1/sqrt(head_dim)`;
/// `causal` lets each token see only itself and the tokens before it.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, causal: bool) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if let Some(out) = torch::attention(&q, &k, &v, causal) {
        return out;
    }
    if !causal && let Some(out) = flex::attention(&q, &k, &v) {
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
    if let Some(out) = flex::group_norm(norm, &x, false) {
        return out;
    }
    norm.forward(x)
}

/// `conv.forward(x)`. Under autodiff on LibTorch, one node whose backward is PyTorch's own
/// convolution backward (cuDNN's or mkldnn's kernels). burn-tch has none, so burn would take the
/// weight gradient as a convolution of the input with the output gradient as its kernel: about
/// one forward's cost on the CPU (docs/benchmarks.md, session 12), a shape cuDNN is suspected of
/// running slowly (the ~10x training gap on the H200). Elsewhere, and for padding that is not
/// symmetric, burn's op.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if let Some(out) = torch::conv2d(conv, &x) {
        return out;
    }
    conv.forward(x)
}

/// `x` laid out row-major, as its shape reads. burn has no such op: a reshape after a swap of
/// dimensions may stay a strided view. On LibTorch a `[B, C, H, W]` view of `[B, H*W, C]` tokens
/// is channels-last, every sum it enters inherits that layout, and each convolution downstream
/// then copies its weight to channels-last on every call (docs/benchmarks.md, "Where an SD
/// 1.5-size edit spends its time"). Elsewhere `x` is returned as it is.
pub fn contiguous<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    if let Some(out) = torch::contiguous(&x) {
        return out;
    }
    x
}

/// `silu(group_norm(norm, x))`, the pair before every convolution of a ResNet block: on Flex
/// one op (one pass forward, one node under autodiff), elsewhere the two.
pub fn group_norm_silu<const D: usize>(norm: &GroupNorm, x: Tensor<D>) -> Tensor<D> {
    if let Some(out) = flex::group_norm(norm, &x, true) {
        return out;
    }
    silu(group_norm(norm, x))
}

/// The norm's `(gamma, beta)`: `Some(None)` for a norm without them, `None` for one with only
/// one of the two (burn builds both or neither; the fused paths leave such a norm to burn).
fn affine(norm: &GroupNorm) -> Option<Option<(Tensor<1>, Tensor<1>)>> {
    match (&norm.gamma, &norm.beta) {
        (Some(gamma), Some(beta)) => Some(Some((gamma.val(), beta.val()))),
        (None, None) => Some(None),
        _ => None,
    }
}

/// Whether [`attention`] and [`group_norm`] run fused kernels on f32 tensors like `x` (Flex;
/// LibTorch with the `tch` feature), so a benchmark can say which path it timed.
pub fn is_fused<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "tch")]
    if torch::is_fused(x) {
        return true;
    }
    flex::is_fused(x)
}
