//! The flaw injector: turns a clean target into the kind of bad "edited" image generated training
//! data contains. Each kind belongs to the axis it hurts; severity in (0, 1] scales it.
//!
//! Design decisions (the oracle's calibration tests hold them):
//! - not-followed flaws change only the edit region, except `WrongObject`, which by nature also
//!   changes another object and so lowers preservation too;
//! - collateral flaws change only what lies outside the edit region; for Global/Style edits
//!   (region = everything) the only collateral flaw is a moved object, because a recolour or a
//!   cast over an image whose colours are all meant to change is a following error, not a
//!   preservation one;
//! - quality flaws touch the whole image but keep its content (local means) where it was.

use rand::RngExt;
use rewardedit_core::{Axis, EditType};
use serde::{Deserialize, Serialize};

use crate::edit::{EditCase, EditOp};
use crate::pixels::{self, Px};
use crate::render::{self, Placed};
use crate::scene::{pick, Background, Colour, Light, Scene, Shape, Style, Texture, Tint};
use crate::Error;

/// Which axis a flaw family hurts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlawFamily {
    /// The instruction was not (fully, or correctly) carried out: hurts following.
    NotFollowed,
    /// Something outside the instruction changed: hurts preservation.
    Collateral,
    /// Artefacts: hurts quality.
    LowQuality,
}

impl FlawFamily {
    pub const ALL: [FlawFamily; 3] = [FlawFamily::NotFollowed, FlawFamily::Collateral, FlawFamily::LowQuality];

    /// The family's name, as in JSON: `not_followed`, `collateral`, `low_quality`.
    pub fn name(self) -> &'static str {
        match self {
            FlawFamily::NotFollowed => "not_followed",
            FlawFamily::Collateral => "collateral",
            FlawFamily::LowQuality => "low_quality",
        }
    }

    pub fn axis(self) -> Axis {
        match self {
            FlawFamily::NotFollowed => Axis::Following,
            FlawFamily::Collateral => Axis::Preservation,
            FlawFamily::LowQuality => Axis::Quality,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlawKind {
    /// The edit fades towards the source (severity 1 = the source itself).
    NoChange,
    /// The same edit done to another object (or an Add in another cell).
    WrongObject,
    /// The right thing changed, but to the wrong value or in the wrong way.
    WrongAttribute,
    /// Part of the edit region (up to half, from the left) keeps its source look.
    HalfApplied,
    /// Another object changes colour.
    OtherRecoloured,
    /// Another object moves (up to a third of a cell).
    OtherMoved,
    /// The background outside the edit region changes colour.
    BackgroundShift,
    /// A colour cast over everything outside the edit region.
    ColourCast,
    Blur,
    Noise,
    /// JPEG-like 8x8 block quantisation.
    Blocking,
    /// A faint shifted double of the image.
    Ghosting,
    /// Colour levels quantised into visible steps.
    Banding,
}

impl FlawKind {
    pub const ALL: [FlawKind; 13] = [
        FlawKind::NoChange,
        FlawKind::WrongObject,
        FlawKind::WrongAttribute,
        FlawKind::HalfApplied,
        FlawKind::OtherRecoloured,
        FlawKind::OtherMoved,
        FlawKind::BackgroundShift,
        FlawKind::ColourCast,
        FlawKind::Blur,
        FlawKind::Noise,
        FlawKind::Blocking,
        FlawKind::Ghosting,
        FlawKind::Banding,
    ];

    pub fn family(self) -> FlawFamily {
        use FlawKind::*;
        match self {
            NoChange | WrongObject | WrongAttribute | HalfApplied => FlawFamily::NotFollowed,
            OtherRecoloured | OtherMoved | BackgroundShift | ColourCast => FlawFamily::Collateral,
            Blur | Noise | Blocking | Ghosting | Banding => FlawFamily::LowQuality,
        }
    }

    pub fn axis(self) -> Axis {
        self.family().axis()
    }

    /// Whether this flaw can be shown on `case` (see the module doc for the choices).
    pub fn applies(self, case: &EditCase) -> bool {
        let t = case.edit_type();
        let whole = t.is_whole_image();
        match self {
            FlawKind::NoChange | FlawKind::WrongAttribute | FlawKind::HalfApplied => true,
            FlawKind::WrongObject => wrong_object_ops(case).next().is_some(),
            FlawKind::OtherRecoloured => !whole && !other_objects(case).is_empty(),
            FlawKind::OtherMoved => !other_objects(case).is_empty(),
            FlawKind::BackgroundShift => !whole && t != EditType::Background,
            FlawKind::ColourCast => !whole,
            // Re-quantising an already posterized image changes nothing visible.
            FlawKind::Banding => case.target_scene.style != Style::Posterized,
            FlawKind::Blur | FlawKind::Noise | FlawKind::Blocking | FlawKind::Ghosting => true,
        }
    }
}

/// One injected flaw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Flaw {
    pub kind: FlawKind,
    /// How strong, in (0, 1]; each kind documents what 1 means.
    pub severity: f32,
}

/// Source-scene indices of objects that the edit leaves alone.
pub(crate) fn other_objects(case: &EditCase) -> Vec<usize> {
    let edited = case.instruction.op.object();
    (0..case.scene.objects.len()).filter(|&i| Some(i) != edited).collect()
}

/// Ops that do the instructed edit to something else, and visibly change it.
fn wrong_object_ops(case: &EditCase) -> impl Iterator<Item = EditOp> + '_ {
    let op = &case.instruction.op;
    let scene = &case.scene;
    let retargeted: Vec<EditOp> = match op {
        EditOp::Add { new } => scene
            .free_cells()
            .into_iter()
            .filter(|c| *c != new.cell)
            .map(|cell| EditOp::Add { new: crate::scene::Object { cell, ..*new } })
            .collect(),
        _ => other_objects(case)
            .into_iter()
            .filter_map(|j| op.retarget(j))
            .filter(|w| w.apply(scene).is_ok_and(|s| s != *scene))
            .collect(),
    };
    retargeted.into_iter()
}

