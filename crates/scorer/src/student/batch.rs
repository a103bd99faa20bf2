//! Turning edits into the network's input tensors: images resized to the network's resolution
//! (core's image I/O), stacked as source, edited and |edited - source| in [0, 1]; instructions
//! as padded token ids.

use burn::prelude::*;
use burn::tensor::TensorData;
use image::{GrayImage, RgbImage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rewardedit_core::image_io::resize_to;
use rewardedit_core::vocab::{PAD, UNK};

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
    dropped_token_tensor(config, instructions, &WordDropout::default(), device)
}

/// [`token_tensor`] with `drop` applied to the ids first (training batches).
pub fn dropped_token_tensor(config: &StudentConfig, instructions: &[&str], drop: &WordDropout, device: &Device) -> Tensor<2, Int> {
    let mut ids: Vec<i64> =
        instructions.iter().flat_map(|t| config.vocab.encode(t, config.max_tokens)).map(|i| i as i64).collect();
    drop.apply(&mut ids);
    Tensor::from_data(TensorData::new(ids, [instructions.len(), config.max_tokens]), device)
}

/// Word dropout for one training step: each word of an instruction becomes the unknown token
/// with probability `p`, so the student learns to judge from the images where it meets words it
/// never saw (the held-out phrasings' "clear the diamond from the picture"). Drawn from (`seed`,
/// `step`), so a resumed run drops the same words.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WordDropout {
    pub p: f64,
    pub seed: u64,
    pub step: u64,
}

impl WordDropout {
    /// Replaces the dropped words of `ids` (a batch's token ids, row after row) by [`UNK`] on the
    /// host, before they become a tensor; padding stays padding.
    pub fn apply(&self, ids: &mut [i64]) {
        if self.p <= 0.0 {
            return;
        }
        // Its own stream family, apart from the batch draws of the same (seed, step).
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x776f_7264_6472_6f70);
        rng.set_stream(self.step);
        for id in ids.iter_mut() {
            if *id != PAD as i64 && rng.random_bool(self.p) {
                *id = UNK as i64;
            }
        }
    }
}

/// The mask head's targets: each example's edit region averaged over the `side` x `side` cells
/// of the last stage (`[batch, side * side]`, row-major, in [0, 1]) and a weight per example (0
/// where the data has no mask). `None` when no example has one.
pub fn mask_targets(masks: &[Option<&GrayImage>], side: usize, device: &Device) -> Option<(Tensor<2>, Tensor<1>)> {
    if masks.iter().all(Option::is_none) {
        return None;
    }
    let mut targets = vec![0.0f32; masks.len() * side * side];
    let mut weights = vec![0.0f32; masks.len()];
    for (k, mask) in masks.iter().enumerate() {
        let Some(mask) = mask else { continue };
        weights[k] = 1.0;
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        for (x, y, p) in mask.enumerate_pixels() {
            let cell = (y as usize * side / h) * side + x as usize * side / w;
            targets[k * side * side + cell] += f32::from(p.0[0]) / 255.0;
        }
        let per_cell = (w * h / (side * side)) as f32;
        for t in &mut targets[k * side * side..(k + 1) * side * side] {
            *t /= per_cell;
        }
    }
    let b = masks.len();
    Some((Tensor::from_data(TensorData::new(targets, [b, side * side]), device), Tensor::from_data(TensorData::new(weights, [b]), device)))
}
