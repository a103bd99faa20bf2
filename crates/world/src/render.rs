//! Scene -> pixels. Object shapes are anti-aliased coverage masks from tiny-skia; colours,
//! textures and background patterns are computed per pixel (2x2 supersampled), then light, tint
//! and style are applied as pointwise colour functions — so whole-image edits keep every edge
//! where it was, which the oracle's preservation measure for Global/Style relies on.

use image::{Rgb, RgbImage};
use tiny_skia::{FillRule, Mask, PathBuilder, Transform};

use crate::scene::{Background, Colour, Light, Object, Pattern, Scene, Shape, Style, Texture, Tint};

/// Smallest image side the world renders: below it small objects vanish into anti-aliasing.
pub const MIN_SIZE: u32 = 16;

/// Side of a grid cell in pixels.
pub fn cell_px(size: u32) -> f32 {
    size as f32 / 3.0
}

/// Centre of an object's cell in pixels, plus an optional displacement (used by flaws).
fn centre(o: &Object, size: u32) -> (f32, f32) {
    let c = cell_px(size);
    ((o.cell.col() as f32 + 0.5) * c, (o.cell.row() as f32 + 0.5) * c)
}

/// The object's outline; `offset` moves it by whole or fractional pixels.
fn outline(o: &Object, size: u32, offset: (f32, f32)) -> Option<tiny_skia::Path> {
    let (cx, cy) = centre(o, size);
    let (cx, cy) = (cx + offset.0, cy + offset.1);
    let r = o.size.radius_fraction() * cell_px(size);
    let polygon = |n: usize, radii: &[f32], phase: f32| {
        let mut pb = PathBuilder::new();
        for i in 0..n {
            let a = phase + i as f32 * std::f32::consts::TAU / n as f32;
            let rr = radii[i % radii.len()];
            let (x, y) = (cx + rr * a.cos(), cy + rr * a.sin());
            if i == 0 { pb.move_to(x, y) } else { pb.line_to(x, y) }
        }
        pb.close();
        pb.finish()
    };
    let up = -std::f32::consts::FRAC_PI_2;
    match o.shape {
        Shape::Circle => PathBuilder::from_circle(cx, cy, r),
        Shape::Square => {
            let h = 0.8 * r;
            tiny_skia::Rect::from_ltrb(cx - h, cy - h, cx + h, cy + h).map(PathBuilder::from_rect)
        }
        // Pushed down a little so the triangle's area sits centred in its cell.
        Shape::Triangle => {
            let mut pb = PathBuilder::new();
            let dy = 0.2 * r;
            for i in 0..3 {
                let a = up + i as f32 * std::f32::consts::TAU / 3.0;
                let (x, y) = (cx + r * 1.1 * a.cos(), cy + dy + r * 1.1 * a.sin());
                if i == 0 { pb.move_to(x, y) } else { pb.line_to(x, y) }
            }
            pb.close();
            pb.finish()
        }
        Shape::Star => polygon(10, &[r * 1.05, r * 0.45], up),
        Shape::Hexagon => polygon(6, &[r], 0.0),
        Shape::Diamond => polygon(4, &[r], up),
    }
}

/// Anti-aliased coverage of one object, one byte per pixel (0 = outside, 255 = fully inside).
pub fn object_coverage(o: &Object, size: u32, offset: (f32, f32)) -> Vec<u8> {
    let n = (size * size) as usize;
    let Some(mut mask) = Mask::new(size, size) else { return vec![0; n] };
    if let Some(path) = outline(o, size, offset) {
        mask.fill_path(&path, FillRule::Winding, true, Transform::identity());
    }
    mask.take()
}

/// The second tone of a pattern: lighter for dark colours, darker for light ones.
fn shade(c: [f32; 3]) -> [f32; 3] {
    if luma(c) < 140.0 { mix(c, [255.0; 3], 0.5) } else { mix(c, [0.0; 3], 0.35) }
}

pub(crate) fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

