//! The reward UNet trains: on an autodiff device every parameter of the network and of the
//! reward modules (including the null reward) gets a gradient, except the one whose gradient is
//! zero by construction.

mod common;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{Distribution, Gradients};
use common::golden;
use rewardedit_core::RewardCondition;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs, UNet2DConditionConfig, UNet2DConditionModel};

/// Largest gradient entry still counted as zero: a gradient that is zero in exact arithmetic
/// comes out of a fused softmax backward at rounding level (~1e-10), real ones here are >= 1e-4.
const ZERO: f32 = 1e-8;

/// Names the parameters without a (non-zero) gradient.
struct GradCheck<'a> {
    grads: &'a Gradients,
    path: Vec<String>,
    with: usize,
    without: Vec<String>,
}

impl ModuleVisitor for GradCheck<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match param.val().grad(self.grads) {
            Some(g) if g.clone().abs().max().into_scalar::<f32>() > ZERO => self.with += 1,
            _ => self.without.push(self.path.join(".")),
        }
    }
}

#[test]
fn every_parameter_gets_a_gradient() {
    let device = Device::flex().autodiff();
    let config = UNet2DConditionConfig::from_file(golden("unet_tiny_config.json")).unwrap();
    let unet = UNet2DConditionModel::new(&config, Some(&RewardConditioningConfig::default()), &device).unwrap();
    let normal = Distribution::Normal(0.0, 1.0);
    // One given row and one null row, so both the reward path and the null reward are used.
    let rewards = RewardInputs::from_conditions(
        &[RewardCondition::Given { scores: [4.0, 2.5, 5.0], text: String::new() }, RewardCondition::Null],
        Tensor::random([2, 32], normal, &device),
    );
    let out = unet.forward(
        Tensor::random([2, 8, 8, 8], normal, &device),
        Tensor::from_data(TensorData::new(vec![10.0f32, 700.0], [2]), &device),
        Tensor::random([2, 5, 32], normal, &device),
        Some(rewards),
    );
    let target = Tensor::random([2, 4, 8, 8], normal, &device);
    let grads = (out - target).powf_scalar(2.0).mean().backward();
    let mut check = GradCheck { grads: &grads, path: vec![], with: 0, without: vec![] };
    unet.visit(&mut check);
    assert!(check.with > 200, "{} parameters visited", check.with);
    // A key bias adds q.b to every logit of a query alike, which softmax ignores: its gradient
    // is zero by construction (BERT's attention has one; diffusers' to_k has none).
    assert_eq!(check.without, vec!["reward.ca.attention.self_.key.bias".to_string()]);
}
