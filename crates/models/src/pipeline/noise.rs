//! Seeded Gaussian noise drawn on the host (ChaCha8), so an edit with a given seed gives the same
//! result on every backend and device.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A stream of unit Gaussian tensors from one seed.
pub struct NoiseStream {
    rng: ChaCha8Rng,
}

impl NoiseStream {
    pub fn new(seed: u64) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The next `shape` of unit Gaussian noise.
    pub fn next(&mut self, shape: [usize; 4], device: &Device) -> Tensor<4> {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut self.rng)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_noise() {
        let device = Device::flex();
        let a = NoiseStream::new(3).next([1, 2, 3, 4], &device).to_data();
        let b = NoiseStream::new(3).next([1, 2, 3, 4], &device).to_data();
        let c = NoiseStream::new(4).next([1, 2, 3, 4], &device).to_data();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
