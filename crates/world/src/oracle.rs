//! The exact scorer of the world: rates ANY candidate image for a (scene, instruction) on the
//! paper's three axes (0-5, a verdict and a flaw sentence each).
//!
//! - Following: distance to the target inside the edit region, divided by the source's distance
//!   there (both after a small box blur, so zero-mean artefacts barely count): 0 = target,
//!   1 = unchanged.
//! - Preservation: signed mean change per block outside the region (object edits: against the
//!   source). For Global/Style, where every pixel may change, the candidate is compared with its
//!   best explanation as a pointwise function of the source (one colour per source colour per
//!   tile): the world's light, tint and style are such functions, so only content changes remain.
//!   Signed block means cancel noise, blur and ghost doubles, which are quality's business.
//! - Quality: artefact measures, each relative to the clean target where content matters:
//!   noise level in the target's flat areas, edge sharpness at the target's edges, excess jumps on
//!   the 8x8 block grid, best two-image ghost fit, and lost colour levels at edges and gradients.
//!   The worst one sets the score.

use image::RgbImage;
use rewardedit_core::{Axis, AxisScore, Reward, MAX_SCORE};
use serde::{Deserialize, Serialize};

use crate::edit::EditCase;
use crate::flaw::{self, FlawKind, BLOCK};
use crate::instruction::Instruction;
use crate::pixels::{self, l1, luma, Px};
use crate::render;
use crate::scene::Scene;
use crate::sentence::describe;
use crate::Error;

/// Calibration of the oracle. Defaults are what the calibration tests hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Score at or above which an axis' verdict is "yes" (0-5).
    pub verdict_threshold: f32,
    /// Following error (fraction of the source-to-target distance left) still scored 5.
    pub following_tolerance: f32,
    /// Following error that scores 0; the unedited source has error 1.
    pub following_zero: f32,
    /// Block mean change (0-255 levels, largest channel) tolerated as unchanged.
    pub preservation_tolerance: f32,
    /// Summed excess block change (levels x blocks) still scored 5.
    pub preservation_slack: f32,
    /// Summed excess block change beyond the slack that halves the preservation score.
    pub preservation_half: f32,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            verdict_threshold: 3.5,
            following_tolerance: 0.06,
            following_zero: 0.8,
            preservation_tolerance: 12.0,
            preservation_slack: 2.0,
            preservation_half: 30.0,
        }
    }
}

/// Raw measurements behind a reward, for reports and tuning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Following error: 0 = the target, 1 = as far as the source.
    pub following_error: f32,
    /// Summed excess block change outside the region (levels x blocks).
    pub preservation_excess: f32,
    /// Per quality measure, badness in [0, 1]: blur, noise, blocking, ghosting, banding.
    pub quality_badness: [f32; 5],
}

const QUALITY_KINDS: [FlawKind; 5] = [FlawKind::Blur, FlawKind::Noise, FlawKind::Blocking, FlawKind::Ghosting, FlawKind::Banding];

/// The exact scorer, for images of one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Oracle {
    pub size: u32,
    pub config: OracleConfig,
}

fn clamp01(x: f32) -> f32 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 1.0 }
}

/// Scores are reported to two decimals.
fn round2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

/// Side of the blocks preservation and the ghost fit work on.
fn block_side(size: u32) -> usize {
    (size as usize / 8).max(4)
}

/// Sum over blocks of `max(0, |signed mean of diff| - tolerance)` weighted by the block's share
/// of counted pixels; `diff` is `None` for pixels that do not count.
fn block_excess(diff: &[Option<[f32; 3]>], size: u32, tolerance: f32) -> (f32, Vec<f32>) {
    let n = size as usize;
    let b = block_side(size);
    let nb = n.div_ceil(b);
    let mut sums = vec![([0.0f32; 3], 0usize); nb * nb];
    for (i, d) in diff.iter().enumerate() {
        if let Some(d) = d {
            let s = &mut sums[(i / n / b) * nb + (i % n) / b];
            for (acc, v) in s.0.iter_mut().zip(d) {
                *acc += v;
            }
            s.1 += 1;
        }
    }
    let per_block: Vec<f32> = sums
        .iter()
        .map(|(s, k)| {
            if *k * 8 < b * b {
                return 0.0;
            }
            let m = s.iter().map(|v| (v / *k as f32).abs()).fold(0.0, f32::max);
            (m - tolerance).max(0.0) * *k as f32 / (b * b) as f32
        })
        .collect();
    (per_block.iter().sum(), per_block)
}