pub(crate) fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// Sub-pixel sample offsets for 2x2 supersampling of patterns.
const SUB: [(f32, f32); 4] = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)];

/// Fraction of pixel (x, y) where `inside` holds, from 4 sub-samples.
fn supersample(x: u32, y: u32, inside: impl Fn(f32, f32) -> bool) -> f32 {
    SUB.iter().filter(|(dx, dy)| inside(x as f32 + dx, y as f32 + dy)).count() as f32 / 4.0
}

fn background_pixel(bg: Background, size: u32, x: u32, y: u32) -> [f32; 3] {
    let base = bg.colour.background_rgb();
    let second = shade(base);
    let s = size as f32;
    let t = match bg.pattern {
        Pattern::Solid => 0.0,
        Pattern::Stripes => {
            let p = (s / 8.0).max(4.0);
            supersample(x, y, |_, v| (v / p).fract() < 0.5)
        }
        Pattern::Checker => {
            let p = (s / 6.0).max(4.0);
            supersample(x, y, |u, v| ((u / p).floor() + (v / p).floor()) as i64 % 2 == 0)
        }
        Pattern::Gradient => (y as f32 + 0.5) / s,
    };
    mix(base, second, t)
}

/// Colour of an object's surface at pixel (x, y); textures move with the object.
fn object_pixel(o: &Object, size: u32, offset: (f32, f32), x: u32, y: u32) -> [f32; 3] {
    let base = o.colour.rgb();
    let (cx, cy) = centre(o, size);
    let (cx, cy) = (cx + offset.0, cy + offset.1);
    let p = (cell_px(size) / 5.0).max(3.0);
    let t = match o.texture {
        Texture::Plain => 0.0,
        Texture::Striped => supersample(x, y, |u, v| (((u - cx) + (v - cy)) / p).rem_euclid(1.0) < 0.5),
        Texture::Dotted => supersample(x, y, |u, v| {
            let du = ((u - cx) / p).rem_euclid(1.0) - 0.5;
            let dv = ((v - cy) / p).rem_euclid(1.0) - 0.5;
            du * du + dv * dv < 0.09
        }),
    };
    mix(base, shade(base), t)
}

/// An object to draw, possibly displaced from its cell centre (flaws move objects).
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    pub object: &'a Object,
    pub offset: (f32, f32),
}

