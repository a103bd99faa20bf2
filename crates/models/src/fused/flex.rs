//! The CPU side of [`crate::fused`] (burn Flex): attention and GroupNorm as single autodiff nodes
//! whose backward passes are written out ([`super::kernels`]), and GroupNorm's forward pass
//! without autodiff. burn's autodiff keeps every intermediate of its decomposition (GroupNorm:
//! centred input, squares, variance, quotient; attention: scores, exponentials, sums) and
//! differentiates each; these nodes keep the inputs plus one tensor (the attention
//! probabilities, or GroupNorm's per-group mean and 1 / std).

use burn::nn::GroupNorm;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_backend::TensorMetadata;
use burn_backend::tensor::FloatTensor;
use burn_flex::{Flex, FlexTensor};

use super::kernels::{self, GroupShape, GroupStats};

/// burn's autodiff over Flex as the training commands build it (no gradient checkpointing).
type Tracked = Autodiff<Flex, NoCheckpointing>;

/// Scaled dot-product attention under autodiff, scale `1/sqrt(head_dim)`, not causal (callers
/// keep burn's op for causal masks).
pub(super) fn attention(q: &Tensor<4>, k: &Tensor<4>, v: &Tensor<4>) -> Option<Tensor<4>> {
    if [q, k, v].iter().any(|t| t.dtype() != DType::F32) {
        return None;
    }
    if let (Some(q), Some(k), Some(v)) = (tracked(q), tracked(k), tracked(v)) {
        let guards = [&q, &k, &v].map(|t| t.node());
        let prep = AttentionBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful();
        let [q, k, v] = [q, k, v].map(|t| t.into_primitive());
        let (out, p) = attention_forward(&q, &k, &v);
        let out = match prep {
            OpsKind::Tracked(prep) => prep.finish(AttentionState { q, k, v, p }, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        return Some(Tensor::from_primitive::<Tracked>(out));
    }
    // Without autodiff burn-flex's own fused attention is faster than this forward (it never
    // holds the whole score matrix; docs/benchmarks.md), so it keeps that case.
    None
}

/// `(softmax(q k^T / sqrt(d)) v, the probabilities)`.
fn attention_forward(q: &FlexTensor, k: &FlexTensor, v: &FlexTensor) -> (FlexTensor, FlexTensor) {
    let d = q.shape()[3];
    let scores = wrap(q.clone()).matmul(wrap(k.clone()).swap_dims(2, 3));
    let mut p = unwrap(scores);
    let n = p.shape()[3];
    kernels::softmax_rows(values_mut(&mut p), n, 1.0 / (d as f32).sqrt());
    let out = unwrap(wrap(p.clone()).matmul(wrap(v.clone())));
    (out, p)
}

#[derive(Debug)]
struct AttentionBackward;

#[derive(Clone, Debug)]
struct AttentionState {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    /// The softmax probabilities `[B, heads, Tq, Tk]`.
    p: FlexTensor,
}

impl Backward<Flex, 3> for AttentionBackward {
    type State = AttentionState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = wrap(grads.consume::<Flex>(&ops.node));
        let AttentionState { q, k, v, p } = ops.state;
        let [pq, pk, pv] = ops.parents;
        if let Some(node) = pv {
            grads.register::<Flex>(node.id, unwrap(wrap(p.clone()).swap_dims(2, 3).matmul(grad.clone())));
        }
        if pq.is_none() && pk.is_none() {
            return;
        }
        // dScores = scale * p * (dp - rowsum(p * dp)), dp = grad v^T.
        let mut ds = unwrap(grad.matmul(wrap(v).swap_dims(2, 3)));
        let (n, d) = (ds.shape()[3], q.shape()[3]);
        kernels::softmax_backward_rows(values(&p), values_mut(&mut ds), n, 1.0 / (d as f32).sqrt());
        let ds = wrap(ds);
        if let Some(node) = pq {
            grads.register::<Flex>(node.id, unwrap(ds.clone().matmul(wrap(k))));
        }
        if let Some(node) = pk {
            grads.register::<Flex>(node.id, unwrap(ds.swap_dims(2, 3).matmul(wrap(q))));
        }
    }
}

/// GroupNorm with the module's groups, epsilon and affine parameters, then SiLU if `silu`.
pub(super) fn group_norm<const D: usize>(norm: &GroupNorm, x: &Tensor<D>, silu: bool) -> Option<Tensor<D>> {
    if D < 3 || x.dtype() != DType::F32 {
        return None;
    }
    let [b, c] = [x.dims()[0], x.dims()[1]];
    // A shape the norm does not fit goes to burn's op, which says what is wrong.
    if c != norm.num_channels || !c.is_multiple_of(norm.num_groups) {
        return None;
    }
    let shape = GroupShape { batch: b, channels: c, groups: norm.num_groups, spatial: x.dims()[2..].iter().product() };
    let eps = norm.epsilon as f32;
    let params = super::affine(norm)?;
    if let Some(xt) = tracked(x) {
        let out = match params {
            Some((w, bias)) => norm_node([xt, tracked(&w)?, tracked(&bias)?], shape, eps, silu),
            None => norm_node([xt], shape, eps, silu),
        };
        return Some(Tensor::from_primitive::<Tracked>(out));
    }
    let x = contiguous(&plain(x)?);
    let params = match &params {
        Some((w, bias)) => Some((contiguous(&plain(w)?), contiguous(&plain(bias)?))),
        None => None,
    };
    let (y, _) = norm_forward(&x, params.as_ref().map(|(w, b)| (w, b)), shape, eps, silu);
    Some(Tensor::from_primitive::<Flex>(y))
}

/// The GroupNorm node over `[x]` or `[x, gamma, beta]`.
fn norm_node<const N: usize>(inputs: [FloatTensor<Tracked>; N], shape: GroupShape, eps: f32, silu: bool) -> FloatTensor<Tracked> {
    let guards = inputs.each_ref().map(|t| t.node());
    let prep = GroupNormBackward.prepare::<NoCheckpointing>(guards).compute_bound().stateful();
    let mut inputs = inputs.map(|t| contiguous(&t.into_primitive())).into_iter();
    let x = inputs.next().expect("a GroupNorm node has an input");
    let affine = inputs.next().zip(inputs.next());
    let (y, stats) = norm_forward(&x, affine.as_ref().map(|(w, b)| (w, b)), shape, eps, silu);
    match prep {
        OpsKind::Tracked(prep) => prep.finish(GroupNormState { x, affine, stats, shape, silu }, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

fn norm_forward(x: &FlexTensor, affine: Option<(&FlexTensor, &FlexTensor)>, shape: GroupShape, eps: f32, silu: bool) -> (FlexTensor, GroupStats) {
    let affine = affine.map(|(w, b)| (values(w), values(b)));
    let (y, stats) = kernels::group_norm_forward(values(x), affine, shape, eps, silu);
    (float(y, x.shape()), stats)
}

#[derive(Debug)]
struct GroupNormBackward;

#[derive(Clone, Debug)]
struct GroupNormState {
    x: FlexTensor,
    /// gamma and beta (beta only for SiLU's recomputed input).
    affine: Option<(FlexTensor, FlexTensor)>,
    stats: GroupStats,
    shape: GroupShape,
    silu: bool,
}

/// One impl per arity: `[x, gamma, beta]` for an affine norm, `[x]` otherwise.
impl<const N: usize> Backward<Flex, N> for GroupNormBackward {
    type State = GroupNormState;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = contiguous(&grads.consume::<Flex>(&ops.node));
        let GroupNormState { x, affine, stats, shape, silu } = ops.state;
        let affine = affine.as_ref().map(|(w, b)| (values(w), values(b)));
        let dz = silu.then(|| kernels::silu_backward_through_norm(values(&x), values(&grad), affine, &stats, shape));
        let dz = dz.as_deref().unwrap_or(values(&grad));
        let (dx, dgamma, dbeta) = kernels::group_norm_backward(values(&x), dz, affine.map(|(w, _)| w), &stats, shape);
        let dims = x.shape();
        let mut wanted = [Some(float(dx, dims)), Some(float(dgamma, Shape::new([shape.channels]))), Some(float(dbeta, Shape::new([shape.channels])))].into_iter();
        for parent in ops.parents {
            let g = wanted.next().flatten();
            if let (Some(node), Some(g)) = (parent, g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

/// Whether `x` lives on Flex, with or without autodiff, as f32 (what the functions above take).
pub(super) fn is_fused<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && (tracked(x).is_some() || plain(x).is_some())
}

/// The autodiff-over-Flex primitive of `t`, if that is where it lives.
fn tracked<const D: usize>(t: &Tensor<D>) -> Option<FloatTensor<Tracked>> {
    t.clone().try_into_primitive::<Tracked>().ok()
}

/// The Flex primitive of `t` (no autodiff), if that is where it lives.
fn plain<const D: usize>(t: &Tensor<D>) -> Option<FlexTensor> {
    t.clone().try_into_primitive::<Flex>().ok()
}

fn wrap(t: FlexTensor) -> Tensor<4> {
    Tensor::from_primitive::<Flex>(t)
}

fn unwrap(t: Tensor<4>) -> FlexTensor {
    contiguous(&t.try_into_primitive::<Flex>().expect("an op on Flex tensors gives a Flex tensor"))
}

/// `t` with its elements in order from offset 0 (a copy only when they are not), so
/// [`values`] and [`values_mut`] see exactly its elements.
fn contiguous(t: &FlexTensor) -> FlexTensor {
    let n = t.shape().num_elements();
    if t.layout().contiguous_offsets() == Some((0, n)) { t.clone() } else { t.to_contiguous() }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// The elements of a [`contiguous`] tensor, copied first if the buffer is shared.
fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    let n = t.shape().num_elements();
    &mut t.storage_mut::<f32>()[..n]
}

fn float(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
