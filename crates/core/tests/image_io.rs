//! Image loading as users meet it: every pixel layout becomes upright RGB8, broken files fail
//! with a message naming the file, and resizing keeps the aspect ratio.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba};
use rewardedit_core::Error;
use rewardedit_core::image_io::{
    ImageLimits, fit_to_multiple, load_gray, load_image, load_rgb, probe, resize_keep_aspect,
    resize_to, save_png, to_rgb8,
};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn png_bytes(image: &DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 32x16 JPEG: left half red, right half blue (large flat areas survive compression).
fn red_blue_jpeg() -> Vec<u8> {
    let img =
        RgbImage::from_fn(32, 16, |x, _| if x < 16 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95).encode_image(&img).unwrap();
    out
}

fn image_reason(e: Error) -> (PathBuf, String) {
    match e {
        Error::Image { path, reason } => (path, reason),
        other => panic!("expected an image error, got {other:?}"),
    }
}

fn assert_close(p: Rgb<u8>, want: [u8; 3], tol: u8) {
    assert!(p.0.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= tol), "{p:?} vs {want:?}");
}

#[test]
fn sixteen_bit_png_is_scaled_to_eight_bits() {
    let dir = tempfile::tempdir().unwrap();
    let img = ImageBuffer::<Rgb<u16>, _>::from_pixel(3, 2, Rgb([65535, 0, 32896]));
    let path = write(dir.path(), "deep.png", &png_bytes(&DynamicImage::ImageRgb16(img)));
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(rgb.dimensions(), (3, 2));
    assert_eq!(*rgb.get_pixel(2, 1), Rgb([255, 0, 128]));
}

#[test]
fn alpha_is_composited_over_white() {
    let dir = tempfile::tempdir().unwrap();
    let img = ImageBuffer::from_fn(3, 1, |x, _| match x {
        0 => Rgba([255u8, 0, 0, 0]), // fully transparent red -> white
        1 => Rgba([0, 0, 255, 255]), // opaque blue -> blue
        _ => Rgba([0, 0, 0, 128]),   // half-transparent black -> mid grey
    });
    let path = write(dir.path(), "alpha.png", &png_bytes(&DynamicImage::ImageRgba8(img)));
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(*rgb.get_pixel(0, 0), Rgb([255, 255, 255]));
    assert_eq!(*rgb.get_pixel(1, 0), Rgb([0, 0, 255]));
    assert_close(*rgb.get_pixel(2, 0), [127, 127, 127], 1);

    // Gray with alpha takes the same path.
    let la = ImageBuffer::from_pixel(1, 1, LumaA([0u8, 0]));
    let path = write(dir.path(), "la.png", &png_bytes(&DynamicImage::ImageLumaA8(la)));
    assert_eq!(*load_rgb(&path).unwrap().get_pixel(0, 0), Rgb([255, 255, 255]));
}

#[test]
fn palette_png_is_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 2, 1);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![10, 20, 30, 200, 100, 50]);
        enc.write_header().unwrap().write_image_data(&[1, 0]).unwrap();
    }
    let path = write(dir.path(), "palette.png", &bytes);
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(*rgb.get_pixel(0, 0), Rgb([200, 100, 50]));
    assert_eq!(*rgb.get_pixel(1, 0), Rgb([10, 20, 30]));
}

#[test]
fn grayscale_is_replicated_and_masks_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mask = GrayImage::from_fn(4, 3, |x, y| Luma([(x * 60 + y) as u8]));
    let path = dir.path().join("mask.png");
    save_png(&path, &mask).unwrap();
    assert_eq!(load_gray(&path).unwrap(), mask);
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(*rgb.get_pixel(3, 2), Rgb([182, 182, 182]));
}

#[test]
fn rgb_png_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let img = RgbImage::from_fn(5, 7, |x, y| Rgb([x as u8 * 40, y as u8 * 30, 7]));
    let path = dir.path().join("rgb.png");
    save_png(&path, &img).unwrap();
    assert_eq!(load_rgb(&path).unwrap(), img);
}

