//! [`StudentScorer`]: the distilled network behind the crate's [`Scorer`] trait.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;
use rewardedit_core::{Axis, AxisScore, Reward};

use super::batch::{at_resolution, image_tensor, token_tensor};
use super::config::StudentConfig;
use super::network::StudentNet;
use super::store::{load_student, Precision};
use crate::{ScoreError, ScoreRequest, Scorer};

/// Scores at or below which a failed axis is described as badly rather than partly failed.
const SEVERE_BELOW: f32 = 2.0;

/// The student's flaw sentence for `axis`: the axis' no-flaw text when the verdict is yes, else
/// a templated sentence by severity (the student does not localise flaws; the teacher's
/// sentences name objects, which a sub-million-parameter scorer is not asked to generate).
pub fn flaw_sentence(axis: Axis, score: f32, verdict: bool) -> &'static str {
    if verdict {
        return axis.no_flaw_text();
    }
    let severe = score <= SEVERE_BELOW;
    match (axis, severe) {
        (Axis::Following, true) => "the instruction was not carried out",
        (Axis::Following, false) => "the instruction was only partly or imprecisely carried out",
        (Axis::Preservation, true) => "much that the instruction did not mention was changed",
        (Axis::Preservation, false) => "something the instruction did not mention was changed",
        (Axis::Quality, true) => "the result has strong artefacts",
        (Axis::Quality, false) => "the result has visible artefacts",
    }
}

/// Scores a batch of edits whose images are already at the network's resolution.
pub fn predict(
    model: &StudentNet,
    config: &StudentConfig,
    pairs: &[(&RgbImage, &RgbImage)],
    instructions: &[&str],
    device: &Device,
) -> Result<Vec<Reward>, ScoreError> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let out = model.forward(image_tensor(pairs, config.resolution, device), token_tensor(config, instructions, device));
    let scores = out.scores.into_data().try_to_vec::<f32>().map_err(|e| ScoreError::Config(format!("{e:?}")))?;
    let logits = out.verdict_logits.into_data().try_to_vec::<f32>().map_err(|e| ScoreError::Config(format!("{e:?}")))?;
    scores
        .chunks_exact(3)
        .zip(logits.chunks_exact(3))
        .map(|(s, z)| {
            let axis = |a: Axis| {
                // Reported to two decimals, the teacher's (the oracle's) resolution: finer digits
                // carry no information and would break the teacher's ties at 5.00.
                let (score, verdict) = ((s[a.index()] * 100.0).round() / 100.0, z[a.index()] > 0.0);
                AxisScore::new(score, verdict, flaw_sentence(a, score, verdict))
                    .map_err(|e| ScoreError::InvalidScore { axis: a, reason: e.to_string() })
            };
            Ok(Reward::new(axis(Axis::Following)?, axis(Axis::Preservation)?, axis(Axis::Quality)?))
        })
        .collect()
}

/// A trained student loaded from its folder (`--scorer student:DIR`).
pub struct StudentScorer {
    model: StudentNet,
    config: StudentConfig,
    precision: Precision,
    dir: PathBuf,
    device: Device,
}

impl StudentScorer {
    /// Loads `dir` at `precision` onto `device` (e.g. `Device::flex()`).
    pub fn load(dir: &Path, precision: Precision, device: &Device) -> Result<Self, ScoreError> {
        let (config, model) = load_student(dir, precision, device).map_err(|e| ScoreError::Config(e.to_string()))?;
        Ok(StudentScorer { model, config, precision, dir: dir.to_path_buf(), device: device.clone() })
    }

    /// A scorer over an in-memory network (inference mode).
    pub fn from_model(model: StudentNet, config: StudentConfig, precision: Precision, device: &Device) -> Self {
        StudentScorer { model: model.valid(), config, precision, dir: PathBuf::new(), device: device.clone() }
    }

    pub fn config(&self) -> &StudentConfig {
        &self.config
    }

    /// Scores many edits in one forward pass per `batch_size` chunk; each result is the same as
    /// [`Scorer::score`] would give. Invalid requests fail alone.
    pub fn score_many(&self, requests: &[ScoreRequest], batch_size: usize) -> Vec<Result<Reward, ScoreError>> {
        let mut results: Vec<Option<Result<Reward, ScoreError>>> = vec![None; requests.len()];
        let mut ok = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            match r.validate() {
                Ok(()) => ok.push(i),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        for chunk in ok.chunks(batch_size.max(1)) {
            let images: Vec<(RgbImage, RgbImage)> = chunk
                .iter()
                .map(|&i| (self.prepare(&requests[i].source), self.prepare(&requests[i].edited)))
                .collect();
            let pairs: Vec<(&RgbImage, &RgbImage)> = images.iter().map(|(s, e)| (s, e)).collect();
            let texts: Vec<&str> = chunk.iter().map(|&i| requests[i].instruction.as_str()).collect();
            match predict(&self.model, &self.config, &pairs, &texts, &self.device) {
                Ok(rewards) => chunk.iter().zip(rewards).for_each(|(&i, r)| results[i] = Some(Ok(r))),
                Err(e) => chunk.iter().for_each(|&i| results[i] = Some(Err(e.clone()))),
            }
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(ScoreError::Config("request not scored".into())))).collect()
    }

    fn prepare(&self, image: &RgbImage) -> RgbImage {
        at_resolution(image, self.config.resolution)
    }
}

impl Scorer for StudentScorer {
    fn describe(&self) -> String {
        let precision = match self.precision {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        };
        format!("student:{} ({precision})", self.dir.display())
    }

    fn score(&self, request: &ScoreRequest) -> Result<Reward, ScoreError> {
        request.validate()?;
        let (source, edited) = (self.prepare(&request.source), self.prepare(&request.edited));
        let mut rewards = predict(&self.model, &self.config, &[(&source, &edited)], &[&request.instruction], &self.device)?;
        rewards.pop().ok_or_else(|| ScoreError::Config("the student returned no score".into()))
    }
}