/// For whole-image edits: the candidate explained as one colour per (scene content colour, tile).
/// Content (the scene before light, tint and style) rather than source pixels: a dark source maps
/// distinct content colours to one value, which the target may tell apart again.
fn pointwise_explanation(content_key: &[u32], cand: &[[f32; 3]], size: u32) -> Px {
    let n = size as usize;
    // Tiles twice the preservation block: within a tile the residual sums to zero by
    // construction, so blocks must be smaller to see where it sits.
    let b = 2 * block_side(size);
    let nb = n.div_ceil(b);
    // Key: tile in the high bits, source colour in the low 24.
    let mut keyed: Vec<(u64, usize)> = content_key
        .iter()
        .enumerate()
        .map(|(i, &key)| (((((i / n / b) * nb + (i % n) / b) as u64) << 24) | key as u64, i))
        .collect();
    keyed.sort_unstable();
    let mut out = vec![[0.0f32; 3]; n * n];
    let mut start = 0;
    while start < keyed.len() {
        let key = keyed[start].0;
        let end = start + keyed[start..].iter().take_while(|(k, _)| *k == key).count();
        let mut m = [0.0f32; 3];
        for &(_, i) in &keyed[start..end] {
            for c in 0..3 {
                m[c] += cand[i][c];
            }
        }
        let k = (end - start) as f32;
        for &(_, i) in &keyed[start..end] {
            out[i] = m.map(|v| v / k);
        }
        start = end;
    }
    out
}

impl Oracle {
    pub fn new(size: u32) -> Oracle {
        Oracle { size, config: OracleConfig::default() }
    }

    pub fn with_config(size: u32, config: OracleConfig) -> Oracle {
        Oracle { size, config }
    }

    /// Scores `candidate` as an edit of `scene` by `instruction`. The candidate must be
    /// `size` x `size`; anything else is an [`Error::WrongSize`].
    pub fn score(&self, scene: &Scene, instruction: &Instruction, candidate: &RgbImage) -> Result<Reward, Error> {
        self.check_size(candidate)?;
        let case = EditCase::new(scene, instruction, self.size)?;
        self.score_case(&case, candidate)
    }

    fn check_size(&self, candidate: &RgbImage) -> Result<(), Error> {
        let (w, h) = candidate.dimensions();
        if w != self.size || h != self.size {
            return Err(Error::WrongSize { expected: self.size, got_w: w, got_h: h });
        }
        Ok(())
    }

    /// Scores a candidate against an already-built case (saves rendering twice).
    pub fn score_case(&self, case: &EditCase, candidate: &RgbImage) -> Result<Reward, Error> {
        self.check_size(candidate)?;
        if case.size != self.size {
            return Err(Error::WrongSize { expected: self.size, got_w: case.size, got_h: case.size });
        }
        let c = pixels::to_px(candidate);
        let m = self.measure(case, &c);
        let cfg = &self.config;

        let f = 5.0
            * (1.0 - clamp01((m.following_error - cfg.following_tolerance) / (cfg.following_zero - cfg.following_tolerance)));
        // Hyperbolic: a small stray change costs a little, larger ones approach 0.
        let excess = (m.preservation_excess - cfg.preservation_slack).max(0.0);
        let p = 5.0 * cfg.preservation_half / (cfg.preservation_half + excess);
        let (worst, bad) = m
            .quality_badness
            .iter()
            .copied()
            .enumerate()
            .fold((0, 0.0f32), |acc, (i, b)| if b > acc.1 { (i, b) } else { acc });
        let q = 5.0 * (1.0 - bad);

        let f_flaw = (round2(f) < MAX_SCORE).then(|| self.following_sentence(case, &c, f));
        let p_flaw = (round2(p) < MAX_SCORE).then(|| self.preservation_sentence(case, &c, p));
        let q_flaw = (round2(q) < MAX_SCORE).then(|| describe(QUALITY_KINDS[worst], case, None, q >= cfg.verdict_threshold));
        let axis = |axis: Axis, score: f32, flaw: Option<String>| {
            let score = round2(score.clamp(0.0, MAX_SCORE));
            AxisScore::new(score, score >= cfg.verdict_threshold, flaw.unwrap_or_else(|| axis.no_flaw_text().to_string()))
        };
        Ok(Reward::new(
            axis(Axis::Following, f, f_flaw)?,
            axis(Axis::Preservation, p, p_flaw)?,
            axis(Axis::Quality, q, q_flaw)?,
        ))
    }

