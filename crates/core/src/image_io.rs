//! Image I/O: load any common format as upright RGB8, save PNG, and resize keeping the aspect
//! ratio (the editor works on multiples of 64 px with the long side ~512, paper-notes.md
//! "Inference").
//!
//! Loading applies the EXIF orientation, converts 16-bit, grayscale, palette and CMYK (where the
//! `image` crate decodes it) to RGB8, composites alpha over white, rejects images over
//! [`ImageLimits`] before allocating them, and rejects truncated files instead of returning a
//! half-grey picture.

use std::fs;
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;

use image::codecs::png::PngEncoder;
use image::error::ImageError;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageEncoder, ImageFormat, ImageReader,
    Limits, Pixel, PixelWithColorType, Rgb, RgbImage,
};

use crate::{Error, Result};

/// The formats this build decodes (the `image` features enabled in the workspace).
pub const SUPPORTED_FORMATS: &str = "PNG, JPEG, GIF, BMP, TIFF, WebP, PNM";

const MIB: u64 = 1024 * 1024;

/// Limits against decompression bombs: a tiny file whose header claims a huge image is
/// rejected before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest accepted width, in pixels (before EXIF rotation).
    pub max_width: u32,
    /// Largest accepted height, in pixels (before EXIF rotation).
    pub max_height: u32,
    /// Largest decoded size, in bytes (at the file's own bit depth and channels); also the
    /// largest file read into memory.
    pub max_alloc_bytes: u64,
}

impl Default for ImageLimits {
    /// 16384 px per side and 512 MiB: far above any photo we edit, far below what exhausts RAM.
    fn default() -> Self {
        ImageLimits { max_width: 16384, max_height: 16384, max_alloc_bytes: 512 * MIB }
    }
}

impl ImageLimits {
    fn to_image_limits(self) -> Limits {
        let mut limits = Limits::default();
        limits.max_image_width = Some(self.max_width);
        limits.max_image_height = Some(self.max_height);
        limits.max_alloc = Some(self.max_alloc_bytes);
        limits
    }

    fn describe(self) -> String {
        format!(
            "at most {}x{} px and {} MiB decoded",
            self.max_width,
            self.max_height,
            self.max_alloc_bytes.div_ceil(MIB)
        )
    }
}

/// What the header of an image file says, with the EXIF orientation already applied to the
/// size (a portrait photo stored sideways reports its portrait size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
}

/// Reads only the header: format, size, orientation. Checks the limits but not the pixel data,
/// so a truncated file passes; use [`load_image`] to be sure a file decodes.
pub fn probe(path: impl AsRef<Path>, limits: &ImageLimits) -> Result<ImageInfo> {
    let path = path.as_ref();
    let bytes = read_file(path, limits)?;
    let (reader, format) = reader(path, &bytes, limits)?;
    let fail = |e| explain(path, format, limits, e);
    let mut decoder = reader.into_decoder().map_err(fail)?;
    check_alloc(path, decoder.total_bytes(), decoder.dimensions(), limits)?;
    let (w, h) = decoder.dimensions();
    let (width, height) =
        if swaps_sides(decoder.orientation().map_err(fail)?) { (h, w) } else { (w, h) };
    Ok(ImageInfo { width, height, format })
}

/// Decodes a whole image, upright (EXIF orientation applied), in the file's own pixel type.
pub fn load_image(path: impl AsRef<Path>, limits: &ImageLimits) -> Result<DynamicImage> {
    let path = path.as_ref();
    let bytes = read_file(path, limits)?;
    let (reader, format) = reader(path, &bytes, limits)?;
    if format == ImageFormat::Jpeg {
        check_jpeg_complete(&bytes).map_err(|reason| Error::Image { path: path.into(), reason })?;
    }
    let fail = |e| explain(path, format, limits, e);
    let mut decoder = reader.into_decoder().map_err(fail)?;
    check_alloc(path, decoder.total_bytes(), decoder.dimensions(), limits)?;
    let orientation = decoder.orientation().map_err(fail)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Loads an image as upright RGB8 under the default [`ImageLimits`]; see [`to_rgb8`].
pub fn load_rgb(path: impl AsRef<Path>) -> Result<RgbImage> {
    load_image(path, &ImageLimits::default()).map(to_rgb8)
}

/// Loads a mask or other single-channel image as upright 8-bit gray (colour is converted to
/// luma; alpha is ignored) under the default [`ImageLimits`].
pub fn load_gray(path: impl AsRef<Path>) -> Result<GrayImage> {
    load_image(path, &ImageLimits::default()).map(DynamicImage::into_luma8)
}

/// Converts any decoded image to RGB8. 16-bit and float samples are scaled to 8 bits,
/// gray is replicated to three channels, and alpha is composited over white (in the stored,
/// gamma-encoded values, as browsers show it): a transparent logo becomes a logo on a white page,
/// not on black, which is what a user editing it expects to see.
pub fn to_rgb8(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba32f();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let alpha = p[3].clamp(0.0, 1.0);
        Rgb([0, 1, 2].map(|c| {
            let v = p[c].clamp(0.0, 1.0) * alpha + (1.0 - alpha);
            (v * 255.0).round() as u8
        }))
    })
}

