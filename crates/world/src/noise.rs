//! An imperfect judge: the exact oracle's reward with score noise, per-axis bias and verdict
//! flips, imitating an LVLM scorer (mission.md: "can be made noisy, like a real LVLM").

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rewardedit_core::{Axis, AxisScore, Reward, MAX_SCORE};
use serde::{Deserialize, Serialize};

use crate::flaw::normal;
use crate::Error;

/// Noise added to exact rewards. All zero = the exact oracle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JudgeNoise {
    /// Standard deviation of the Gaussian noise added to every score, in score points (0-5 scale).
    pub score_sd: f32,
    /// Probability that a verdict is flipped, independently per axis (0-1).
    pub flip_probability: f32,
    /// Constant added to each axis' score before clamping, `[following, preservation, quality]`,
    /// in score points (a judge that is lenient on one axis has a positive bias there).
    pub bias: [f32; 3],
}

impl JudgeNoise {
    /// The judge the noisy scorer recipes train on (`recipes/world-scorer-noisy*.toml`): score sd
    /// 0.5, 10 % verdict flips, lenient on following (+0.2), harsh on quality (-0.2).
    pub const LVLM_STAND_IN: JudgeNoise = JudgeNoise { score_sd: 0.5, flip_probability: 0.1, bias: [0.2, 0.0, -0.2] };
}

impl Default for JudgeNoise {
    fn default() -> Self {
        JudgeNoise { score_sd: 0.0, flip_probability: 0.0, bias: [0.0; 3] }
    }
}

impl JudgeNoise {
    pub fn validate(&self) -> Result<(), Error> {
        let ok = self.score_sd.is_finite()
            && self.score_sd >= 0.0
            && (0.0..=1.0).contains(&self.flip_probability)
            && self.bias.iter().all(|b| b.is_finite());
        if !ok {
            return Err(Error::InvalidConfig(format!("judge noise needs sd >= 0, flip probability in [0, 1], finite bias: {self:?}")));
        }
        Ok(())
    }

    /// The noisy version of `reward`; the same `seed` always gives the same result. Scores are
    /// clamped to [0, 5]; flaw sentences are kept (a judge's wording is not what we perturb).
    pub fn apply(&self, reward: &Reward, seed: u64) -> Result<Reward, Error> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut axis = |a: Axis| -> Result<AxisScore, Error> {
            let x = reward.axis(a);
            let score = (x.score() + self.bias[a.index()] + self.score_sd * normal(&mut rng)).clamp(0.0, MAX_SCORE);
            let flip = rng.random::<f32>() < self.flip_probability;
            Ok(AxisScore::new((score * 100.0).round() / 100.0, x.verdict() ^ flip, x.flaw())?)
        };
        Ok(Reward::new(axis(Axis::Following)?, axis(Axis::Preservation)?, axis(Axis::Quality)?))
    }
}