    /// The raw measurements for `candidate` (float pixels of the case's size).
    pub fn measure(&self, case: &EditCase, c: &[[f32; 3]]) -> Measures {
        let size = case.size;
        let s = pixels::to_px(&case.source);
        let t = pixels::to_px(&case.target);
        let following_error = following_error(case, c, &s, &t);

        let preservation_excess = self.preservation_diff(case, c, &s).map_or(0.0, |d| {
            block_excess(&d, size, self.config.preservation_tolerance).0
        });

        let quality_badness = [
            blur_badness(case, c, &t),
            noise_badness(c, &s, &t, size),
            blocking_badness(c, &s, &t, size),
            ghost_badness(case, c, &t),
            banding_badness(c, &t),
        ];
        Measures { following_error, preservation_excess, quality_badness }
    }

    /// Per-pixel change that preservation counts (`None` where change is allowed).
    fn preservation_diff(&self, case: &EditCase, c: &[[f32; 3]], s: &[[f32; 3]]) -> Option<Vec<Option<[f32; 3]>>> {
        if case.edit_type().is_whole_image() {
            let x = pointwise_explanation(&case.content_key, c, case.size);
            Some(c.iter().zip(&x).map(|(a, b)| Some([a[0] - b[0], a[1] - b[1], a[2] - b[2]])).collect())
        } else {
            let excluded = preservation_excluded(case);
            Some(
                c.iter()
                    .zip(s)
                    .zip(&excluded)
                    .map(|((a, b), &r)| (!r).then_some([a[0] - b[0], a[1] - b[1], a[2] - b[2]]))
                    .collect(),
            )
        }
    }

    fn following_sentence(&self, case: &EditCase, c: &[[f32; 3]], score: f32) -> String {
        let s = pixels::to_px(&case.source);
        let t = pixels::to_px(&case.target);
        // Where source and target differ clearly, is the candidate near one, the other, or neither?
        let (mut near_s, mut near_t, mut total) = (0usize, 0usize, 0usize);
        let (mut dot, mut norm) = (0.0f32, 0.0f32);
        for i in (0..c.len()).filter(|&i| case.region[i]) {
            let d = l1(s[i], t[i]);
            for ch in 0..3 {
                dot += (c[i][ch] - s[i][ch]) * (t[i][ch] - s[i][ch]);
                norm += (t[i][ch] - s[i][ch]).powi(2);
            }
            if d < 30.0 {
                continue;
            }
            total += 1;
            near_s += (l1(c[i], s[i]) < 0.25 * d) as usize;
            near_t += (l1(c[i], t[i]) < 0.25 * d) as usize;
        }
        let total = total.max(1) as f32;
        let (fs, ft) = (near_s as f32 / total, near_t as f32 / total);
        let alpha = dot / norm.max(1.0);
        let mild = score >= self.config.verdict_threshold;
        let kind = if fs >= 0.12 && ft >= 0.12 {
            FlawKind::HalfApplied
        } else if fs >= 0.5 || (alpha > -0.2 && alpha < 0.9 && fs + ft < 0.5 && self.is_blend(case, c, &s, &t, alpha)) {
            // Unchanged, or a faded version of the right change.
            if fs < 0.5 || mild {
                return describe(FlawKind::NoChange, case, None, true);
            }
            match self.changed_other(case, c, &s) {
                Some(j) => return describe(FlawKind::WrongObject, case, Some(j), false),
                None => FlawKind::NoChange,
            }
        } else {
            FlawKind::WrongAttribute
        };
        describe(kind, case, None, mild)
    }

