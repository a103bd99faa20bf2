//! Classifier-free guidance as plain functions over predictions (architecture.md rule 3).
//!
//! InstructPix2Pix's dual guidance (Brooks et al. 2023, eq. 3) over three branches of the same
//! noisy sample: `full` (instruction + source image), `image` (source image, empty instruction)
//! and `uncond` (neither):
//!
//! `e = e(∅,∅) + s_T (e(I,T) - e(I,∅)) + s_I (e(I,∅) - e(∅,∅))`
//!
//! plus reward guidance (ours; possible because the embedder has a learned null reward):
//! the `full` branch again with the null reward, `e_r0 = e(I,T,∅_r)`, and
//! `e += (s_R - 1) (e(I,T,r) - e(I,T,∅_r))`. The three InstructPix2Pix branches all carry the
//! requested reward, as the authors do (paper-notes.md, "Inference").
//!
//! Everything is written as the conditional prediction plus `(scale - 1)` times a difference,
//! which is algebraically eq. 3, so any scale of exactly 1 contributes exactly nothing and the
//! branch it would need is not run ([`Branches::needed`]).

use burn::prelude::*;

/// The guidance scales of one edit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuidanceScales {
    /// Text (instruction) guidance `s_T`; InstructPix2Pix's `guidance_scale` (7.5 by default).
    pub text: f64,
    /// Image guidance `s_I`; InstructPix2Pix's `image_guidance_scale` (1.5 by default).
    pub image: f64,
    /// Reward guidance `s_R`, requested rewards vs the learned null reward; 1 = none.
    pub reward: f64,
}

impl Default for GuidanceScales {
    /// The paper's inference settings (paper-notes.md, "Inference"), no reward guidance.
    fn default() -> Self {
        Self { text: 7.5, image: 1.5, reward: 1.0 }
    }
}

/// One conditioning of the UNet's input; every branch is a block of rows in one batched call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// Instruction, source image, requested reward.
    Full,
    /// Empty instruction, source image, requested reward.
    Image,
    /// Empty instruction, zero source image, requested reward.
    Uncond,
    /// Instruction, source image, the learned null reward.
    NullReward,
}

impl Branch {
    /// Whether the branch sees the instruction (else the empty prompt).
    pub fn has_text(self) -> bool {
        matches!(self, Branch::Full | Branch::NullReward)
    }

    /// Whether the branch sees the source image (else zeros, as InstructPix2Pix).
    pub fn has_image(self) -> bool {
        !matches!(self, Branch::Uncond)
    }

    /// Whether the branch sees the requested reward (else the null reward).
    pub fn has_reward(self) -> bool {
        !matches!(self, Branch::NullReward)
    }
}

/// The branches an edit runs, in batch order (`Full` first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branches(pub Vec<Branch>);

