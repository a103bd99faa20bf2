//! Bootstrap confidence intervals (percentile method, seeded) and pixel metrics.

use image::RgbImage;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rewardedit_core::image_io::resize_to;
use serde::{Deserialize, Serialize};

use crate::record::GroundTruth;

/// PSNR of identical images is infinite; it is reported as this many dB so that it stays a
/// number in JSON and in means.
pub const PSNR_CAP_DB: f64 = 100.0;

/// How confidence intervals are drawn: `resamples` bootstrap resamples from a ChaCha8 stream
/// seeded by `seed` (each group of items its own stream, named by the group), percentile
/// interval at `level`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// Seed: the same items and seed give the same intervals.
    pub seed: u64,
    /// Confidence level in (0, 1).
    pub level: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap { resamples: 2000, seed: 0, level: 0.95 }
    }
}

impl Bootstrap {
    /// Intervals of the `K` statistics `stat` computes from a resample (given as indices into
    /// `0..n`), over `resamples` resamples; `tag` names the group so each gets its own stream.
    /// With `n == 0` every interval is `[NaN, NaN]`; callers report nothing for empty groups.
    pub fn intervals<const K: usize>(&self, n: usize, tag: &str, mut stat: impl FnMut(&[usize]) -> [f64; K]) -> [[f64; 2]; K] {
        if n == 0 || self.resamples == 0 {
            return [[f64::NAN; 2]; K];
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream_of(tag));
        let mut draws: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(self.resamples));
        let mut idx = vec![0usize; n];
        for _ in 0..self.resamples {
            idx.iter_mut().for_each(|i| *i = rng.random_range(0..n));
            for (d, v) in draws.iter_mut().zip(stat(&idx)) {
                d.push(v);
            }
        }
        let tail = (1.0 - self.level) / 2.0;
        draws.map(|mut d| {
            d.sort_by(f64::total_cmp);
            [quantile(&d, tail), quantile(&d, 1.0 - tail)]
        })
    }
}

/// A stable 64-bit name of a group (FNV-1a), so a group's interval does not depend on which
/// other groups a run has.
fn stream_of(tag: &str) -> u64 {
    tag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Quantile `q` of sorted values, interpolating linearly between order statistics.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Mean of `values` at `idx` (a resample).
pub fn mean_at(values: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len().max(1) as f64
}

/// L1, L2 and PSNR of `candidate` against `reference`, channels scaled to [0, 1]. A candidate
/// of another size is resized to the reference's first (as a scorer would see it).
pub fn pixel_metrics(reference: &RgbImage, candidate: &RgbImage) -> GroundTruth {
    let resized;
    let candidate = if candidate.dimensions() == reference.dimensions() {
        candidate
    } else {
        resized = resize_to(candidate, reference.width(), reference.height());
        &resized
    };
    let (mut l1, mut l2) = (0.0f64, 0.0f64);
    for (a, b) in reference.as_raw().iter().zip(candidate.as_raw()) {
        let d = (f64::from(*a) - f64::from(*b)) / 255.0;
        l1 += d.abs();
        l2 += d * d;
    }
    let n = reference.as_raw().len().max(1) as f64;
    let (l1, l2) = (l1 / n, l2 / n);
    let psnr = if l2 > 0.0 { (-10.0 * l2.log10()).min(PSNR_CAP_DB) } else { PSNR_CAP_DB };
    GroundTruth { l1, l2, psnr }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.125), 1.5);
        assert_eq!(quantile(&v, 1.0), 5.0);
    }

    #[test]
    fn intervals_are_seeded_and_cover_the_mean() {
        let x: Vec<f64> = (0..50).map(|i| f64::from(i % 5)).collect();
        let b = Bootstrap::default();
        let [ci] = b.intervals(x.len(), "g", |idx| [mean_at(&x, idx)]);
        assert_eq!([ci], b.intervals(x.len(), "g", |idx| [mean_at(&x, idx)]));
        assert!(ci[0] < 2.0 && 2.0 < ci[1] && ci[1] - ci[0] < 1.0, "{ci:?}");
        let [constant] = b.intervals(10, "g", |_| [4.0]);
        assert_eq!(constant, [4.0, 4.0]);
    }

    #[test]
    fn pixel_metrics_of_known_images() {
        let a = RgbImage::from_pixel(4, 4, image::Rgb([0, 0, 0]));
        let b = RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
        let m = pixel_metrics(&a, &b);
        assert_eq!((m.l1, m.l2, m.psnr), (1.0, 1.0, 0.0));
        assert_eq!(pixel_metrics(&a, &a).psnr, PSNR_CAP_DB);
        let c = RgbImage::from_pixel(4, 4, image::Rgb([51, 51, 51]));
        assert!((pixel_metrics(&a, &c).psnr - 13.979).abs() < 1e-3);
    }
}
