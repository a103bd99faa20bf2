//! Images in and out of the pipeline: 8-bit RGB <-> `[B, 3, H, W]` in `[-1, 1]` (diffusers'
//! `VaeImageProcessor` normalisation).

use burn::prelude::*;
use image::RgbImage;

/// `images` (all the same size) as one batch `[B, 3, H, W]` in `[-1, 1]`.
pub fn to_tensor(images: &[RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut values = Vec::with_capacity(images.len() * 3 * h * w);
    for image in images {
        assert_eq!(image.dimensions(), images[0].dimensions(), "a batch has one size");
        for c in 0..3 {
            values.extend(image.pixels().map(|p| f32::from(p.0[c]) / 127.5 - 1.0));
        }
    }
    Tensor::from_data(TensorData::new(values, [images.len(), 3, h, w]), device)
}

/// A batch in `[-1, 1]` back to 8-bit images (clamped, rounded as diffusers' `numpy_to_pil`).
pub fn to_images(batch: Tensor<4>) -> Vec<RgbImage> {
    let [b, c, h, w] = batch.dims();
    assert_eq!(c, 3, "images have three channels");
    let values = ((batch / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).into_data().convert::<f32>().try_to_vec::<f32>().expect("float data");
    (0..b)
        .map(|i| {
            let plane = |ch: usize, y: usize, x: usize| values[((i * 3 + ch) * h + y) * w + x].round() as u8;
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let (x, y) = (x as usize, y as usize);
                image::Rgb([plane(0, y, x), plane(1, y, x), plane(2, y, x)])
            })
        })
        .collect()
}