    /// Whether the candidate lies close to the straight line from source to target in the region.
    fn is_blend(&self, case: &EditCase, c: &[[f32; 3]], s: &[[f32; 3]], t: &[[f32; 3]], alpha: f32) -> bool {
        let (mut res, mut norm) = (0.0f32, 0.0f32);
        for i in (0..c.len()).filter(|&i| case.region[i]) {
            for ch in 0..3 {
                let d = t[i][ch] - s[i][ch];
                res += (c[i][ch] - s[i][ch] - alpha * d).powi(2);
                norm += d * d;
            }
        }
        res < 0.1 * norm
    }

    /// The untouched source object that changed most, if any changed clearly.
    fn changed_other(&self, case: &EditCase, c: &[[f32; 3]], s: &[[f32; 3]]) -> Option<usize> {
        let best = crate::flaw::other_objects(case)
            .into_iter()
            .map(|j| {
                let fp = crate::edit::dilate(&render::footprint(&case.scene.objects[j], case.size), case.size);
                let (mut sum, mut k) = (0.0f32, 0usize);
                for i in (0..c.len()).filter(|&i| fp[i] && !case.region[i]) {
                    sum += l1(c[i], s[i]);
                    k += 1;
                }
                (j, sum / k.max(1) as f32)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        (best.1 > 15.0).then_some(best.0)
    }

    fn preservation_sentence(&self, case: &EditCase, c: &[[f32; 3]], score: f32) -> String {
        let s = pixels::to_px(&case.source);
        let mild = score >= self.config.verdict_threshold;
        if case.edit_type().is_whole_image() {
            // Only content changes survive the pointwise explanation: name the object nearest the
            // most changed block.
            let d = self.preservation_diff(case, c, &s).unwrap_or_default();
            let (_, blocks) = block_excess(&d, case.size, self.config.preservation_tolerance);
            let b = block_side(case.size);
            let nb = (case.size as usize).div_ceil(b);
            let worst = blocks.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
            let (bx, by) = (((worst % nb) * b + b / 2) as f32, ((worst / nb) * b + b / 2) as f32);
            let cell = render::cell_px(case.size);
            let nearest = (0..case.scene.objects.len()).min_by(|&i, &j| {
                let dist = |k: usize| {
                    let o = case.scene.objects[k].cell;
                    let (ox, oy) = ((o.col() as f32 + 0.5) * cell, (o.row() as f32 + 0.5) * cell);
                    (ox - bx).powi(2) + (oy - by).powi(2)
                };
                dist(i).total_cmp(&dist(j))
            });
            return describe(FlawKind::OtherMoved, case, nearest, mild);
        }
        // Object edits: compare how much each untouched object and the background changed.
        let n = c.len();
        let mut in_object = vec![false; n];
        let mut per_object = Vec::new();
        for j in crate::flaw::other_objects(case) {
            let cov = render::object_coverage(&case.scene.objects[j], case.size, (0.0, 0.0));
            let fp = crate::edit::dilate(&cov.iter().map(|&a| a > 0).collect::<Vec<_>>(), case.size);
            let (mut sum, mut k, mut ic, mut is, mut ik) = (0.0f32, 0usize, [0.0f32; 3], [0.0f32; 3], 0usize);
            for i in 0..n {
                if fp[i] {
                    in_object[i] = true;
                }
                if fp[i] && !case.region[i] {
                    sum += l1(c[i], s[i]);
                    k += 1;
                }
                if cov[i] == 255 && !case.region[i] {
                    for ch in 0..3 {
                        ic[ch] += c[i][ch];
                        is[ch] += s[i][ch];
                    }
                    ik += 1;
                }
            }
            let recoloured = ik > 0 && l1(ic, is) / ik as f32 > 40.0;
            per_object.push((j, sum / k.max(1) as f32, recoloured));
        }
        let (mut bg_sum, mut bg_k) = (0.0f32, 0usize);
        for i in (0..n).filter(|&i| !in_object[i] && !case.region[i]) {
            bg_sum += l1(c[i], s[i]);
            bg_k += 1;
        }
        let bg = bg_sum / bg_k.max(1) as f32;
        let top = per_object.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
        match top {
            Some((j, m, recoloured)) if m > bg => {
                if per_object.iter().all(|o| o.1 > 0.5 * m) && bg > 0.5 * m && per_object.len() > 1 {
                    describe(FlawKind::ColourCast, case, None, mild)
                } else if recoloured {
                    describe(FlawKind::OtherRecoloured, case, Some(j), mild)
                } else {
                    describe(FlawKind::OtherMoved, case, Some(j), mild)
                }
            }
            _ if per_object.iter().any(|o| o.1 > 0.5 * bg) => describe(FlawKind::ColourCast, case, None, mild),
            _ => describe(FlawKind::BackgroundShift, case, None, mild),
        }
    }
}

/// Pixels preservation ignores for object edits: the region plus a margin as wide as a ghost
/// double, so that blur and ghosting of the edited object spilling over its border count as
/// quality flaws, not as changes to the rest of the image.
fn preservation_excluded(case: &EditCase) -> Vec<bool> {
    let mut m = case.region.clone();
    // A background edit's region surrounds every object: a margin would eat the small ones.
    if case.edit_type() == rewardedit_core::EditType::Background {
        return m;
    }
    for _ in 0..flaw::ghost_shift(case.size) {
        m = crate::edit::dilate(&m, case.size);
    }
    m
}

/// Following error inside the edit region, from blurred differences masked to the region (so
/// nothing outside leaks in): `e = |1 - a| + max(0, rho - RHO_TOLERANCE)`, where `a` is how much
/// of the source-to-target change the candidate made (projection) and `rho` the part of its change
/// that points elsewhere, both relative to the size of the target change. Source: e = 1;
/// target: e = 0; a faded edit: e = fade.
fn following_error(case: &EditCase, c: &[[f32; 3]], s: &[[f32; 3]], t: &[[f32; 3]]) -> f32 {
    let size = case.size;
    let r = (size / 16).max(1);
    let masked = |a: &[[f32; 3]], b: &[[f32; 3]]| -> Px {
        a.iter()
            .zip(b)
            .zip(&case.region)
            .map(|((x, y), &m)| if m { [x[0] - y[0], x[1] - y[1], x[2] - y[2]] } else { [0.0; 3] })
            .collect()
    };
    let dc = pixels::box_blur(&masked(c, s), size, r);
    let dt = pixels::box_blur(&masked(t, s), size, r);
    let (mut dot, mut norm) = (0.0f64, 0.0f64);
    for i in (0..c.len()).filter(|&i| case.region[i]) {
        for ch in 0..3 {
            dot += (dc[i][ch] * dt[i][ch]) as f64;
            norm += (dt[i][ch] * dt[i][ch]) as f64;
        }
    }
    if norm < 1.0 {
        return 0.0;
    }
    let a = dot / norm;
    let mut res = 0.0f64;
    for i in (0..c.len()).filter(|&i| case.region[i]) {
        for ch in 0..3 {
            res += (dc[i][ch] as f64 - a * dt[i][ch] as f64).powi(2);
        }
    }
    let rho = (res / norm).sqrt();
    ((1.0 - a).abs() + (rho - RHO_TOLERANCE).max(0.0)) as f32
}

/// Off-target change (relative to the target change) that following ignores: residue of
/// quantisation and noise that survives the blur.
const RHO_TOLERANCE: f64 = 0.15;

/// Pixels where the target has a Laplacian of (almost) zero in every channel: flat or linear.
fn smooth_mask(t: &[[f32; 3]], size: u32) -> Vec<bool> {
    let n = size as usize;
    let mut m = vec![false; n * n];
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let i = y * n + x;
            m[i] = (0..3).all(|ch| laplacian(t, n, i, ch).abs() <= 1.5);
        }
    }
    m
}