/// The scene's content before light, tint and style: linear 0-255 floats, row-major.
pub fn render_content(background: Background, objects: &[Placed<'_>], size: u32) -> Vec<[f32; 3]> {
    let mut px: Vec<[f32; 3]> = (0..size * size).map(|i| background_pixel(background, size, i % size, i / size)).collect();
    for p in objects {
        let cov = object_coverage(p.object, size, p.offset);
        for (i, &a) in cov.iter().enumerate() {
            if a > 0 {
                let (x, y) = (i as u32 % size, i as u32 / size);
                let c = object_pixel(p.object, size, p.offset, x, y);
                px[i] = mix(px[i], c, a as f32 / 255.0);
            }
        }
    }
    px
}

/// Light, then tint, then style, on one pixel: a pointwise function of the content colour.
pub fn grade(c: [f32; 3], light: Light, tint: Tint, style: Style) -> [f32; 3] {
    let c = match light {
        Light::Day => c,
        Light::Dusk => [c[0] * 1.0 + 10.0, c[1] * 0.72 + 2.0, c[2] * 0.55 + 12.0],
        Light::Night => [c[0] * 0.30 + 4.0, c[1] * 0.36 + 8.0, c[2] * 0.55 + 22.0],
    };
    let c = match tint {
        Tint::Neutral => c,
        Tint::Autumn => [1.02 * c[0] + 0.06 * c[1] + 12.0, 0.88 * c[1] + 0.04 * c[0] + 4.0, 0.70 * c[2]],
        Tint::Winter => {
            let l = luma(c);
            let d = mix(c, [l; 3], 0.45);
            [d[0] * 0.95 + 8.0, d[1] * 1.0 + 14.0, d[2] * 1.05 + 34.0]
        }
    };
    let c = c.map(|v| v.clamp(0.0, 255.0));
    match style {
        Style::Photo => c,
        // Partial sepia keeps some hue so colour edits stay visible under it.
        Style::Sepia => {
            let s = [
                0.393 * c[0] + 0.769 * c[1] + 0.189 * c[2],
                0.349 * c[0] + 0.686 * c[1] + 0.168 * c[2],
                0.272 * c[0] + 0.534 * c[1] + 0.131 * c[2],
            ];
            mix(c, s.map(|v| v.min(255.0)), 0.75)
        }
        // Pencil tones on warm paper, with a faint colour wash.
        Style::Sketch => {
            let t = (luma(c) / 255.0).powf(0.6);
            let grey = [250.0, 244.0, 230.0].map(|p| p * (0.2 + 0.8 * t));
            mix(grey, c, 0.22)
        }
        Style::Posterized => c.map(|v| (v / 85.0).round() * 85.0),
    }
}

/// Grades content into an 8-bit image.
pub fn finish(content: &[[f32; 3]], size: u32, light: Light, tint: Tint, style: Style) -> RgbImage {
    let mut img = RgbImage::new(size, size);
    for (p, c) in img.pixels_mut().zip(content) {
        let g = grade(*c, light, tint, style);
        *p = Rgb(g.map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    img
}

/// Renders a scene at `size` x `size` pixels.
pub fn render(scene: &Scene, size: u32) -> RgbImage {
    let placed: Vec<Placed<'_>> = scene.objects.iter().map(|o| Placed { object: o, offset: (0.0, 0.0) }).collect();
    let content = render_content(scene.background, &placed, size);
    finish(&content, size, scene.light, scene.tint, scene.style)
}

/// Pixels an object may touch (coverage > 0), as a boolean map.
pub fn footprint(o: &Object, size: u32) -> Vec<bool> {
    object_coverage(o, size, (0.0, 0.0)).into_iter().map(|a| a > 0).collect()
}

/// The colour name whose object colour is nearest to `rgb` (used to name what a candidate shows).
pub fn nearest_colour(rgb: [f32; 3]) -> Colour {
    let d = |c: Colour| c.rgb().iter().zip(rgb).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
    Colour::ALL.into_iter().min_by(|a, b| d(*a).total_cmp(&d(*b))).unwrap_or(Colour::White)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{Cell, Size};

    fn scene(shape: Shape) -> Scene {
        Scene {
            background: Background { colour: Colour::White, pattern: Pattern::Solid },
            objects: vec![Object { shape, colour: Colour::Red, size: Size::Large, texture: Texture::Plain, cell: Cell::new(4).unwrap() }],
            light: Light::Day,
            tint: Tint::Neutral,
            style: Style::Photo,
        }
    }

    #[test]
    fn renders_any_size_with_the_object_in_its_cell() {
        for size in [16, 32, 33, 64, 100, 128] {
            let img = render(&scene(Shape::Circle), size);
            assert_eq!(img.dimensions(), (size, size));
            let c = img.get_pixel(size / 2, size / 2).0;
            assert_eq!(c, [215, 35, 40], "centre of a red circle at {size}px");
            assert_ne!(img.get_pixel(1, 1).0, c);
        }
    }

    #[test]
    fn edges_are_anti_aliased_and_shapes_differ() {
        let img = render(&scene(Shape::Circle), 64);
        let mixed = img.pixels().filter(|p| p.0 != [215, 35, 40] && p.0 != img.get_pixel(0, 0).0).count();
        assert!(mixed > 10, "expected intermediate edge pixels, got {mixed}");
        let covers: Vec<usize> = Shape::ALL
            .iter()
            .map(|&s| footprint(&scene(s).objects[0], 64).iter().filter(|&&b| b).count())
            .collect();
        for i in 0..covers.len() {
            for j in i + 1..covers.len() {
                assert_ne!(covers[i], covers[j], "{:?} vs {:?}", Shape::ALL[i], Shape::ALL[j]);
            }
        }
    }
}
