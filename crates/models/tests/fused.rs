//! `rewardedit_models::fused`: the fused attention and GroupNorm must give the same values and
//! the same gradients as burn's own ops, which they replace. On Flex (our kernels) always; on
//! LibTorch (PyTorch's ops) with the `tch` feature, which links the libtorch of an installed
//! PyTorch (`TCH=1 TCH_TEST=fused bash scripts/build-cuda.sh`).
#![cfg_attr(feature = "tch", allow(deprecated))] // burn-tch is deprecated upstream

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Distribution, Tolerance};
use rewardedit_models::fused;

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// The same values on `to`, as fresh leaves that require gradients.
fn leaf<const D: usize>(t: &Tensor<D>, to: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), to).require_grad()
}

fn close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    got.to_data().assert_approx_eq::<f32>(&want.to_data(), Tolerance::absolute(2e-4));
    eprintln!("{what}: agrees");
}

/// `device` is an autodiff device; `causal` is checked only where the fused path takes it.
fn attention_matches_burns_values_and_gradients(device: &Device, causal_fused: bool) {
    for causal in [false, true] {
        let (q, k, v) = (random([2, 4, 48, 16], device), random([2, 4, 40, 16], device), random([2, 4, 40, 16], device));
        let (k, v) = if causal { (random([2, 4, 48, 16], device), random([2, 4, 48, 16], device)) } else { (k, v) };
        let weights = random([2, 4, 48, 16], device);

        let [fq, fk, fv] = [&q, &k, &v].map(|t| leaf(t, device));
        assert!(fused::is_fused(&fq), "an autodiff tensor here must take the fused path, or this test compares burn with itself");
        let fused_out = fused::attention(fq.clone(), fk.clone(), fv.clone(), causal);
        let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();

        let [bq, bk, bv] = [&q, &k, &v].map(|t| leaf(t, device));
        let options = AttentionModuleOptions { is_causal: causal, ..AttentionModuleOptions::default() };
        let burn_out = attention(bq.clone(), bk.clone(), bv.clone(), None, None, options);
        let burn_grads = (burn_out.clone() * weights).sum().backward();

        if causal && !causal_fused {
            // The causal mask is burn's own op here: only check that the call honours it.
            close("causal output", fused_out.inner(), burn_out.inner());
            continue;
        }
        close("output", fused_out.inner(), burn_out.inner());
        for (name, f, b) in [("dq", &fq, &bq), ("dk", &fk, &bk), ("dv", &fv, &bv)] {
            close(name, f.grad(&fused_grads).expect("fused gradient"), b.grad(&burn_grads).expect("burn gradient"));
        }
    }
}

/// `device` is an autodiff device, `plain` the same backend without autodiff.
fn group_norm_matches_burns_values_and_gradients(device: &Device, plain: &Device) {
    for affine in [true, false] {
        let norm: GroupNorm = GroupNormConfig::new(4, 16).with_affine(affine).init(device);
        // Non-trivial affine parameters, so their gradients are checked against something.
        let norm = if affine {
            let mut n = norm;
            n.gamma = n.gamma.map(|p| p.map(|_| random([16], device).require_grad()));
            n.beta = n.beta.map(|p| p.map(|_| random([16], device).require_grad()));
            n
        } else {
            norm
        };
        // 5 x 7: a spatial size that is no multiple of the kernels' lanes.
        let x = random([3, 16, 5, 7], device) * 3.0 + 1.0;
        let weights = random([3, 16, 5, 7], device);

        let fx = leaf(&x, device);
        assert!(fused::is_fused(&fx), "an autodiff tensor here must take the fused path, or this test compares burn with itself");
        let fused_out = fused::group_norm(&norm, fx.clone());
        let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();
        let bx = leaf(&x, device);
        let burn_out = norm.forward(bx.clone());
        let burn_grads = (burn_out.clone() * weights).sum().backward();

        close("output", fused_out.clone().inner(), burn_out.inner());
        close("dx", fx.grad(&fused_grads).unwrap(), bx.grad(&burn_grads).unwrap());
        if let (Some(g), Some(b)) = (&norm.gamma, &norm.beta) {
            // Both passes accumulate into the same parameters: compare each pass's own gradient.
            close("dgamma", g.val().grad(&fused_grads).unwrap(), g.val().grad(&burn_grads).unwrap());
            close("dbeta", b.val().grad(&fused_grads).unwrap(), b.val().grad(&burn_grads).unwrap());
        }

        // Without autodiff (inference) the fused op gives the same values.
        let norm_plain = norm.clone().valid();
        let x_plain = Tensor::<4>::from_data(x.to_data(), plain);
        assert!(fused::is_fused(&x_plain));
        close("inference output", fused::group_norm(&norm_plain, x_plain.clone()), norm_plain.forward(x_plain));
    }
}