fn laplacian(px: &[[f32; 3]], n: usize, i: usize, ch: usize) -> f32 {
    px[i][ch] - 0.25 * (px[i - 1][ch] + px[i + 1][ch] + px[i - n][ch] + px[i + n][ch])
}

/// Noise: robust sigma (median absolute Laplacian) where source and target are both smooth.
fn noise_badness(c: &[[f32; 3]], s: &[[f32; 3]], t: &[[f32; 3]], size: u32) -> f32 {
    let n = size as usize;
    // Smooth in both, and away from edges where there is room, so a blurred edge is not read as
    // noise; busy patterns leave few such pixels, and then the edge band counts too.
    let rough: Vec<bool> = smooth_mask(t, size).into_iter().zip(smooth_mask(s, size)).map(|(a, b)| !(a && b)).collect();
    let mut bands = vec![rough];
    for _ in 0..3 {
        let grown = crate::edit::dilate(&bands[bands.len() - 1], size);
        bands.push(grown);
    }
    // The farthest band from edges that still holds 5% of the image.
    let smooth: Vec<bool> = bands
        .iter()
        .rev()
        .map(|r| r.iter().map(|x| !x).collect::<Vec<bool>>())
        .find(|m| m.iter().filter(|a| **a).count() * 20 >= n * n)
        .unwrap_or_else(|| bands[0].iter().map(|x| !x).collect());
    let mut v: Vec<f32> = Vec::with_capacity(n * n * 3);
    for (i, _) in smooth.iter().enumerate().filter(|(_, s)| **s) {
        for ch in 0..3 {
            v.push(laplacian(c, n, i, ch).abs());
        }
    }
    // MAD of a Gaussian is 0.6745 sigma; the Laplacian's sd is sqrt(1.25) sigma.
    let sigma = median(&mut v) / 0.6745 / 1.25f32.sqrt();
    clamp01((sigma - 4.0) / 34.0)
}