/// The colour of `options` farthest from `from` (a clearly wrong choice).
fn farthest_colour(from: Colour, exclude: &[Colour]) -> Colour {
    let d = |c: Colour| pixels::l1(c.rgb(), from.rgb());
    Colour::ALL
        .into_iter()
        .filter(|c| *c != from && !exclude.contains(c))
        .max_by(|a, b| d(*a).total_cmp(&d(*b)))
        .unwrap_or(from)
}

/// The scene a wrong-attribute edit produces instead of the target scene.
fn wrong_attribute_scene<R: RngExt + ?Sized>(case: &EditCase, rng: &mut R) -> Result<Scene, Error> {
    let s = &case.scene;
    let recolour = |i: usize| -> Result<Scene, Error> {
        let o = s.objects[i];
        EditOp::Recolour { object: i, to: farthest_colour(o.colour, &[]) }.apply(s)
    };
    let op = match case.instruction.op {
        EditOp::Recolour { object, to } => {
            EditOp::Recolour { object, to: farthest_colour(to, &[s.objects[object].colour]) }
        }
        EditOp::Reshape { object, to } => {
            let others: Vec<Shape> = Shape::ALL.into_iter().filter(|x| *x != to && *x != s.objects[object].shape).collect();
            EditOp::Reshape { object, to: pick(rng, &others) }
        }
        // A size or removal request answered with a recolour: the wrong property changed.
        EditOp::Resize { object, .. } | EditOp::Remove { object } => return recolour(object),
        EditOp::Add { new } => {
            let shapes: Vec<Shape> = Shape::ALL.into_iter().filter(|x| *x != new.shape).collect();
            let wrong = crate::scene::Object { shape: pick(rng, &shapes), colour: farthest_colour(new.colour, &[]), ..new };
            EditOp::Add { new: wrong }
        }
        EditOp::Retexture { object, to } => {
            let others: Vec<Texture> = Texture::ALL.into_iter().filter(|x| *x != to && *x != s.objects[object].texture).collect();
            EditOp::Retexture { object, to: pick(rng, &others) }
        }
        EditOp::SetBackground { to } => EditOp::SetBackground {
            to: Background { colour: farthest_colour(to.colour, &[s.background.colour]), ..to },
        },
        // Light asked, tint changed (and the reverse): the wrong global property.
        EditOp::SetLight { .. } => {
            let tints: Vec<Tint> = Tint::ALL.into_iter().filter(|t| *t != s.tint).collect();
            EditOp::SetTint { to: pick(rng, &tints) }
        }
        EditOp::SetTint { .. } => {
            let lights: Vec<Light> = Light::ALL.into_iter().filter(|l| *l != s.light).collect();
            EditOp::SetLight { to: pick(rng, &lights) }
        }
        EditOp::SetStyle { to } => {
            let others: Vec<Style> = Style::ALL.into_iter().filter(|x| *x != to && *x != s.style).collect();
            EditOp::SetStyle { to: pick(rng, &others) }
        }
    };
    op.apply(s)
}

