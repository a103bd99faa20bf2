//! Slice kernels of the fused CPU ops ([`super::flex`]): GroupNorm forward and backward, and the
//! row softmax of attention with its backward, on contiguous f32 buffers, parallel with rayon.
//!
//! burn-flex's softmax calls glibc's scalar `expf` once per score (docs/benchmarks.md, "Where the
//! Flex time goes"); [`exp`] is Cephes' `expf` written without branches or calls, so the loops
//! over a row vectorise. Sums run in eight lanes for the same reason (a single f32 accumulator
//! forbids reordering, and so vectorisation).

use rayon::prelude::*;

const LANES: usize = 8;

/// `e^x` to ~2 ulp for `x` in [-87, 88] (Cephes `expf`: `x = n ln 2 + r`, a degree-6 polynomial
/// for `e^r`, `2^n` put into the exponent bits); below -87 it returns ~1e-38, not 0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer without a call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln 2 in two parts, so n * ln 2 is subtracted without rounding error.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// Sum in [`LANES`] independent accumulators.
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for j in 0..LANES {
            acc[j] += c[j];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// `sum(a[i] * b[i])` in [`LANES`] accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..LANES {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + rest
}

fn max(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    for c in chunks {
        for j in 0..LANES {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    acc.iter().fold(rest, |m, &x| if x > m { x } else { m })
}

/// Each row of `scores` (rows of `n`) becomes `softmax(scale * row)`, in place.
pub fn softmax_rows(scores: &mut [f32], n: usize, scale: f32) {
    scores.par_chunks_mut(n).for_each(|row| {
        let m = max(row);
        for x in row.iter_mut() {
            *x = exp((*x - m) * scale);
        }
        let inv = 1.0 / sum(row);
        for x in row.iter_mut() {
            *x *= inv;
        }
    });
}

/// The gradient of the scaled softmax, in place: `dp` (rows of `n`, the gradient with respect
/// to the probabilities `p`) becomes `scale * p * (dp - sum(p * dp))`, the gradient with
/// respect to the unscaled scores.
pub fn softmax_backward_rows(p: &[f32], dp: &mut [f32], n: usize, scale: f32) {
    dp.par_chunks_mut(n).zip(p.par_chunks(n)).for_each(|(d, p)| {
        let s = dot(p, d);
        for (d, &p) in d.iter_mut().zip(p) {
            *d = scale * p * (*d - s);
        }
    });
}

/// Shape of a GroupNorm input `[batch, channels, spatial...]`, the spatial dimensions flattened.
#[derive(Debug, Clone, Copy)]
pub struct GroupShape {
    pub batch: usize,
    pub channels: usize,
    pub groups: usize,
    pub spatial: usize,
}

impl GroupShape {
    fn per_group(&self) -> usize {
        self.channels / self.groups * self.spatial
    }
}

/// Per-(sample, group) mean and 1 / standard deviation, as the backward pass needs them.
#[derive(Debug, Clone)]
pub struct GroupStats {
    pub mean: Vec<f32>,
    pub rstd: Vec<f32>,
}

/// Per channel, the `(a, c)` with `gamma[c] * xhat + beta[c] = a * x + c` in sample-group `bg`.
fn channel_affine(bg: usize, i: usize, affine: Option<(&[f32], &[f32])>, stats: (f32, f32), shape: GroupShape) -> (f32, f32) {
    let (mean, rstd) = stats;
    let channel = bg % shape.groups * (shape.channels / shape.groups) + i;
    let (w, b) = affine.map_or((1.0, 0.0), |(g, b)| (g[channel], b[channel]));
    (rstd * w, b - mean * rstd * w)
}

/// `z * sigmoid(z)`.
#[inline(always)]
fn silu(z: f32) -> f32 {
    z / (1.0 + exp(-z))
}

/// GroupNorm of `x`: `(x - mean) * rstd * gamma[c] + beta[c]` per (sample, group), with the
/// biased variance as PyTorch and burn take it; then SiLU if `silu`.
pub fn group_norm_forward(x: &[f32], affine: Option<(&[f32], &[f32])>, shape: GroupShape, eps: f32, with_silu: bool) -> (Vec<f32>, GroupStats) {
    let (len, hw) = (shape.per_group(), shape.spatial);
    let mut y = vec![0.0f32; x.len()];
    let stats: Vec<(f32, f32)> = y
        .par_chunks_mut(len)
        .zip(x.par_chunks(len))
        .enumerate()
        .map(|(bg, (y, x))| {
            let mean = sum(x) / len as f32;
            let mut acc = [0.0f32; LANES];
            let chunks = x.chunks_exact(LANES);
            let rest: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
            for c in chunks {
                for j in 0..LANES {
                    acc[j] += (c[j] - mean) * (c[j] - mean);
                }
            }
            let var = (acc.iter().sum::<f32>() + rest) / len as f32;
            let rstd = 1.0 / (var + eps).sqrt();
            for (i, (y, x)) in y.chunks_mut(hw).zip(x.chunks(hw)).enumerate() {
                let (a, c) = channel_affine(bg, i, affine, (mean, rstd), shape);
                if with_silu {
                    for (y, &x) in y.iter_mut().zip(x) {
                        *y = silu(x * a + c);
                    }
                } else {
                    for (y, &x) in y.iter_mut().zip(x) {
                        *y = x * a + c;
                    }
                }
            }
            (mean, rstd)
        })
        .collect();
    let (mean, rstd) = stats.into_iter().unzip();
    (y, GroupStats { mean, rstd })
}

/// The gradient with respect to the norm's output `z` of `silu(z)` given the gradient `dy` of
/// its output: `dy * s * (1 + z * (1 - s))`, `s = sigmoid(z)`, `z` recomputed from `x`.
pub fn silu_backward_through_norm(x: &[f32], dy: &[f32], affine: Option<(&[f32], &[f32])>, stats: &GroupStats, shape: GroupShape) -> Vec<f32> {
    let (len, hw) = (shape.per_group(), shape.spatial);
    let mut dz = vec![0.0f32; x.len()];
    dz.par_chunks_mut(len).zip(x.par_chunks(len).zip(dy.par_chunks(len))).enumerate().for_each(|(bg, (dz, (x, dy)))| {
        for (i, (dz, (x, dy))) in dz.chunks_mut(hw).zip(x.chunks(hw).zip(dy.chunks(hw))).enumerate() {
            let (a, c) = channel_affine(bg, i, affine, (stats.mean[bg], stats.rstd[bg]), shape);
            for ((dz, &x), &dy) in dz.iter_mut().zip(x).zip(dy) {
                let z = x * a + c;
                let s = 1.0 / (1.0 + exp(-z));
                *dz = dy * s * (1.0 + z * (1.0 - s));
            }
        }
    });
    dz
}

/// Gradients of [`group_norm_forward`] for the output gradient `dy`: `(dx, dgamma, dbeta)`, the
/// last two per channel (computed whether or not the norm is affine; `gamma` None means 1).
pub fn group_norm_backward(x: &[f32], dy: &[f32], gamma: Option<&[f32]>, stats: &GroupStats, shape: GroupShape) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (len, hw) = (shape.per_group(), shape.spatial);
    let cpg = shape.channels / shape.groups;
    let mut dx = vec![0.0f32; x.len()];
    // Per (sample, channel): sum(dy) and sum(dy * xhat), reduced over the batch afterwards.
    let mut sums = vec![[0.0f32; 2]; shape.batch * shape.channels];
    dx.par_chunks_mut(len)
        .zip(x.par_chunks(len).zip(dy.par_chunks(len)))
        .zip(sums.par_chunks_mut(cpg))
        .enumerate()
        .for_each(|(bg, ((dx, (x, dy)), sums))| {
            let (mean, rstd) = (stats.mean[bg], stats.rstd[bg]);
            let first = bg % shape.groups * cpg;
            let (mut sg, mut sgx) = (0.0f32, 0.0f32);
            for (i, (x, dy)) in x.chunks(hw).zip(dy.chunks(hw)).enumerate() {
                let sdy = sum(dy);
                // sum(dy * xhat) = rstd * (sum(dy * x) - mean * sum(dy))
                let sdyx = rstd * (dot(dy, x) - mean * sdy);
                sums[i] = [sdy, sdyx];
                let w = gamma.map_or(1.0, |g| g[first + i]);
                sg += w * sdy;
                sgx += w * sdyx;
            }
            // dx = rstd * (gamma dy - mean(gamma dy) - xhat * mean(gamma dy xhat))
            let (mg, mgx) = (sg / len as f32, sgx / len as f32);
            for (i, (dx, (x, dy))) in dx.chunks_mut(hw).zip(x.chunks(hw).zip(dy.chunks(hw))).enumerate() {
                let w = gamma.map_or(1.0, |g| g[first + i]);
                // rstd * (w dy - mg - (x - mean) rstd mgx) = a dy + b x + c
                let (a, b) = (rstd * w, -rstd * rstd * mgx);
                let c = -rstd * mg + rstd * rstd * mgx * mean;
                for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                    *dx = a * dy + b * x + c;
                }
            }
        });
    let mut dgamma = vec![0.0f32; shape.channels];
    let mut dbeta = vec![0.0f32; shape.channels];
    for per_sample in sums.chunks(shape.channels) {
        for (c, [sdy, sdyx]) in per_sample.iter().enumerate() {
            dbeta[c] += sdy;
            dgamma[c] += sdyx;
        }
    }
    (dx, dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_agrees_with_the_standard_library_to_a_few_ulp() {
        let mut worst = 0.0f32;
        for i in -86_900..=87_900 {
            let x = i as f32 * 1e-3;
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!(exp(-1e4) < 1e-37 && exp(-1e4) >= 0.0, "far below the range the result is ~0");
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_match_the_plain_formula() {
        let n = 13;
        let scores: Vec<f32> = (0..3 * n).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7).collect();
        let mut p = scores.clone();
        softmax_rows(&mut p, n, 0.5);
        for (row, s) in p.chunks(n).zip(scores.chunks(n)) {
            let z: f32 = s.iter().map(|x| (0.5 * x).exp()).sum();
            for (p, s) in row.iter().zip(s) {
                assert!((p - (0.5 * s).exp() / z).abs() < 1e-6);
            }
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn softmax_backward_matches_finite_differences() {
        let n = 6;
        let s: Vec<f32> = vec![0.3, -1.2, 2.0, 0.0, 0.7, -0.4];
        let w: Vec<f32> = vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.25];
        let loss = |s: &[f32]| {
            let mut p = s.to_vec();
            softmax_rows(&mut p, n, 0.8);
            p.iter().zip(&w).map(|(p, w)| (p * w) as f64).sum::<f64>()
        };
        let mut p = s.clone();
        softmax_rows(&mut p, n, 0.8);
        let mut grad = w.clone();
        softmax_backward_rows(&p, &mut grad, n, 0.8);
        for i in 0..n {
            let (mut up, mut down) = (s.clone(), s.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let numeric = (loss(&up) - loss(&down)) / 2e-2;
            assert!((grad[i] as f64 - numeric).abs() < 1e-3, "{i}: {} vs {numeric}", grad[i]);
        }
    }

    #[test]
    fn group_norm_backward_matches_finite_differences() {
        let shape = GroupShape { batch: 2, channels: 4, groups: 2, spatial: 3 };
        let n = 2 * 4 * 3;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.9 + i as f32 * 0.05).collect();
        let w: Vec<f32> = (0..n).map(|i| ((i * 3 % 7) as f32 - 3.0) * 0.3).collect();
        let gamma = [1.5f32, -0.5, 0.8, 2.0];
        let beta = [0.1f32, 0.2, -0.3, 0.0];
        let loss = |x: &[f32], g: &[f32], b: &[f32]| {
            let (y, _) = group_norm_forward(x, Some((g, b)), shape, 1e-5, false);
            y.iter().zip(&w).map(|(y, w)| (y * w) as f64).sum::<f64>()
        };
        let (_, stats) = group_norm_forward(&x, Some((&gamma, &beta)), shape, 1e-5, false);
        let (dx, dgamma, dbeta) = group_norm_backward(&x, &w, Some(&gamma), &stats, shape);
        let h = 1e-2f32;
        let numeric = |f: &dyn Fn(f32) -> f64| (f(h) - f(-h)) / (2.0 * h as f64);
        for i in 0..n {
            let d = numeric(&|e| {
                let mut x = x.clone();
                x[i] += e;
                loss(&x, &gamma, &beta)
            });
            assert!((dx[i] as f64 - d).abs() < 2e-3, "dx[{i}]: {} vs {d}", dx[i]);
        }
        for c in 0..4 {
            let dg = numeric(&|e| {
                let mut g = gamma;
                g[c] += e;
                loss(&x, &g, &beta)
            });
            let db = numeric(&|e| {
                let mut b = beta;
                b[c] += e;
                loss(&x, &gamma, &b)
            });
            assert!((dgamma[c] as f64 - dg).abs() < 2e-3, "dgamma[{c}]: {} vs {dg}", dgamma[c]);
            assert!((dbeta[c] as f64 - db).abs() < 2e-3, "dbeta[{c}]: {} vs {db}", dbeta[c]);
        }
    }

    #[test]
    fn silu_after_the_norm_matches_finite_differences() {
        let shape = GroupShape { batch: 1, channels: 2, groups: 1, spatial: 5 };
        let x: Vec<f32> = vec![0.5, -1.0, 2.0, 0.1, -0.3, 1.7, -2.2, 0.0, 0.9, 0.4];
        let w: Vec<f32> = vec![1.0, 0.5, -1.0, 2.0, 0.3, -0.7, 1.1, 0.2, -0.4, 0.8];
        let (gamma, beta) = ([1.3f32, -0.6], [0.2f32, -0.1]);
        let loss = |x: &[f32]| {
            let (y, _) = group_norm_forward(x, Some((&gamma, &beta)), shape, 1e-5, true);
            y.iter().zip(&w).map(|(y, w)| (y * w) as f64).sum::<f64>()
        };
        let (y, stats) = group_norm_forward(&x, Some((&gamma, &beta)), shape, 1e-5, true);
        let (plain, _) = group_norm_forward(&x, Some((&gamma, &beta)), shape, 1e-5, false);
        for (y, z) in y.iter().zip(&plain) {
            assert!((y - z / (1.0 + (-z).exp())).abs() < 1e-6);
        }
        let dz = silu_backward_through_norm(&x, &w, Some((&gamma, &beta)), &stats, shape);
        let (dx, _, _) = group_norm_backward(&x, &dz, Some(&gamma), &stats, shape);
        for i in 0..x.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let numeric = (loss(&up) - loss(&down)) / 2e-2;
            assert!((dx[i] as f64 - numeric).abs() < 2e-3, "dx[{i}]: {} vs {numeric}", dx[i]);
        }
    }
}