/// `group_norm_silu` against burn's `silu(norm.forward(x))`, values and gradients.
fn group_norm_silu_matches_burns_values_and_gradients(device: &Device) {
    let mut norm: GroupNorm = GroupNormConfig::new(2, 6).init(device);
    norm.gamma = norm.gamma.map(|p| p.map(|_| random([6], device).require_grad()));
    norm.beta = norm.beta.map(|p| p.map(|_| random([6], device).require_grad()));
    let x = random([2, 6, 4, 3], device) * 2.0;
    let weights = random([2, 6, 4, 3], device);

    let fx = leaf(&x, device);
    let fused_out = fused::group_norm_silu(&norm, fx.clone());
    let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();
    let bx = leaf(&x, device);
    let burn_out = silu(norm.forward(bx.clone()));
    let burn_grads = (burn_out.clone() * weights).sum().backward();

    close("output", fused_out.inner(), burn_out.inner());
    close("dx", fx.grad(&fused_grads).unwrap(), bx.grad(&burn_grads).unwrap());
    let (g, b) = (norm.gamma.as_ref().unwrap().val(), norm.beta.as_ref().unwrap().val());
    close("dgamma", g.grad(&fused_grads).unwrap(), g.grad(&burn_grads).unwrap());
    close("dbeta", b.grad(&fused_grads).unwrap(), b.grad(&burn_grads).unwrap());
}

fn an_untracked_input_gets_no_gradient_and_the_tracked_ones_still_do(device: &Device) {
    let q = leaf(&random([1, 2, 8, 4], device), device);
    let context = random([1, 2, 5, 4], device); // like a frozen text encoder's tokens
    let out = fused::attention(q.clone(), context.clone(), context.clone(), false);
    let grads = out.sum().backward();
    assert!(q.grad(&grads).is_some(), "the query requires a gradient and must get one");
    assert!(context.grad(&grads).is_none(), "an input that does not require a gradient must not get one");

    // And a GroupNorm whose input is frozen still trains its affine parameters.
    let norm: GroupNorm = GroupNormConfig::new(2, 4).init(device);
    let x = random([2, 4, 3, 3], device);
    let grads = fused::group_norm(&norm, x.clone()).sum().backward();
    assert!(x.grad(&grads).is_none(), "a frozen input must get no gradient");
    assert!(norm.beta.as_ref().unwrap().val().grad(&grads).is_some(), "beta requires a gradient and must get one");
}

/// `device` is an autodiff device: the convolutions of the UNet (3x3 padded, strided, 1x1,
/// without bias, grouped, and asymmetric padding, which keeps burn's op) against burn's own.
fn conv2d_matches_burns_values_and_gradients(device: &Device) {
    let configs = [
        Conv2dConfig::new([6, 8], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        Conv2dConfig::new([6, 8], [3, 3]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        Conv2dConfig::new([6, 8], [1, 1]),
        Conv2dConfig::new([6, 8], [3, 3]).with_bias(false).with_dilation([2, 2]).with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)),
        Conv2dConfig::new([6, 8], [3, 3]).with_groups(2).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        Conv2dConfig::new([6, 8], [3, 3]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(0, 0, 1, 1)),
    ];
    for config in configs {
        let conv: Conv2d = config.init(device);
        let x = random([2, 6, 9, 7], device);
        let (fx, bx) = (leaf(&x, device), leaf(&x, device));
        let fused_out = fused::conv2d(&conv, fx.clone());
        let weights = random(fused_out.dims(), device);
        let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();
        let burn_out = conv.forward(bx.clone());
        let burn_grads = (burn_out.clone() * weights).sum().backward();
        close("output", fused_out.inner(), burn_out.inner());
        close("dx", fx.grad(&fused_grads).expect("fused gradient"), bx.grad(&burn_grads).expect("burn gradient"));
        let weight = conv.weight.val();
        close("dweight", weight.grad(&fused_grads).expect("fused gradient"), weight.grad(&burn_grads).expect("burn gradient"));
        if let Some(bias) = &conv.bias {
            let bias = bias.val();
            close("dbias", bias.grad(&fused_grads).expect("fused gradient"), bias.grad(&burn_grads).expect("burn gradient"));
        }
    }
}