impl Branches {
    /// The branches `scales` need. `reward_guidance` is false when there is nothing to guide
    /// towards (no reward modules, or the null reward requested); the reward scale is then
    /// ignored.
    pub fn needed(scales: &GuidanceScales, reward_guidance: bool) -> Self {
        let mut b = vec![Branch::Full];
        if scales.text != 1.0 || scales.image != 1.0 {
            b.push(Branch::Image);
        }
        if scales.image != 1.0 {
            b.push(Branch::Uncond);
        }
        if reward_guidance && scales.reward != 1.0 {
            b.push(Branch::NullReward);
        }
        Self(b)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Position of `branch` in the batch.
    pub fn index(&self, branch: Branch) -> Option<usize> {
        self.0.iter().position(|&b| b == branch)
    }

    /// Splits a batched prediction `[n * B, C, H, W]` into the branch predictions.
    pub fn split(&self, batched: Tensor<4>) -> Predictions {
        let parts = batched.chunk(self.len(), 0);
        let get = |b: Branch| self.index(b).map(|i| parts[i].clone());
        Predictions {
            full: get(Branch::Full).expect("Full is always run"),
            image: get(Branch::Image),
            uncond: get(Branch::Uncond),
            null_reward: get(Branch::NullReward),
        }
    }
}

/// The UNet's noise predictions per branch (`None`: not run).
#[derive(Debug, Clone)]
pub struct Predictions {
    pub full: Tensor<4>,
    pub image: Option<Tensor<4>>,
    pub uncond: Option<Tensor<4>>,
    pub null_reward: Option<Tensor<4>>,
}

/// InstructPix2Pix's dual guidance, eq. 3, as `full + (s_T - 1)(full - image) +
/// (s_I - 1)(image - uncond)`. Panics if a branch that a scale other than 1 needs is missing
/// (a wiring bug: [`Branches::needed`] decides what runs).
pub fn instruct_pix2pix(full: Tensor<4>, image: Option<Tensor<4>>, uncond: Option<Tensor<4>>, text_scale: f64, image_scale: f64) -> Tensor<4> {
    let mut out = full.clone();
    if text_scale != 1.0 {
        let image = image.clone().expect("text guidance needs the image-only branch");
        out = out + (full - image) * (text_scale - 1.0);
    }
    if image_scale != 1.0 {
        let image = image.expect("image guidance needs the image-only branch");
        let uncond = uncond.expect("image guidance needs the unconditional branch");
        out = out + (image - uncond) * (image_scale - 1.0);
    }
    out
}

/// Reward guidance: `guided + (s_R - 1)(full - null_reward)`; at scale 1 `guided` is returned
/// unchanged.
pub fn reward(guided: Tensor<4>, full: Tensor<4>, null_reward: Option<Tensor<4>>, reward_scale: f64) -> Tensor<4> {
    match null_reward {
        Some(null) if reward_scale != 1.0 => guided + (full - null) * (reward_scale - 1.0),
        _ => guided,
    }
}

/// The guided prediction from every branch that ran.
pub fn guide(p: Predictions, scales: &GuidanceScales) -> Tensor<4> {
    let ip2p = instruct_pix2pix(p.full.clone(), p.image, p.uncond, scales.text, scales.image);
    reward(ip2p, p.full, p.null_reward, scales.reward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// A fresh random prediction (each call draws anew).
    fn rand() -> Tensor<4> {
        Tensor::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &Device::flex())
    }

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn reward_scale_one_equals_no_reward_guidance_exactly() {
        let (full, image, uncond, null) = (rand(), rand(), rand(), rand());
        let s = GuidanceScales { text: 7.5, image: 1.5, reward: 1.0 };
        let with = guide(Predictions { full: full.clone(), image: Some(image.clone()), uncond: Some(uncond.clone()), null_reward: Some(null.clone()) }, &s);
        let without = guide(Predictions { full: full.clone(), image: Some(image.clone()), uncond: Some(uncond.clone()), null_reward: None }, &s);
        assert_eq!(with.to_data(), without.to_data());
        // The arithmetic itself is exact at scale 1 too, not just the skipped branch.
        let added = instruct_pix2pix(full.clone(), Some(image), Some(uncond), 7.5, 1.5) + (full - null) * 0.0;
        assert_eq!(added.to_data(), without.to_data());
    }

    #[test]
    fn reward_guidance_moves_away_from_the_null_reward() {
        let (full, null) = (rand(), rand());
        let guided = reward(full.clone(), full.clone(), Some(null.clone()), 3.0);
        assert!(max_diff(guided, full.clone() + (full - null) * 2.0) < 1e-6);
    }

    #[test]
    fn unit_scales_reduce_to_the_conditional_prediction() {
        let (full, image, uncond) = (rand(), rand(), rand());
        let out = instruct_pix2pix(full.clone(), Some(image.clone()), Some(uncond.clone()), 1.0, 1.0);
        assert_eq!(out.to_data(), full.to_data());
        assert_eq!(Branches::needed(&GuidanceScales { text: 1.0, image: 1.0, reward: 1.0 }, true).0, vec![Branch::Full]);
        // Text scale 1: the text term vanishes, image guidance remains.
        let out = instruct_pix2pix(full.clone(), Some(image.clone()), Some(uncond.clone()), 1.0, 2.0);
        assert!(max_diff(out, full.clone() + (image.clone() - uncond.clone())) < 1e-6);
    }

    #[test]
    fn matches_eq_3_of_instruct_pix2pix() {
        let (full, image, uncond) = (rand(), rand(), rand());
        let (st, si) = (7.5, 1.5);
        let reference = uncond.clone() + (full.clone() - image.clone()) * st + (image.clone() - uncond.clone()) * si;
        let ours = instruct_pix2pix(full, Some(image), Some(uncond), st, si);
        assert!(max_diff(ours, reference) < 1e-5);
    }

    #[test]
    fn branches_follow_the_scales_and_split_in_order() {
        let all = Branches::needed(&GuidanceScales { text: 7.5, image: 1.5, reward: 2.0 }, true);
        assert_eq!(all.0, vec![Branch::Full, Branch::Image, Branch::Uncond, Branch::NullReward]);
        let no_reward = Branches::needed(&GuidanceScales { text: 7.5, image: 1.5, reward: 2.0 }, false);
        assert_eq!(no_reward.0, vec![Branch::Full, Branch::Image, Branch::Uncond]);
        let text_only = Branches::needed(&GuidanceScales { text: 7.5, image: 1.0, reward: 1.0 }, true);
        assert_eq!(text_only.0, vec![Branch::Full, Branch::Image]);

        let device = Device::flex();
        let rows: Vec<Tensor<4>> = (0..4).map(|i| Tensor::<4>::full([2, 1, 1, 1], i as f32, &device)).collect();
        let p = all.split(Tensor::cat(rows, 0));
        assert_eq!(p.full.to_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.0]);
        assert_eq!(p.null_reward.unwrap().to_data().try_to_vec::<f32>().unwrap(), vec![3.0, 3.0]);
    }
}
