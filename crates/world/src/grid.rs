//! Contact sheets: rows of images laid out in a grid (the `world show` view and the demo's).

use image::{GrayImage, Rgb, RgbImage};

/// Spacing between cells, in pixels.
pub const PAD: u32 = 2;

/// Lays `rows` out top to bottom, each row's images left to right, on a dark grey sheet. Every
/// cell is as large as the largest image; smaller images sit in their cell's top-left corner.
pub fn grid(rows: &[Vec<RgbImage>]) -> RgbImage {
    let cw = rows.iter().flatten().map(|i| i.width()).max().unwrap_or(0);
    let ch = rows.iter().flatten().map(|i| i.height()).max().unwrap_or(0);
    let cols = rows.iter().map(|r| r.len() as u32).max().unwrap_or(0);
    let w = PAD + cols * (cw + PAD);
    let h = PAD + rows.len() as u32 * (ch + PAD);
    let mut sheet = RgbImage::from_pixel(w.max(1), h.max(1), Rgb([40, 40, 40]));
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let (x0, y0) = (PAD + c as u32 * (cw + PAD), PAD + r as u32 * (ch + PAD));
            for (x, y, p) in img.enumerate_pixels() {
                sheet.put_pixel(x0 + x, y0 + y, *p);
            }
        }
    }
    sheet
}

/// A grey mask as an RGB image, for a grid cell.
pub fn gray_to_rgb(mask: &GrayImage) -> RgbImage {
    let mut out = RgbImage::new(mask.width(), mask.height());
    for (o, m) in out.pixels_mut().zip(mask.pixels()) {
        *o = Rgb([m.0[0]; 3]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_rows_and_columns() {
        let a = RgbImage::from_pixel(4, 4, Rgb([255, 0, 0]));
        let b = RgbImage::from_pixel(2, 3, Rgb([0, 255, 0]));
        let g = grid(&[vec![a.clone(), b.clone()], vec![b]]);
        assert_eq!(g.dimensions(), (PAD + 2 * (4 + PAD), PAD + 2 * (4 + PAD)));
        assert_eq!(g.get_pixel(PAD, PAD).0, [255, 0, 0]);
        assert_eq!(g.get_pixel(PAD + 4 + PAD, PAD).0, [0, 255, 0]);
        assert_eq!(g.get_pixel(PAD, PAD + 4 + PAD).0, [0, 255, 0]);
        assert_eq!(g.get_pixel(0, 0).0, [40, 40, 40]);
    }
}