#[test]
fn flex_conv2d_matches_burns_values_and_gradients() {
    conv2d_matches_burns_values_and_gradients(&Device::flex().autodiff());
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_conv2d_matches_burns_values_and_gradients() {
    conv2d_matches_burns_values_and_gradients(&Device::libtorch().autodiff());
}

/// `device` is an autodiff device. A `[B, C, H, W]` view of `[B, H*W, C]` tokens, as
/// `tokens_to_map` makes it: `contiguous` keeps its values and passes gradients through.
fn contiguous_keeps_values_and_gradients(device: &Device) {
    let tokens = random([2, 12, 5], device);
    let weights = random([2, 5, 3, 4], device);
    let view = |t: Tensor<3>| t.swap_dims(1, 2).reshape([2, 5, 3, 4]);
    let (ft, bt) = (leaf(&tokens, device), leaf(&tokens, device));
    let fused_out = fused::contiguous(view(ft.clone()));
    let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();
    let burn_out = view(bt.clone());
    let burn_grads = (burn_out.clone() * weights).sum().backward();
    close("values", fused_out.inner(), burn_out.inner());
    close("gradient", ft.grad(&fused_grads).expect("fused gradient"), bt.grad(&burn_grads).expect("burn gradient"));
}

#[test]
fn flex_contiguous_keeps_values_and_gradients() {
    contiguous_keeps_values_and_gradients(&Device::flex().autodiff());
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_contiguous_keeps_values_and_gradients_and_lays_the_view_out_row_major() {
    contiguous_keeps_values_and_gradients(&Device::libtorch().autodiff());
    // The layout is the point: a channels-last view makes every later convolution copy its
    // weight on each call.
    let device = Device::libtorch();
    let layout = |t: Tensor<4>| t.try_into_primitive::<burn_tch::LibTorch>().expect("a LibTorch tensor").tensor.is_contiguous();
    let view = random([2, 12, 5], &device).swap_dims(1, 2).reshape([2, 5, 3, 4]);
    assert!(!layout(view.clone()), "the test needs a strided view to start from");
    assert!(layout(fused::contiguous(view)), "contiguous must lay the view out row-major");
}

#[test]
fn flex_attention_matches_burns_values_and_gradients() {
    attention_matches_burns_values_and_gradients(&Device::flex().autodiff(), false);
}

#[test]
fn flex_group_norm_matches_burns_values_and_gradients_with_and_without_autodiff() {
    group_norm_matches_burns_values_and_gradients(&Device::flex().autodiff(), &Device::flex());
}

#[test]
fn flex_group_norm_silu_matches_burns_values_and_gradients() {
    group_norm_silu_matches_burns_values_and_gradients(&Device::flex().autodiff());
}

#[test]
fn flex_untracked_inputs_get_no_gradient() {
    an_untracked_input_gets_no_gradient_and_the_tracked_ones_still_do(&Device::flex().autodiff());
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_attention_matches_burns_values_and_gradients() {
    attention_matches_burns_values_and_gradients(&Device::libtorch().autodiff(), true);
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_group_norm_matches_burns_values_and_gradients_with_and_without_autodiff() {
    group_norm_matches_burns_values_and_gradients(&Device::libtorch().autodiff(), &Device::libtorch());
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_group_norm_silu_matches_burns_values_and_gradients() {
    group_norm_silu_matches_burns_values_and_gradients(&Device::libtorch().autodiff());
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_untracked_inputs_get_no_gradient() {
    an_untracked_input_gets_no_gradient_and_the_tracked_ones_still_do(&Device::libtorch().autodiff());
}

#[test]
fn flex_group_norm_of_the_wrong_width_is_refused_as_burn_refuses_it() {
    // The fused kernel would read the wrong groups; burn's op names the mismatch instead.
    let device = Device::flex();
    let norm: GroupNorm = GroupNormConfig::new(2, 4).init(&device);
    let x = random([1, 6, 3, 3], &device);
    let fused_panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fused::group_norm_silu(&norm, x.clone())));
    let burn_panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| norm.forward(x)));
    let message = |r: std::thread::Result<Tensor<4>>| match r {
        Ok(_) => panic!("a 6-channel input to a 4-channel norm must fail"),
        Err(e) => e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default(),
    };
    let (fused_message, burn_message) = (message(fused_panic), message(burn_panic));
    eprintln!("{fused_message}");
    assert_eq!(fused_message, burn_message, "the fused op must fail with burn's own message");
}