/// Writes an 8-bit image (RGB, or gray for masks) as PNG, replacing any existing file.
pub fn save_png<P>(path: impl AsRef<Path>, image: &ImageBuffer<P, Vec<u8>>) -> Result<()>
where
    P: Pixel<Subpixel = u8> + PixelWithColorType,
{
    let path = path.as_ref();
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::new(file);
    PngEncoder::new(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), P::COLOR_TYPE)
        .map_err(|e| Error::Image {
            path: path.into(),
            reason: format!("cannot write PNG: {e}"),
        })?;
    out.flush().map_err(|e| Error::io(path, e))
}

/// The size [`resize_keep_aspect`] produces: the long side becomes the largest multiple of
/// `multiple_of` not above `max_side` (at least one multiple), the short side the multiple
/// nearest to the exact aspect-preserving length (at least one multiple). Images are scaled
/// up as well as down. `multiple_of` 0 is taken as 1.
pub fn target_size(width: u32, height: u32, max_side: u32, multiple_of: u32) -> (u32, u32) {
    let m = multiple_of.max(1);
    let (w, h) = (width.max(1), height.max(1));
    let long = (max_side / m).max(1) * m;
    let short_of = |short: u32, long_src: u32| {
        round_to_multiple(f64::from(short) * f64::from(long) / f64::from(long_src), m)
    };
    if w >= h { (long, short_of(h, w)) } else { (short_of(w, h), long) }
}

/// Resizes so the long side is ~`max_side` and both sides are multiples of `multiple_of`,
/// keeping the aspect ratio as closely as that rounding allows ([`target_size`]).
pub fn resize_keep_aspect(image: &RgbImage, max_side: u32, multiple_of: u32) -> RgbImage {
    let (w, h) = target_size(image.width(), image.height(), max_side, multiple_of);
    resize_to(image, w, h)
}

/// Resizes each side to its nearest multiple of `multiple` (at least one multiple): the
/// smallest change that makes an image acceptable to a network that downsamples by `multiple`.
pub fn fit_to_multiple(image: &RgbImage, multiple: u32) -> RgbImage {
    let m = multiple.max(1);
    let w = round_to_multiple(f64::from(image.width()), m);
    let h = round_to_multiple(f64::from(image.height()), m);
    resize_to(image, w, h)
}

/// Resizes to exactly `width` x `height` (e.g. an edited image back to its source's size),
/// with Lanczos3, the filter diffusers' pipelines use; a same-size call returns a copy.
pub fn resize_to(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    image::imageops::resize(image, width.max(1), height.max(1), FilterType::Lanczos3)
}

fn round_to_multiple(x: f64, m: u32) -> u32 {
    let k = (x / f64::from(m)).round().max(1.0);
    // Saturating: sizes near u32::MAX are far beyond any ImageLimits anyway.
    (k * f64::from(m)).min(f64::from(u32::MAX)) as u32
}

fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Reads the whole file; decoders need it all anyway, and the JPEG completeness check scans it.
fn read_file(path: &Path, limits: &ImageLimits) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::Image {
            path: path.into(),
            reason: "is a folder, not an image file".into(),
        });
    }
    if meta.len() > limits.max_alloc_bytes {
        return Err(Error::Image {
            path: path.into(),
            reason: format!(
                "the file is {} MiB, over the image limit ({}); raise ImageLimits if it is genuine",
                meta.len().div_ceil(MIB),
                limits.describe()
            ),
        });
    }
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// A reader over `bytes` whose format is guessed from the content first (a JPEG named `.png`
/// still loads), then from the file name.
fn reader<'a>(
    path: &Path,
    bytes: &'a [u8],
    limits: &ImageLimits,
) -> Result<(ImageReader<Cursor<&'a [u8]>>, ImageFormat)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    if reader.format().is_none()
        && let Ok(f) = ImageFormat::from_path(path)
    {
        reader.set_format(f);
    }
    let format = reader.format().ok_or_else(|| Error::Image {
        path: path.into(),
        reason: format!(
            "not an image in a supported format ({SUPPORTED_FORMATS}): neither its content nor \
             its file name says which; is it really an image?"
        ),
    })?;
    reader.limits(limits.to_image_limits());
    Ok((reader, format))
}

