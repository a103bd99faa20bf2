// burn-tch is deprecated upstream; it is still the fastest path here (docs/benchmarks.md).
#![allow(deprecated)]

//! The LibTorch side of [`crate::fused`]: PyTorch's op on the tensors' own storage; under
//! autodiff, one burn node per op whose backward asks PyTorch's autograd for the gradients.

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, PaddingConfig2d};
use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::NodeId;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_backend::tensor::FloatTensor;
use burn_tch::{LibTorch, TchTensor};

/// burn's autodiff over LibTorch as the training commands build it (no gradient checkpointing).
type Tracked = Autodiff<LibTorch, NoCheckpointing>;

/// Scaled dot-product attention (PyTorch picks its flash or memory-efficient kernel).
pub(super) fn attention(q: &Tensor<4>, k: &Tensor<4>, v: &Tensor<4>, causal: bool) -> Option<Tensor<4>> {
    let sdpa = move |[q, k, v]: [&tch::Tensor; 3]| {
        tch::Tensor::scaled_dot_product_attention(q, k, v, None::<&tch::Tensor>, 0.0, causal, None, false)
    };
    if let (Some(q), Some(k), Some(v)) = (tracked(q), tracked(k), tracked(v)) {
        return Some(Tensor::from_primitive::<Tracked>(node([q, k, v], sdpa)));
    }
    // burn-tch's own attention already calls PyTorch's kernel when nothing is tracked.
    None
}

/// GroupNorm with the module's groups, epsilon and affine parameters.
pub(super) fn group_norm<const D: usize>(norm: &GroupNorm, x: &Tensor<D>) -> Option<Tensor<D>> {
    let (groups, eps) = (norm.num_groups as i64, norm.epsilon);
    let params = super::affine(norm)?;
    if let Some(x) = tracked(x) {
        let out = match params {
            Some((w, b)) => node([x, tracked(&w)?, tracked(&b)?], move |[x, w, b]| {
                x.group_norm(groups, Some(w), Some(b), eps, true)
            }),
            None => node([x], move |[x]| x.group_norm(groups, None::<&tch::Tensor>, None, eps, true)),
        };
        return Some(Tensor::from_primitive::<Tracked>(out));
    }
    let plain = |t: &Tensor<1>| t.clone().try_into_primitive::<LibTorch>().ok();
    let x = x.clone().try_into_primitive::<LibTorch>().ok()?;
    let (w, b) = match &params {
        Some((w, b)) => (Some(plain(w)?), Some(plain(b)?)),
        None => (None, None),
    };
    let out = tch::no_grad(|| x.tensor.group_norm(groups, w.as_ref().map(|t| &t.tensor), b.as_ref().map(|t| &t.tensor), eps, true));
    Some(Tensor::from_primitive::<LibTorch>(TchTensor::new(out)))
}

/// A 2-D convolution with the module's weight, bias, stride, dilation and groups, for tracked
/// inputs only (untracked, burn-tch already calls PyTorch's); `None` for padding PyTorch's op
/// cannot take as it is (asymmetric, or `Same`).
pub(super) fn conv2d(conv: &Conv2d, x: &Tensor<4>) -> Option<Tensor<4>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => [top as i64, left as i64],
        _ => return None,
    };
    let x = tracked(x)?;
    let weight = tracked(&conv.weight.val())?;
    let (stride, dilation, groups) = (conv.stride.map(|s| s as i64), conv.dilation.map(|d| d as i64), conv.groups as i64);
    let out = match &conv.bias {
        Some(bias) => node([x, weight, tracked(&bias.val())?], move |[x, w, b]| x.conv2d(w, Some(b), stride, padding, dilation, groups)),
        None => node([x, weight], move |[x, w]| x.conv2d(w, None::<&tch::Tensor>, stride, padding, dilation, groups)),
    };
    Some(Tensor::from_primitive::<Tracked>(out))
}

