//! Turning edits into the network's input tensors: images resized to the network's resolution
//! (core's image I/O), stacked as source, edited and |edited - source| in [0, 1]; instructions
//! as padded token ids.

use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;
use rewardedit_core::image_io::resize_to;

use super::config::StudentConfig;
use super::network::IN_CHANNELS;

/// `image` at `side` x `side` (a copy when it already is; aspect is not kept: the world's
/// images are square and the student was trained on whole frames).
pub fn at_resolution(image: &RgbImage, side: u32) -> RgbImage {
    resize_to(image, side, side)
}

/// `[batch, 9, res, res]` input for pairs already at `res` x `res` (see [`at_resolution`]).
pub fn image_tensor(pairs: &[(&RgbImage, &RgbImage)], res: u32, device: &Device) -> Tensor<4> {
    let n = (res * res) as usize;
    let mut data = vec![0.0f32; pairs.len() * IN_CHANNELS * n];
    for (k, (source, edited)) in pairs.iter().enumerate() {
        let base = k * IN_CHANNELS * n;
        for (i, (s, e)) in source.pixels().zip(edited.pixels()).take(n).enumerate() {
            for c in 0..3 {
                let (s, e) = (f32::from(s.0[c]) / 255.0, f32::from(e.0[c]) / 255.0);
                data[base + c * n + i] = s;
                data[base + (3 + c) * n + i] = e;
                data[base + (6 + c) * n + i] = (e - s).abs();
            }
        }
    }
    let r = res as usize;
    Tensor::from_data(TensorData::new(data, [pairs.len(), IN_CHANNELS, r, r]), device)
}

/// `[batch, max_tokens]` token ids.
pub fn token_tensor(config: &StudentConfig, instructions: &[&str], device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> =
        instructions.iter().flat_map(|t| config.vocab.encode(t, config.max_tokens)).map(|i| i as i64).collect();
    Tensor::from_data(TensorData::new(ids, [instructions.len(), config.max_tokens]), device)
}
