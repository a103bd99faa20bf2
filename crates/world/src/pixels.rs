//! Float pixel buffers and the few filters both the flaw injector and the oracle need.
//! Buffers are square, row-major, `[r, g, b]` in 0-255.

use image::{Rgb, RgbImage};

pub type Px = Vec<[f32; 3]>;

pub fn to_px(img: &RgbImage) -> Px {
    img.pixels().map(|p| p.0.map(f32::from)).collect()
}

pub fn to_image(px: &[[f32; 3]], size: u32) -> RgbImage {
    let mut img = RgbImage::new(size, size);
    for (p, c) in img.pixels_mut().zip(px) {
        *p = Rgb(c.map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    img
}

/// Separable filter with clamped borders; `kernel` has odd length and sums to 1.
fn convolve(px: &[[f32; 3]], size: u32, kernel: &[f32]) -> Px {
    let n = size as usize;
    let r = kernel.len() / 2;
    // One padded line (borders repeated) per pass keeps the inner loop free of clamping.
    let mut line = vec![[0.0f32; 3]; n + 2 * r];
    let filter_line = |line: &mut Vec<[f32; 3]>, get: &dyn Fn(usize) -> [f32; 3], out: &mut dyn FnMut(usize, [f32; 3])| {
        for (j, l) in line.iter_mut().enumerate() {
            *l = get(j.saturating_sub(r).min(n - 1));
        }
        for x in 0..n {
            let mut acc = [0.0f32; 3];
            for (w, c) in kernel.iter().zip(&line[x..x + kernel.len()]) {
                acc[0] += w * c[0];
                acc[1] += w * c[1];
                acc[2] += w * c[2];
            }
            out(x, acc);
        }
    };
    let mut tmp = vec![[0.0f32; 3]; px.len()];
    for y in 0..n {
        filter_line(&mut line, &|x| px[y * n + x], &mut |x, v| tmp[y * n + x] = v);
    }
    let mut out = vec![[0.0f32; 3]; px.len()];
    for x in 0..n {
        filter_line(&mut line, &|y| tmp[y * n + x], &mut |y, v| out[y * n + x] = v);
    }
    out
}

/// Mean over a (2r+1)^2 window.
pub fn box_blur(px: &[[f32; 3]], size: u32, r: u32) -> Px {
    let k = 2 * r as usize + 1;
    convolve(px, size, &vec![1.0 / k as f32; k])
}

/// Gaussian blur with standard deviation `sigma` pixels (no-op below 0.1).
pub fn gaussian_blur(px: &[[f32; 3]], size: u32, sigma: f32) -> Px {
    if sigma < 0.1 {
        return px.to_vec();
    }
    let r = (3.0 * sigma).ceil() as i64;
    let mut k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|w| *w /= s);
    convolve(px, size, &k)
}

/// The image moved by (dx, dy) whole pixels, borders repeated.
pub fn shift(px: &[[f32; 3]], size: u32, dx: i64, dy: i64) -> Px {
    let n = size as i64;
    (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            px[((y - dy).clamp(0, n - 1) * n + (x - dx).clamp(0, n - 1)) as usize]
        })
        .collect()
}

/// Sum of absolute channel differences.
pub fn l1(a: [f32; 3], b: [f32; 3]) -> f32 {
    (a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()
}

pub fn luma(c: [f32; 3]) -> f32 {
    crate::render::luma(c)
}