/// A hand-built 2x1 uncompressed 8-bit CMYK TIFF (the `image` encoders cannot write CMYK).
fn cmyk_tiff(pixels: [[u8; 4]; 2]) -> Vec<u8> {
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        [&tag.to_le_bytes()[..], &kind.to_le_bytes(), &count.to_le_bytes(), &value.to_le_bytes()]
            .concat()
    };
    let (short, long) = (3, 4);
    let ifd_end = 8 + 2 + 10 * 12 + 4;
    let entries = [
        entry(256, short, 1, 2),          // ImageWidth
        entry(257, short, 1, 1),          // ImageLength
        entry(258, short, 4, ifd_end),    // BitsPerSample: 8,8,8,8 stored after the IFD
        entry(259, short, 1, 1),          // Compression: none
        entry(262, short, 1, 5),          // PhotometricInterpretation: separated (CMYK)
        entry(273, long, 1, ifd_end + 8), // StripOffsets: after the bits
        entry(277, short, 1, 4),          // SamplesPerPixel
        entry(278, short, 1, 1),          // RowsPerStrip
        entry(279, long, 1, 8),           // StripByteCounts
        entry(284, short, 1, 1),          // PlanarConfiguration: chunky
    ];
    let mut out = b"II*\x00\x08\x00\x00\x00".to_vec();
    out.extend((entries.len() as u16).to_le_bytes());
    entries.iter().for_each(|e| out.extend(e));
    out.extend(0u32.to_le_bytes());
    assert_eq!(out.len(), ifd_end as usize);
    out.extend([8u16; 4].iter().flat_map(|b| b.to_le_bytes()));
    out.extend(pixels.concat());
    out
}

#[test]
fn cmyk_tiff_is_converted_to_rgb() {
    let dir = tempfile::tempdir().unwrap();
    // Magenta + yellow ink = red; no ink = white.
    let path = write(dir.path(), "cmyk.tif", &cmyk_tiff([[0, 255, 255, 0], [0, 0, 0, 0]]));
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(rgb.dimensions(), (2, 1));
    assert_eq!(*rgb.get_pixel(0, 0), Rgb([255, 0, 0]));
    assert_eq!(*rgb.get_pixel(1, 0), Rgb([255, 255, 255]));
}

/// Inserts an APP1 Exif segment with the given orientation right after the SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let tiff: Vec<u8> = [
        &b"MM\x00\x2A\x00\x00\x00\x08"[..], // big-endian TIFF header, IFD at offset 8
        &[0x00, 0x01],                      // one entry
        &[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01], // Orientation, SHORT, count 1
        &[0x00, orientation, 0x00, 0x00],   // value, padded
        &[0x00, 0x00, 0x00, 0x00],          // no next IFD
    ]
    .concat();
    let payload = [&b"Exif\x00\x00"[..], &tiff].concat();
    let len = (payload.len() + 2) as u16;
    [&jpeg[..2], &[0xFF, 0xE1], &len.to_be_bytes(), &payload, &jpeg[2..]].concat()
}

#[test]
fn exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "rotated.jpg", &with_exif_orientation(&red_blue_jpeg(), 6));

    // Orientation 6: the stored image is shown rotated 90 degrees clockwise, so the stored
    // left half (red) is on top and the 32x16 picture is 16 wide, 32 high.
    let info = probe(&path, &ImageLimits::default()).unwrap();
    assert_eq!((info.width, info.height, info.format), (16, 32, ImageFormat::Jpeg));
    let rgb = load_rgb(&path).unwrap();
    assert_eq!(rgb.dimensions(), (16, 32));
    assert_close(*rgb.get_pixel(8, 4), [255, 0, 0], 40);
    assert_close(*rgb.get_pixel(8, 28), [0, 0, 255], 40);

    // Without the tag the same pixels stay as stored.
    let plain = write(dir.path(), "plain.jpg", &red_blue_jpeg());
    let rgb = load_rgb(&plain).unwrap();
    assert_eq!(rgb.dimensions(), (32, 16));
    assert_close(*rgb.get_pixel(4, 8), [255, 0, 0], 40);
}

#[test]
fn a_decompression_bomb_header_is_rejected_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // A 20-byte PPM claiming 100000 x 100000 RGB pixels (30 GB decoded).
    let path = write(dir.path(), "bomb.ppm", b"P6\n100000 100000\n255\n\x00\x00\x00");
    for result in [
        probe(&path, &ImageLimits::default()).map(drop),
        load_image(&path, &ImageLimits::default()).map(drop),
    ] {
        let (p, reason) = image_reason(result.unwrap_err());
        assert_eq!(p, path);
        assert!(reason.contains("limit"), "{reason}");
    }
}