/// `x` copied to row-major layout where it is a strided view; `None` where it already is one
/// or does not live on LibTorch.
pub(super) fn contiguous<const D: usize>(x: &Tensor<D>) -> Option<Tensor<D>> {
    if let Some(t) = tracked(x) {
        if t.primitive().tensor.is_contiguous() {
            return None;
        }
        return Some(Tensor::from_primitive::<Tracked>(node([t], |[x]| x.contiguous())));
    }
    let p = x.clone().try_into_primitive::<LibTorch>().ok()?;
    (!p.tensor.is_contiguous()).then(|| Tensor::from_primitive::<LibTorch>(TchTensor::new(p.tensor.contiguous())))
}

/// Whether `x` lives on LibTorch, with or without autodiff (what the functions above take).
pub(super) fn is_fused<const D: usize>(x: &Tensor<D>) -> bool {
    tracked(x).is_some() || x.clone().try_into_primitive::<LibTorch>().is_ok()
}

/// The autodiff-over-LibTorch primitive of `t`, if that is where it lives.
fn tracked<const D: usize>(t: &Tensor<D>) -> Option<FloatTensor<Tracked>> {
    t.clone().try_into_primitive::<Tracked>().ok()
}

/// `f` as one autodiff node: run under PyTorch's autograd, its graph kept as the node's state.
fn node<const N: usize>(
    inputs: [FloatTensor<Tracked>; N],
    f: impl FnOnce([&tch::Tensor; N]) -> tch::Tensor,
) -> FloatTensor<Tracked> {
    let guards = inputs.each_ref().map(|t| t.node());
    match TorchBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            // The leaves share the inputs' storage and burn's handle on it, so burn never
            // writes into them in place while PyTorch's graph holds them for the backward.
            let leaves = inputs.map(|t| {
                let needs_grad = t.is_tracked();
                let p = t.into_primitive();
                TchTensor::from_existing(p.tensor.detach().set_requires_grad(needs_grad), p.storage.clone())
            });
            let output = TchTensor::new(tch::with_grad(|| f(leaves.each_ref().map(|l| &l.tensor))));
            let result = TchTensor::from_existing(output.tensor.detach(), output.storage.clone());
            prep.finish(TorchGraph { leaves, output }, result)
        }
        OpsKind::UnTracked(prep) => {
            let inputs = inputs.map(|t| t.into_primitive());
            prep.finish(TchTensor::new(tch::no_grad(|| f(inputs.each_ref().map(|t| &t.tensor)))))
        }
    }
}

/// A node's state: PyTorch's graph from the leaves (the inputs) to the output.
#[derive(Clone, Debug)]
struct TorchGraph<const N: usize> {
    leaves: [TchTensor; N],
    output: TchTensor,
}

#[derive(Debug)]
struct TorchBackward;

impl<const N: usize> Backward<LibTorch, N> for TorchBackward {
    type State = TorchGraph<N>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<LibTorch>(&ops.node);
        let TorchGraph { leaves, output } = ops.state;
        let wanted: Vec<(NodeId, &tch::Tensor)> = ops
            .parents
            .iter()
            .zip(&leaves)
            .filter_map(|(parent, leaf)| Some((parent.as_ref()?.id, &leaf.tensor)).filter(|_| leaf.tensor.requires_grad()))
            .collect();
        if wanted.is_empty() {
            return;
        }
        // The gradient of <output, grad> with respect to the leaves is the vector-Jacobian
        // product this node owes its parents.
        let seed = tch::with_grad(|| (&output.tensor * &grad.tensor).sum(tch::Kind::Float));
        let inputs: Vec<&tch::Tensor> = wanted.iter().map(|(_, t)| *t).collect();
        let input_grads = tch::Tensor::run_backward(&[seed], &inputs, false, false);
        for ((id, _), g) in wanted.into_iter().zip(input_grads) {
            grads.register::<LibTorch>(id, TchTensor::new(g));
        }
    }
}
