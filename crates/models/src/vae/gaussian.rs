//! diffusers' `DiagonalGaussianDistribution`: the encoder's posterior over latents.

use burn::prelude::*;

/// A Gaussian with diagonal covariance over `[B, C, H, W]` latents.
#[derive(Debug, Clone)]
pub struct DiagonalGaussian {
    pub mean: Tensor<4>,
    /// Log-variance, clamped to `[-30, 20]` as diffusers does.
    pub logvar: Tensor<4>,
}

impl DiagonalGaussian {
    /// Splits the `[B, 2C, H, W]` moments into mean (first half) and log-variance.
    pub fn from_moments(moments: Tensor<4>) -> Self {
        let mut halves = moments.chunk(2, 1);
        let logvar = halves.pop().expect("two halves").clamp(-30.0, 20.0);
        let mean = halves.pop().expect("two halves");
        Self { mean, logvar }
    }

    /// Standard deviation `exp(logvar / 2)`.
    pub fn std(&self) -> Tensor<4> {
        (self.logvar.clone() * 0.5).exp()
    }

    /// The most likely latent (the mean); what InstructPix2Pix encodes the source image to.
    pub fn mode(&self) -> Tensor<4> {
        self.mean.clone()
    }

    /// `mean + std * noise`, with standard normal `noise` of the same shape (passed in, so a
    /// seeded caller controls it).
    pub fn sample(&self, noise: Tensor<4>) -> Tensor<4> {
        self.mean.clone() + self.std() * noise
    }
}