#[test]
fn limits_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    save_png(&path, &RgbImage::new(64, 16)).unwrap();
    let small = ImageLimits { max_width: 32, max_height: 32, ..ImageLimits::default() };
    let (_, reason) = image_reason(load_image(&path, &small).unwrap_err());
    assert!(reason.contains("at most 32x32 px"), "{reason}");
    let tiny_alloc = ImageLimits { max_alloc_bytes: 1000, ..ImageLimits::default() };
    assert!(load_image(&path, &tiny_alloc).is_err());
    assert!(load_image(&path, &ImageLimits::default()).is_ok());
}

#[test]
fn truncated_and_fake_images_fail_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let png = png_bytes(&DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| {
        Rgb([x as u8, y as u8, 3])
    })));
    let jpeg = red_blue_jpeg();
    let cases = [
        ("cut.png", png[..png.len() / 2].to_vec(), "PNG"),
        ("cut.jpg", jpeg[..jpeg.len() - 40].to_vec(), "truncated"),
        ("notes.png", b"these are my notes, not a picture\n".to_vec(), "not really a PNG"),
        ("empty.jpg", Vec::new(), ""),
        ("mystery.dat", b"plain text".to_vec(), "not an image in a supported format"),
    ];
    for (name, bytes, needle) in cases {
        let path = write(dir.path(), name, &bytes);
        let err = load_rgb(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(name), "{message}");
        assert!(message.contains(needle), "{name}: {message}");
    }
    // The truncated JPEG still has a valid header: only a full decode finds the damage.
    assert!(probe(dir.path().join("cut.jpg"), &ImageLimits::default()).is_ok());

    let missing = dir.path().join("missing.png");
    match load_rgb(&missing).unwrap_err() {
        Error::Io { path, source } => {
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn content_decides_the_format_over_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "really_a_jpeg.png", &red_blue_jpeg());
    assert_eq!(probe(&path, &ImageLimits::default()).unwrap().format, ImageFormat::Jpeg);
    assert_eq!(load_rgb(&path).unwrap().dimensions(), (32, 16));
}

#[test]
fn resize_keeps_aspect_for_three_shapes() {
    // Landscape 16:9, portrait like Real-Edit's tallest (1:2.1), and square.
    for ((w, h), want) in
        [((1280, 720), (512, 320)), ((612, 1280), (256, 512)), ((300, 300), (512, 512))]
    {
        let img = RgbImage::from_pixel(w, h, Rgb([9, 8, 7]));
        let out = resize_keep_aspect(&img, 512, 64);
        assert_eq!(out.dimensions(), want, "{w}x{h}");
        let (ratio_in, ratio_out) = (w as f64 / h as f64, want.0 as f64 / want.1 as f64);
        // Rounding to 64 px moves the ratio by at most half a multiple on the short side.
        assert!((ratio_in.ln() - ratio_out.ln()).abs() < 0.25, "{w}x{h}");
        assert_eq!(*out.get_pixel(want.0 / 2, want.1 / 2), Rgb([9, 8, 7]));
    }
}

#[test]
fn fit_to_multiple_and_back_to_the_original_size() {
    let img =
        RgbImage::from_fn(
            100,
            70,
            |x, _| if x < 50 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) },
        );
    let fitted = fit_to_multiple(&img, 64);
    assert_eq!(fitted.dimensions(), (128, 64));
    let back = resize_to(&fitted, 100, 70);
    assert_eq!(back.dimensions(), (100, 70));
    assert_close(*back.get_pixel(10, 35), [255, 255, 255], 2);
    assert_close(*back.get_pixel(90, 35), [0, 0, 0], 2);
    assert_eq!(resize_to(&img, 100, 70), img);
}

#[test]
fn to_rgb8_accepts_float_images() {
    let img = DynamicImage::ImageRgb32F(ImageBuffer::from_pixel(1, 1, Rgb([1.0f32, 0.5, 0.0])));
    assert_close(*to_rgb8(img).get_pixel(0, 0), [255, 128, 0], 1);
}
