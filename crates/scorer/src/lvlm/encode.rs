//! Images as data URLs: downscaled to the configured longest side (aspect kept), then PNG or
//! JPEG, base64.

use std::io::Cursor;

use base64::Engine;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbImage};

use super::config::ImageFormat;
use crate::ScoreError;

/// JPEG quality used for data URLs: visually lossless for a judge, a fraction of PNG's size.
const JPEG_QUALITY: u8 = 90;

/// `data:image/...;base64,...` for `img`, no side longer than `max_side`.
pub fn data_url(img: &RgbImage, max_side: u32, format: ImageFormat) -> Result<String, ScoreError> {
    let resized;
    let img = match fit(img.width(), img.height(), max_side) {
        Some((w, h)) => {
            resized = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
            &resized
        }
        None => img,
    };
    let mut bytes = Vec::new();
    let (w, h) = img.dimensions();
    let (mime, result) = match format {
        ImageFormat::Png => ("image/png", {
            // Fast compression: the bytes are sent once; encoding time is on the hot path.
            PngEncoder::new_with_quality(Cursor::new(&mut bytes), CompressionType::Fast, FilterType::Adaptive)
                .write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
        }),
        ImageFormat::Jpeg => ("image/jpeg", {
            JpegEncoder::new_with_quality(Cursor::new(&mut bytes), JPEG_QUALITY)
                .write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
        }),
    };
    result.map_err(|e| ScoreError::Image(format!("cannot encode a {w}x{h} image: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(format!("data:{mime};base64,{b64}"))
}

/// The downscaled size when the longest side exceeds `max_side`, else `None`.
fn fit(w: u32, h: u32, max_side: u32) -> Option<(u32, u32)> {
    let long = w.max(h);
    if long <= max_side {
        return None;
    }
    let scale = f64::from(max_side) / f64::from(long);
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).clamp(1, max_side);
    Some((side(w), side(h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_aspect_and_never_upscales() {
        assert_eq!(fit(1024, 512, 512), Some((512, 256)));
        assert_eq!(fit(300, 1200, 512), Some((128, 512)));
        assert_eq!(fit(4000, 3, 512), Some((512, 1)));
        assert_eq!(fit(512, 100, 512), None);
    }

    #[test]
    fn png_round_trips_pixels() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 7]));
        let url = data_url(&img, 512, ImageFormat::Png).unwrap();
        let b64 = url.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        assert_eq!(image::load_from_memory(&bytes).unwrap().to_rgb8(), img);
        let jpeg = data_url(&RgbImage::new(600, 300), 512, ImageFormat::Jpeg).unwrap();
        assert!(jpeg.starts_with("data:image/jpeg;base64,"));
    }
}