/// Renders `scene` with object `moved` (index in `scene`) displaced by `offset` pixels.
fn render_with_offset(scene: &Scene, moved: usize, offset: (f32, f32), size: u32) -> Px {
    let placed: Vec<Placed<'_>> = scene
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| Placed { object: o, offset: if i == moved { offset } else { (0.0, 0.0) } })
        .collect();
    let content = render::render_content(scene.background, &placed, size);
    content.iter().map(|c| render::grade(*c, scene.light, scene.tint, scene.style)).collect()
}

fn render_px(scene: &Scene, size: u32) -> Px {
    render_with_offset(scene, usize::MAX, (0.0, 0.0), size)
}

/// `a + (b - a) * t` where `keep` is false; `a` where it is true.
fn blend_where(a: &mut Px, b: &[[f32; 3]], t: f32, keep: impl Fn(usize) -> bool) {
    for (i, (x, y)) in a.iter_mut().zip(b).enumerate() {
        if !keep(i) {
            *x = render::mix(*x, *y, t);
        }
    }
}

/// A standard normal sample.
pub(crate) fn normal<R: RngExt + ?Sized>(rng: &mut R) -> f32 {
    rng.sample(rand_distr::StandardNormal)
}

/// Displacement of a ghost copy in pixels; the oracle searches shifts up to twice this.
pub fn ghost_shift(size: u32) -> i64 {
    ((size as f32 / 24.0).round() as i64).max(2)
}

/// Side of a JPEG-like block, in pixels.
pub const BLOCK: usize = 8;

/// In-place 8-point DCT-II (orthonormal) and its inverse.
fn dct8(v: &mut [f32; BLOCK], inverse: bool) {
    let mut out = [0.0f32; BLOCK];
    let n = BLOCK as f32;
    for (k, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0;
        for (i, x) in v.iter().enumerate() {
            let (a, b) = if inverse { (k, i) } else { (i, k) };
            let scale = if b == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
            acc += scale * x * (std::f32::consts::PI * (2 * a + 1) as f32 * b as f32 / (2.0 * n)).cos();
        }
        *o = acc;
    }
    *v = out;
}

// Channel-planar work on interleaved pixels: `ch` indexes inside each pixel, not one slice.
#[allow(clippy::needless_range_loop)]
fn jpeg_like(px: &mut Px, size: u32, step: f32) {
    let n = size as usize;
    for by in (0..n / BLOCK).map(|b| b * BLOCK) {
        for bx in (0..n / BLOCK).map(|b| b * BLOCK) {
            for ch in 0..3 {
                let mut blk = [[0.0f32; BLOCK]; BLOCK];
                for (y, row) in blk.iter_mut().enumerate() {
                    for (x, v) in row.iter_mut().enumerate() {
                        *v = px[(by + y) * n + bx + x][ch];
                    }
                }
                // 2-D DCT: rows, then columns.
                for row in blk.iter_mut() {
                    dct8(row, false);
                }
                for x in 0..BLOCK {
                    let mut col = blk.map(|r| r[x]);
                    dct8(&mut col, false);
                    for (y, c) in col.iter().enumerate() {
                        // Higher frequencies are quantised harder, as in JPEG tables; DC barely.
                        let q = if x == 0 && y == 0 { 2.0 } else { step * (1.0 + 0.25 * (x + y) as f32) };
                        blk[y][x] = (c / q).round() * q;
                    }
                }
                for x in 0..BLOCK {
                    let mut col = blk.map(|r| r[x]);
                    dct8(&mut col, true);
                    for (y, c) in col.iter().enumerate() {
                        blk[y][x] = *c;
                    }
                }
                for (y, row) in blk.iter_mut().enumerate() {
                    dct8(row, true);
                    for (x, v) in row.iter().enumerate() {
                        px[(by + y) * n + bx + x][ch] = *v;
                    }
                }
            }
        }
    }
}

