//! `rewardedit_models::fused` on LibTorch (feature `tch`, so not in the default test run: it
//! links the libtorch of an installed PyTorch; see scripts/build-cuda.sh). PyTorch's fused
//! attention and GroupNorm must give the same values and the same gradients as burn's own ops,
//! which they replace on this backend.
#![cfg(feature = "tch")]
#![allow(deprecated)] // burn-tch is deprecated upstream; it is the backend under test

use burn::nn::{GroupNorm, GroupNormConfig};
use burn::prelude::*;
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

#[test]
fn fused_attention_matches_burns_values_and_gradients() {
    let device = Device::libtorch().autodiff();
    for causal in [false, true] {
        let (q, k, v) = (random([2, 4, 48, 16], &device), random([2, 4, 40, 16], &device), random([2, 4, 40, 16], &device));
        let (k, v) = if causal { (random([2, 4, 48, 16], &device), random([2, 4, 48, 16], &device)) } else { (k, v) };
        let weights = random([2, 4, 48, 16], &device);

        let [fq, fk, fv] = [&q, &k, &v].map(|t| leaf(t, &device));
        assert!(fused::is_fused(&fq), "a LibTorch autodiff tensor must take PyTorch's path, or this test compares burn with itself");
        let fused_out = fused::attention(fq.clone(), fk.clone(), fv.clone(), causal);
        let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();

        let [bq, bk, bv] = [&q, &k, &v].map(|t| leaf(t, &device));
        let options = AttentionModuleOptions { is_causal: causal, ..AttentionModuleOptions::default() };
        let burn_out = attention(bq.clone(), bk.clone(), bv.clone(), None, None, options);
        let burn_grads = (burn_out.clone() * weights).sum().backward();

        close("output", fused_out.inner(), burn_out.inner());
        for (name, f, b) in [("dq", &fq, &bq), ("dk", &fk, &bk), ("dv", &fv, &bv)] {
            close(name, f.grad(&fused_grads).expect("fused gradient"), b.grad(&burn_grads).expect("burn gradient"));
        }
    }
}

#[test]
fn fused_group_norm_matches_burns_values_and_gradients_with_and_without_autodiff() {
    let device = Device::libtorch().autodiff();
    for affine in [true, false] {
        let norm: GroupNorm = GroupNormConfig::new(4, 16).with_affine(affine).init(&device);
        // Non-trivial affine parameters, so their gradients are checked against something.
        let norm = if affine {
            let mut n = norm;
            n.gamma = n.gamma.map(|p| p.map(|_| random([16], &device).require_grad()));
            n.beta = n.beta.map(|p| p.map(|_| random([16], &device).require_grad()));
            n
        } else {
            norm
        };
        let x = random([3, 16, 8, 8], &device) * 3.0 + 1.0;
        let weights = random([3, 16, 8, 8], &device);

        let fx = leaf(&x, &device);
        assert!(fused::is_fused(&fx), "a LibTorch autodiff tensor must take PyTorch's path, or this test compares burn with itself");
        let fused_out = fused::group_norm(&norm, fx.clone());
        let fused_grads = (fused_out.clone() * weights.clone()).sum().backward();
        let bx = leaf(&x, &device);
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
        let plain = Device::libtorch();
        let norm_plain = norm.clone().valid();
        let x_plain = Tensor::<4>::from_data(x.to_data(), &plain);
        assert!(fused::is_fused(&x_plain));
        close("inference output", fused::group_norm(&norm_plain, x_plain.clone()), norm_plain.forward(x_plain));
    }
}

#[test]
fn an_untracked_input_gets_no_gradient_and_the_tracked_ones_still_do() {
    let device = Device::libtorch().autodiff();
    let q = leaf(&random([1, 2, 8, 4], &device), &device);
    let context = random([1, 2, 5, 4], &device); // like a frozen text encoder's tokens
    let out = fused::attention(q.clone(), context.clone(), context.clone(), false);
    let grads = out.sum().backward();
    assert!(q.grad(&grads).is_some(), "the query requires a gradient and must get one");
    assert!(context.grad(&grads).is_none(), "an input that does not require a gradient must not get one");
}