/// Luma range in the (2r+1)^2 window around i.
fn luma_range(l: &[f32], n: usize, i: usize, r: usize) -> f32 {
    let (x, y) = (i % n, i / n);
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    for v in y.saturating_sub(r)..(y + r + 1).min(n) {
        for u in x.saturating_sub(r)..(x + r + 1).min(n) {
            lo = lo.min(l[v * n + u]);
            hi = hi.max(l[v * n + u]);
        }
    }
    hi - lo
}

/// Blur: steepest neighbour step relative to the local range, at the target's strong edges, on
/// lightly smoothed luma (so noise does not pass for sharpness or for blur). Object edits look
/// outside the edit region where it has edges, since there the candidate should equal the target.
fn blur_badness(case: &EditCase, c: &[[f32; 3]], t: &[[f32; 3]]) -> f32 {
    let size = case.size;
    let n = size as usize;
    let smooth_luma = |px: &[[f32; 3]]| -> Vec<f32> {
        pixels::box_blur(px, size, 1).iter().map(|p| luma(*p)).collect()
    };
    let (lc, lt) = (smooth_luma(c), smooth_luma(t));
    let steep = |l: &[f32], i: usize| {
        let v = l[i];
        [l[i - 1], l[i + 1], l[i - n], l[i + n]].iter().map(|u| (u - v).abs()).fold(0.0, f32::max)
    };
    let edges: Vec<usize> = (2..n.saturating_sub(2))
        .flat_map(|y| (2..n - 2).map(move |x| y * n + x))
        .filter(|&i| luma_range(&lt, n, i, 1) >= 20.0)
        .collect();
    let outside: Vec<usize> = edges.iter().copied().filter(|&i| !case.region[i]).collect();
    let sharpness = |used: &[usize]| -> Option<f32> {
        let (mut sc, mut st, mut k) = (0.0f32, 0.0f32, 0usize);
        for &i in used {
            let (rc, rt) = (luma_range(&lc, n, i, 2), luma_range(&lt, n, i, 2));
            if rc < 10.0 {
                continue;
            }
            sc += steep(&lc, i) / rc;
            st += steep(&lt, i) / rt;
            k += 1;
        }
        (k >= 16 && st > 0.0).then(|| sc / st)
    };
    let ratio = if case.edit_type().is_whole_image() { None } else { sharpness(&outside) };
    match ratio.or_else(|| sharpness(&edges)) {
        Some(r) => clamp01((0.95 - r) / 0.2),
        None => 0.0,
    }
}

