//! Timestep sinusoid (diffusers `get_timestep_embedding` / `Timesteps`) and `TimestepEmbedding`.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

/// Sinusoidal embedding of `timesteps` `[B]` into `[B, dim]`, as diffusers' `Timesteps` module
/// (max period 10000, scale 1). The same function embeds the reward scores
/// (official-checkpoint.md, `add_time_proj`).
pub fn timestep_embedding(timesteps: Tensor<1>, dim: usize, flip_sin_to_cos: bool, freq_shift: f64) -> Tensor<2> {
    let device = timesteps.device();
    let half = dim / 2;
    // f32 step by step, as diffusers computes it, so fractional-ulp differences do not grow
    // into visible ones at t ~ 1000.
    let denom = (half as f64 - freq_shift) as f32;
    let log_max = -(10000f64.ln()) as f32;
    let freqs: Vec<f32> = (0..half).map(|i| (log_max * i as f32 / denom).exp()).collect();
    let freqs = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device);
    let args = timesteps.unsqueeze_dim::<2>(1) * freqs.unsqueeze_dim::<2>(0);
    let (sin, cos) = (args.clone().sin(), args.cos());
    let emb = if flip_sin_to_cos { Tensor::cat(vec![cos, sin], 1) } else { Tensor::cat(vec![sin, cos], 1) };
    if dim % 2 == 1 {
        let [b, _] = emb.dims();
        Tensor::cat(vec![emb, Tensor::zeros([b, 1], &device)], 1)
    } else {
        emb
    }
}

/// diffusers' `TimestepEmbedding`: `linear_2(silu(linear_1(x)))`.
#[derive(Module, Debug)]
pub struct TimestepEmbedding {
    pub linear_1: Linear,
    pub linear_2: Linear,
}

impl TimestepEmbedding {
    /// `in_dim -> out_dim -> out_dim`; with `zero_out`, `linear_2` starts at zero so the
    /// embedding contributes nothing until trained.
    pub fn new(in_dim: usize, out_dim: usize, zero_out: bool, device: &Device) -> Self {
        let linear_2 = LinearConfig::new(out_dim, out_dim);
        let linear_2 = if zero_out { linear_2.with_initializer(Initializer::Zeros) } else { linear_2 };
        Self { linear_1: LinearConfig::new(in_dim, out_dim).init(device), linear_2: linear_2.init(device) }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear_2.forward(silu(self.linear_1.forward(x)))
    }
}