impl Flaw {
    pub fn new(kind: FlawKind, severity: f32) -> Result<Flaw, Error> {
        if !(severity > 0.0 && severity <= 1.0) {
            return Err(Error::InvalidConfig(format!("flaw severity {severity} is outside (0, 1]")));
        }
        Ok(Flaw { kind, severity })
    }

    /// Applies the flaw to `image` (usually the clean target of `case`).
    pub fn apply<R: RngExt + ?Sized>(&self, case: &EditCase, image: &[[f32; 3]], rng: &mut R) -> Result<Px, Error> {
        let size = case.size;
        let n = size as usize;
        let sev = self.severity;
        let region = &case.region;
        let mut out = image.to_vec();
        match self.kind {
            FlawKind::NoChange => blend_where(&mut out, &pixels::to_px(&case.source), sev, |i| !region[i]),
            FlawKind::HalfApplied => {
                // The left part of the region keeps its source look: 27% of it at severity 0.25,
                // half at 1. Whole-image edits split in quarters, on the oracle's tile grid.
                let share = 0.2 + 0.3 * sev;
                let split = if case.edit_type().is_whole_image() {
                    (n as f32 * (share * 4.0).round() / 4.0).round() as usize
                } else {
                    let mut cols = vec![0usize; n];
                    for i in (0..n * n).filter(|&i| region[i]) {
                        cols[i % n] += 1;
                    }
                    let total: usize = cols.iter().sum();
                    let mut acc = 0;
                    cols.iter().position(|k| {
                        acc += k;
                        acc as f32 >= share * total as f32
                    }).map_or(n, |x| x + 1)
                };
                let source = pixels::to_px(&case.source);
                blend_where(&mut out, &source, 1.0, |i| !(region[i] && i % n < split));
            }
            FlawKind::WrongObject => {
                let ops: Vec<EditOp> = wrong_object_ops(case).collect();
                if ops.is_empty() {
                    return Err(Error::BadOp("no other object to edit by mistake".into()));
                }
                let wrong = pick(rng, &ops).apply(&case.scene)?;
                blend_where(&mut out, &render_px(&wrong, size), sev, |_| false);
            }
            FlawKind::WrongAttribute => {
                let wrong = wrong_attribute_scene(case, rng)?;
                blend_where(&mut out, &render_px(&wrong, size), sev, |i| !region[i]);
            }
            FlawKind::OtherRecoloured | FlawKind::OtherMoved => {
                let others = other_objects(case);
                if others.is_empty() {
                    return Err(Error::BadOp("no other object to disturb".into()));
                }
                let j = pick(rng, &others);
                let cell = case.scene.objects[j].cell;
                let t = &case.target_scene;
                let k = t.object_at(cell).ok_or_else(|| Error::BadOp("disturbed object missing from target".into()))?;
                let changed = if self.kind == FlawKind::OtherRecoloured {
                    let o = t.objects[k];
                    let s = EditOp::Recolour { object: k, to: farthest_colour(o.colour, &[]) }.apply(t)?;
                    render_px(&s, size)
                } else {
                    let d = (sev * render::cell_px(size) / 3.0).max(1.0);
                    let (dx, dy) = pick(rng, &[(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (0.7, 0.7), (-0.7, 0.7), (0.7, -0.7), (-0.7, -0.7)]);
                    render_with_offset(t, k, (dx * d, dy * d), size)
                };
                // Recolouring fades in with severity; a move is already scaled by its distance.
                let amount = if self.kind == FlawKind::OtherRecoloured { sev } else { 1.0 };
                let whole = case.edit_type().is_whole_image();
                blend_where(&mut out, &changed, amount, |i| region[i] && !whole);
            }
            FlawKind::BackgroundShift => {
                let t = &case.target_scene;
                let bg = Background { colour: farthest_colour(t.background.colour, &[]), ..t.background };
                let shifted = Scene { background: bg, ..t.clone() };
                blend_where(&mut out, &render_px(&shifted, size), sev, |i| region[i]);
            }
            FlawKind::ColourCast => {
                let casts = [[56.0, 16.0, -48.0], [-40.0, 12.0, 60.0], [-14.0, 56.0, -34.0], [48.0, -34.0, 40.0]];
                let cast = pick(rng, &casts);
                for (i, p) in out.iter_mut().enumerate() {
                    if !region[i] {
                        *p = [0, 1, 2].map(|c| (p[c] + sev * cast[c]).clamp(0.0, 255.0));
                    }
                }
            }
            FlawKind::Blur => {
                let sigma = (0.5 + 1.3 * sev) * size as f32 / 64.0;
                out = pixels::gaussian_blur(&out, size, sigma);
            }
            FlawKind::Noise => {
                // Noise shrinks near black and white instead of being clipped there, so it stays
                // zero-mean (clipping would shift dark and light areas: a collateral change).
                let sd = 6.0 + 24.0 * sev;
                for p in out.iter_mut() {
                    *p = p.map(|v| {
                        let room = v.min(255.0 - v).max(0.0) + 2.0;
                        (v + (sd.min(room / 2.0)) * normal(rng)).clamp(0.0, 255.0)
                    });
                }
            }
            FlawKind::Blocking => jpeg_like(&mut out, size, 6.0 + 34.0 * sev),
            FlawKind::Ghosting => {
                let d = ghost_shift(size);
                let (dx, dy) = pick(rng, &[(d, 0), (-d, 0), (0, d), (0, -d), (d, d), (-d, d), (d, -d), (-d, -d)]);
                let ghost = pixels::shift(&out, size, dx, dy);
                blend_where(&mut out, &ghost, 0.1 + 0.25 * sev, |_| false);
            }
            FlawKind::Banding => {
                let q = 8.0 + 12.0 * sev;
                for p in out.iter_mut() {
                    *p = p.map(|v| ((v / q).round() * q).clamp(0.0, 255.0));
                }
            }
        }
        Ok(out.into_iter().map(|p| p.map(|v| v.round().clamp(0.0, 255.0))).collect())
    }
}

/// Relative weight of each flaw family when a triplet gets a flaw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlawWeights {
    /// Weight of not-followed flaws (no change, wrong object, wrong attribute, half-applied).
    pub not_followed: f32,
    /// Weight of collateral flaws (another object recoloured or moved, background shift, cast).
    pub collateral: f32,
    /// Weight of low-quality flaws (blur, noise, blocking, ghosting, banding).
    pub low_quality: f32,
}