fn check_alloc(path: &Path, bytes: u64, (w, h): (u32, u32), limits: &ImageLimits) -> Result<()> {
    if bytes > limits.max_alloc_bytes {
        return Err(Error::Image {
            path: path.into(),
            reason: format!(
                "image of {w}x{h} px needs {} MiB decoded, over the limit ({}); raise ImageLimits \
                 if it is genuine",
                bytes.div_ceil(MIB),
                limits.describe()
            ),
        });
    }
    Ok(())
}

/// Turns an `image` error into a reason a user can act on.
fn explain(path: &Path, format: ImageFormat, limits: &ImageLimits, e: ImageError) -> Error {
    let name = format!("{format:?}").to_uppercase();
    let reason = match e {
        ImageError::Limits(l) => format!(
            "image exceeds the size limit ({}): {l}; a header this large is usually a \
             decompression bomb; raise ImageLimits if the image is genuine",
            limits.describe()
        ),
        ImageError::Unsupported(u) => {
            format!("unsupported {name} variant: {u}; convert it to an 8-bit RGB PNG or JPEG")
        }
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => format!(
            "the {name} data ends early: the file is truncated; re-download or re-export it"
        ),
        other => format!(
            "cannot decode as {name}: {}; the file is damaged, truncated or not really a \
             {name} image",
            other.to_string().trim_end_matches('.')
        ),
    };
    Error::Image { path: path.into(), reason }
}

/// Walks a JPEG's segments to its end-of-image marker. The `image` crate's JPEG decoder is
/// lenient: it fills a truncated scan with grey and succeeds, so truncation is caught here.
/// Data after the end marker (camera trailers, motion photos) is allowed.
fn check_jpeg_complete(bytes: &[u8]) -> std::result::Result<(), String> {
    const TRUNCATED: &str = "the JPEG data ends before its end-of-image marker: the file is \
                             truncated; re-download or re-export it";
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG file: it lacks the start-of-image marker".into());
    }
    let mut i = 2;
    loop {
        // Tolerate stray bytes and 0xFF fill before a marker, as decoders do.
        while i < bytes.len() && bytes[i] != 0xFF {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else { return Err(TRUNCATED.into()) };
        i += 1;
        match marker {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) =
                    bytes.get(i..i + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    return Err(TRUNCATED.into());
                };
                i += len;
                if i > bytes.len() {
                    return Err(TRUNCATED.into());
                }
                if marker == 0xDA {
                    i = skip_entropy_coded(bytes, i).ok_or(TRUNCATED)?;
                }
            }
        }
    }
}

/// Index of the marker that ends the entropy-coded data starting at `i`; `None` at end of file.
fn skip_entropy_coded(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += bytes.get(i..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(i + 1)? {
            // Stuffed zero, restart marker or fill byte: still inside the scan.
            0x00 | 0xD0..=0xD7 | 0xFF => i += 1,
            _ => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_size_keeps_aspect_for_landscape_portrait_and_square() {
        assert_eq!(target_size(1280, 720, 512, 64), (512, 320)); // 288 -> nearest 64 is 320
        assert_eq!(target_size(612, 1280, 512, 64), (256, 512)); // 244.8 -> 256
        assert_eq!(target_size(300, 300, 512, 64), (512, 512)); // scaled up
        assert_eq!(target_size(2000, 10, 512, 64), (512, 64)); // never below one multiple
        assert_eq!(target_size(100, 40, 500, 64), (448, 192)); // long side rounded down
        assert_eq!(target_size(100, 50, 10, 0), (10, 5));
    }

    #[test]
    fn jpeg_scan_skips_stuffing_and_restarts() {
        let sos = [0xFF, 0xDA, 0x00, 0x02];
        let mut ok = vec![0xFF, 0xD8];
        ok.extend(sos);
        ok.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0xD9, 0xAA]);
        assert_eq!(check_jpeg_complete(&ok), Ok(()));
        assert!(check_jpeg_complete(&ok[..ok.len() - 3]).unwrap_err().contains("truncated"));
        assert!(check_jpeg_complete(b"hello").unwrap_err().contains("not a JPEG"));
    }
}