/// Blocking: jumps across the 8x8 grid lines in excess of jumps elsewhere, counted only between
/// pixels that are equal in both source and target (so any jump there is an artefact). The median
/// over grid lines: compression marks every line, a single seam or object edge only one.
fn blocking_badness(c: &[[f32; 3]], s: &[[f32; 3]], t: &[[f32; 3]], size: u32) -> f32 {
    let n = size as usize;
    let lines = n / BLOCK;
    // Per grid line (vertical lines first, then horizontal): jump sum and count.
    let mut on = vec![(0.0f32, 0usize); 2 * lines];
    let (mut off, mut off_k) = (0.0f32, 0usize);
    for y in 0..n {
        for x in 1..n {
            for (dir, (a, b)) in [(y * n + x - 1, y * n + x), ((x - 1) * n + y, x * n + y)].into_iter().enumerate() {
                if l1(t[a], t[b]) > 1.0 || l1(s[a], s[b]) > 1.0 {
                    continue;
                }
                let d = l1(c[a], c[b]);
                if x % BLOCK == 0 {
                    let line = &mut on[dir * lines + x / BLOCK - 1];
                    line.0 += d;
                    line.1 += 1;
                } else {
                    off += d;
                    off_k += 1;
                }
            }
        }
    }
    let mut per_line: Vec<f32> = on.iter().filter(|(_, k)| *k >= 4).map(|(d, k)| d / *k as f32).collect();
    if per_line.len() < 2 || off_k == 0 {
        return 0.0;
    }
    clamp01((median(&mut per_line) - off / off_k as f32 - 0.5) / 5.0)
}

