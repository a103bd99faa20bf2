//! Region-weighted denoising loss: more weight on the pixels the instruction allows to change.
//!
//! An object edit changes a few percent of a world image. Under plain MSE, copying the source
//! earns almost all of the loss, and the editor learns which object and where last (the world
//! editors learnt global edits long before object edits). Weighting the edit region up moves
//! capacity there. The weights depend only on what the model is conditioned on (the region is a
//! function of the source and the instruction, and rows that lose either weigh 1 everywhere), so
//! the optimum stays the conditional mean; only the emphasis changes.

use burn::prelude::*;
use image::imageops::{self, FilterType};

use crate::data::TrainExample;
use crate::dropout::DropDraws;

/// Per-pixel weights `[B, 1, H, W]` at the model's output size `(h, w)`: inside a row's region
/// `1 + weight` times the outside, averaging 1 over each image, so no example counts more than
/// another. Rows without a region, or whose text or source image is dropped, weigh 1.
pub fn region_weights(batch: &[TrainExample], drops: &DropDraws, weight: f64, (h, w): (usize, usize), device: &Device) -> Tensor<4> {
    let mut data = Vec::with_capacity(batch.len() * h * w);
    for (i, example) in batch.iter().enumerate() {
        let region = example.region.as_ref().filter(|_| !drops.text[i] && !drops.image[i]);
        match region {
            Some(region) => {
                // Latent editors: a box average, so a partly covered cell gets a fraction.
                let (w32, h32) = (w as u32, h as u32);
                let region = if w32 <= region.width() && h32 <= region.height() {
                    imageops::thumbnail(region, w32, h32)
                } else {
                    imageops::resize(region, w32, h32, FilterType::Triangle)
                };
                let raw: Vec<f64> = region.pixels().map(|p| 1.0 + weight * p.0[0] as f64 / 255.0).collect();
                let mean = raw.iter().sum::<f64>() / raw.len() as f64;
                data.extend(raw.iter().map(|x| (x / mean) as f32));
            }
            None => data.extend(std::iter::repeat_n(1.0f32, h * w)),
        }
    }
    Tensor::from_data(TensorData::new(data, [batch.len(), 1, h, w]), device)
}

/// Mean of `weights * (a - b)^2`, the weights `[B, 1, H, W]` shared by every channel.
pub fn weighted_mse(a: Tensor<4>, b: Tensor<4>, weights: Tensor<4>) -> Tensor<1> {
    let channels = a.dims()[1];
    let d = a - b;
    (d.clone() * d * weights.repeat_dim(1, channels)).mean()
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, RgbImage};

    use super::*;

    fn example(region: Option<GrayImage>) -> TrainExample {
        let img = RgbImage::new(4, 4);
        TrainExample { source: img.clone(), edited: img, instruction: "make the circle red".into(), reward: None, region }
    }

    fn quarter() -> GrayImage {
        GrayImage::from_fn(4, 4, |x, y| Luma([if x < 2 && y < 2 { 255 } else { 0 }]))
    }

    fn rows(t: Tensor<4>) -> Vec<Vec<f32>> {
        let [b, _, h, w] = t.dims();
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        (0..b).map(|i| v[i * h * w..(i + 1) * h * w].to_vec()).collect()
    }

    #[test]
    fn the_region_weighs_one_plus_weight_times_the_rest_and_each_image_averages_one() {
        let device = Device::flex();
        let batch = [example(Some(quarter())), example(None), example(Some(quarter())), example(Some(quarter()))];
        // Row 2 loses its text, row 3 its source: neither knows where the region is.
        let drops = DropDraws { text: vec![false, false, true, false], image: vec![false, false, false, true], reward_uniforms: vec![0.5; 4] };
        let w = rows(region_weights(&batch, &drops, 3.0, (4, 4), &device));
        let (inside, outside) = (w[0][0], w[0][15]);
        assert!((inside / outside - 4.0).abs() < 1e-5, "inside {inside} outside {outside}");
        assert!((w[0].iter().sum::<f32>() / 16.0 - 1.0).abs() < 1e-5);
        for row in &w[1..] {
            assert!(row.iter().all(|&x| x == 1.0), "{row:?}");
        }
    }

    #[test]
    fn a_latent_sized_weight_map_averages_the_region_over_each_cell() {
        let device = Device::flex();
        let drops = DropDraws { text: vec![false], image: vec![false], reward_uniforms: vec![0.5] };
        // The quarter region at half the size: one of four cells, weighted as fully inside.
        let w = rows(region_weights(&[example(Some(quarter()))], &drops, 3.0, (2, 2), &device));
        assert!((w[0][0] / w[0][3] - 4.0).abs() < 1e-5, "{:?}", w[0]);
    }

    #[test]
    fn weighted_mse_counts_errors_by_their_weight() {
        let device = Device::flex();
        let a = Tensor::<4>::zeros([1, 3, 2, 2], &device);
        // Error 1 at one pixel in every channel.
        let mut v = vec![0.0f32; 12];
        for c in 0..3 {
            v[c * 4] = 1.0;
        }
        let b = Tensor::<4>::from_data(TensorData::new(v, [1, 3, 2, 2]), &device);
        let weights = Tensor::<4>::from_data(TensorData::new(vec![2.0f32, 1.0, 0.5, 0.5], [1, 1, 2, 2]), &device);
        let plain = weighted_mse(a.clone(), b.clone(), Tensor::ones([1, 1, 2, 2], &device)).into_scalar::<f32>();
        let weighted = weighted_mse(a, b, weights).into_scalar::<f32>();
        assert!((plain - 0.25).abs() < 1e-6 && (weighted - 0.5).abs() < 1e-6, "plain {plain} weighted {weighted}");
    }
}