impl Default for FlawWeights {
    fn default() -> Self {
        FlawWeights { not_followed: 1.0, collateral: 1.0, low_quality: 1.0 }
    }
}

impl FlawWeights {
    pub fn weight(&self, family: FlawFamily) -> f32 {
        match family {
            FlawFamily::NotFollowed => self.not_followed,
            FlawFamily::Collateral => self.collateral,
            FlawFamily::LowQuality => self.low_quality,
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        let ws = FlawFamily::ALL.map(|f| self.weight(f));
        if ws.iter().any(|w| !w.is_finite() || *w < 0.0) || ws.iter().sum::<f32>() <= 0.0 {
            return Err(Error::InvalidConfig(format!("flaw weights must be finite, >= 0 and not all 0: {ws:?}")));
        }
        Ok(())
    }

    /// A random applicable flaw kind: family by weight, then uniformly among that family's kinds
    /// that apply to `case`. `None` if no weighted family has an applicable kind.
    pub fn pick_kind<R: RngExt + ?Sized>(&self, case: &EditCase, rng: &mut R) -> Option<FlawKind> {
        let options: Vec<(FlawFamily, Vec<FlawKind>)> = FlawFamily::ALL
            .into_iter()
            .filter(|f| self.weight(*f) > 0.0)
            .map(|f| (f, FlawKind::ALL.into_iter().filter(|k| k.family() == f && k.applies(case)).collect::<Vec<_>>()))
            .filter(|(_, ks)| !ks.is_empty())
            .collect();
        let total: f32 = options.iter().map(|(f, _)| self.weight(*f)).sum();
        let mut r = rng.random::<f32>() * total;
        for (f, ks) in &options {
            r -= self.weight(*f);
            if r <= 0.0 {
                return Some(pick(rng, ks));
            }
        }
        options.last().map(|(_, ks)| pick(rng, ks))
    }
}