/// Ghosting: per tile, fit the (band-passed) candidate as `a * ref + b * shifted ref`; a ghost
/// has both a and b clearly positive everywhere (a moved object has a ~ 0 where it moved).
fn ghost_badness(case: &EditCase, c: &[[f32; 3]], t: &[[f32; 3]]) -> f32 {
    let size = case.size;
    let n = size as usize;
    let whole = case.edit_type().is_whole_image();
    let reference: Px = if whole { pointwise_explanation(&case.content_key, c, size) } else { t.to_vec() };
    let counted: Vec<bool> = if whole { vec![true; n * n] } else { case.region.iter().map(|r| !r).collect() };
    // Band-passed: a blur is a spread of tiny shifts and would pass for a ghost on raw pixels,
    // but it has no displaced copy of the edges.
    let reference = band_pass(&reference, size);
    let c = &band_pass(c, size);
    let tile = (n / 4).max(4);
    let nt = n.div_ceil(tile);
    // Only shifts at the world's ghost distance: shorter ones confuse a ghost with blur or a
    // sub-pixel move, which are also blends of nearby shifts.
    let d0 = flaw::ghost_shift(size);
    let tile_of: Vec<usize> = (0..n * n).map(|i| (i / n / tile) * nt + (i % n) / tile).collect();
    let pixels_counted: Vec<usize> = (0..n * n).filter(|&i| counted[i]).collect();
    let mut best = 0.0f32;
    for d in d0..=d0 + 1 {
        for (dx, dy) in [(d, 0), (-d, 0), (0, d), (0, -d), (d, d), (-d, d), (d, -d), (-d, -d)] {
            let shifted = pixels::shift(&reference, size, dx, dy);
            // Normal equations per tile: [yy yv; yv vv] [a b]' = [cy cv]'.
            let mut acc = vec![[0.0f64; 8]; nt * nt];
            for &i in &pixels_counted {
                let k = &mut acc[tile_of[i]];
                for ch in 0..3 {
                    let (y, v, cc) = (reference[i][ch] as f64, shifted[i][ch] as f64, c[i][ch] as f64);
                    k[0] += y * y;
                    k[1] += y * v;
                    k[2] += v * v;
                    k[3] += cc * y;
                    k[4] += cc * v;
                    // Energy of the difference the shift makes: tiles without edges say nothing.
                    k[5] += (v - y) * (v - y);
                    k[6] += (cc - y) * (cc - y);
                    k[7] += cc * cc;
                }
            }
            let mut fits: Vec<f32> = acc
                .iter()
                .filter(|k| k[5] > 500.0 * (tile * tile) as f64 / 64.0)
                .filter_map(|k| {
                    // Shifts that map a periodic pattern onto itself cannot separate a from b.
                    let det = k[0] * k[2] - k[1] * k[1];
                    if det <= 0.2 * k[0] * k[2] {
                        return None;
                    }
                    let a = (k[3] * k[2] - k[4] * k[1]) / det;
                    let b = (k[0] * k[4] - k[1] * k[3]) / det;
                    // A ghost is explained by the blend almost exactly; noise, or an object that
                    // moved in part of the tile, leaves most of the change unexplained.
                    let residual = k[7] - 2.0 * a * k[3] - 2.0 * b * k[4] + a * a * k[0] + 2.0 * a * b * k[1] + b * b * k[2];
                    // And a ghost is faint (b < a); b > a is the thing itself, moved.
                    (residual < 0.5 * k[6] && a > b).then_some(b.max(0.0) as f32)
                })
                .collect();
            // A ghost doubles every edge: take a low quantile over tiles, so that one object that
            // moved (or changed) cannot pass for one.
            if fits.len() >= 3 {
                fits.sort_by(|a, b| a.total_cmp(b));
                best = best.max(fits[fits.len() / 4]);
            }
        }
    }
    clamp01((best - 0.08) / 0.25)
}

/// 3x3 mean minus 7x7 mean: keeps edges, drops pixel noise and flat colour.
fn band_pass(px: &[[f32; 3]], size: u32) -> Px {
    let fine = pixels::box_blur(px, size, 1);
    let coarse = pixels::box_blur(px, size, 3);
    fine.iter().zip(&coarse).map(|(a, b)| [a[0] - b[0], a[1] - b[1], a[2] - b[2]]).collect()
}

/// Banding: colour levels snapped to a coarse comb. For each step q, the share of the candidate's
/// channel values that are multiples of q; the coarsest step they (nearly) all sit on, unless the
/// target's own values already sit on it (posterized images), measures the banding.
fn banding_badness(c: &[[f32; 3]], t: &[[f32; 3]]) -> f32 {
    // Histogram of channel values other than the clipping ends 0 and 255, where snapped values
    // pile up anyway.
    let histogram = |px: &[[f32; 3]]| -> [u32; 256] {
        let mut h = [0u32; 256];
        for v in px.iter().flatten() {
            h[v.round().clamp(0.0, 255.0) as usize] += 1;
        }
        h[0] = 0;
        h[255] = 0;
        h
    };
    let on_comb = |h: &[u32; 256], q: u32| -> bool {
        let total: u32 = h.iter().sum();
        let on: u32 = h.iter().step_by(q as usize).sum();
        total >= 16 && on as f32 >= 0.9 * total as f32
    };
    let (vc, vt) = (histogram(c), histogram(t));
    // A posterized candidate (a handful of levels) is a style, judged by following, not banding.
    if vc.iter().filter(|k| **k > 0).count() < 3 {
        return 0.0;
    }
    let q = (4..=40u32).rev().find(|&q| on_comb(&vc, q) && !on_comb(&vt, q)).unwrap_or(0);
    if q == 0 {
        return 0.0;
    }
    clamp01((q as f32 - 4.0) / 20.0)
}
