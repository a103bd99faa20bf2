//! The [`Editor`] trait: the one extension point every editor plugs into an evaluation run
//! (architecture.md rule 5: a small trait, typed values across it).
//!
//! An editor takes an [`EditInput`] (source image, instruction, the reward condition and the
//! sampling settings, a seed) and returns the edited RGB image or an [`EditError`]. It never
//! invents a result: an editor that cannot edit says why, and the run records the item as
//! failed. Implementations:
//!
//! - [`NoopEditor`]: returns the source unchanged — the floor every report can show
//!   (following low, preservation high).
//! - [`open_editor_dir`]: an editor folder (teacher, baseline or student UNet), edited by the
//!   diffusion pipeline ([`crate::diffusion::DiffusionEditor`]).
//!
//! Implementing it for the diffusion pipeline: `edit` runs the whole sampler for one image
//! (encode, `steps` scheduler steps with text, image and reward guidance, decode) and returns
//! the image at the source's size (mission.md F11: aspect ratio and size kept). `describe`
//! names the checkpoint, precision and resolved settings, for run records.

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;
use rewardedit_core::{RewardCondition, MAX_SCORE};
use rewardedit_models::schedulers::SchedulerKind;
use serde::{Deserialize, Serialize};

/// What the editor is asked to aim for on the three reward axes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RewardRequest {
    /// The editor's own default (for reward-conditioned editors: the paper's 5, 5, 5 with the
    /// editor's reward text, `pipeline::Editor::default_condition`).
    #[default]
    Default,
    /// Explicit scores `[following, preservation, quality]` in [0, 5] (`--rewards 5,5,5`) and
    /// the reward (flaw) text (`--reward-text`; `None`: the editor's own).
    Scores {
        scores: [f32; 3],
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// A named per-axis template (`--template NAME`, e.g. "catalogue" or "ad"); the editor
    /// resolves the name and fails with [`EditError::UnknownTemplate`] if it does not know it.
    Template { name: String },
    /// No reward: the learned null reward (mission.md F4), i.e. reward conditioning and reward
    /// guidance both off — what "guidance off" is measured against.
    Null,
}

impl RewardRequest {
    /// The reward condition for `Default`, `Scores` and `Null`, with `reward_text` (the
    /// editor's own) where the request gives none; `None` for a template, which only the editor
    /// can resolve.
    pub fn condition(&self, reward_text: &str) -> Option<RewardCondition> {
        match self {
            RewardRequest::Default => Some(RewardCondition::Given { scores: [MAX_SCORE; 3], text: reward_text.to_owned() }),
            RewardRequest::Scores { scores, text } => {
                Some(RewardCondition::Given { scores: *scores, text: text.clone().unwrap_or_else(|| reward_text.to_owned()) })
            }
            RewardRequest::Template { .. } => None,
            RewardRequest::Null => Some(RewardCondition::Null),
        }
    }
}

/// Settings shared by every edit of a run. `None` fields take the editor's own default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EditSettings {
    /// The reward condition.
    pub rewards: RewardRequest,
    /// Sampling steps (the paper: 30 Euler-Ancestral steps); ignored by editors that do not sample.
    pub steps: Option<u32>,
    /// Longest side the editor works at, px (larger sources are scaled down for the edit and
    /// back after); `None`: the editor's own default.
    #[serde(default)]
    pub max_side: Option<u32>,
    /// The sampler; `None`: the editor's own. (Absent from runs written before it existed, which
    /// therefore resume unchanged.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerKind>,
    /// Text (instruction) guidance scale; `None`: the editor's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_cfg: Option<f64>,
    /// Image guidance scale; `None`: the editor's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_cfg: Option<f64>,
    /// Reward guidance scale; `None`: the editor's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_cfg: Option<f64>,
}

impl EditSettings {
    /// The sampler and guidance this run asks for, for reports: "editor default" where unset.
    pub fn sampling_overrides(&self) -> String {
        let num = |v: Option<f64>| v.map_or("default".to_string(), |v| v.to_string());
        if self.scheduler.is_none() && self.text_cfg.is_none() && self.image_cfg.is_none() && self.reward_cfg.is_none() {
            return "editor default".into();
        }
        format!(
            "{}, text {} image {} reward {}",
            self.scheduler.map_or("default sampler", SchedulerKind::name),
            num(self.text_cfg),
            num(self.image_cfg),
            num(self.reward_cfg)
        )
    }
}

/// One edit to perform.
#[derive(Debug, Clone, Copy)]
pub struct EditInput<'a> {
    /// The image to edit, upright RGB8 at its own size.
    pub source: &'a RgbImage,
    /// The edit instruction.
    pub instruction: &'a str,
    pub settings: &'a EditSettings,
    /// Seed of this edit's sampling noise: the same input and seed give the same image.
    pub seed: u64,
}

/// Why an editor could not edit (or could not be opened).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EditError {
    /// The editor does not know the reward template.
    #[error("unknown reward template {name:?}; known templates: {known}")]
    UnknownTemplate { name: String, known: String },
    /// The input is unusable for this editor (empty image, a size it cannot handle...).
    #[error("invalid edit input: {0}")]
    InvalidInput(String),
    /// The editor failed while editing (model error, out of memory...).
    #[error("edit failed: {0}")]
    Failed(String),
}

impl EditError {
    /// A short stable name for the kind of failure, for item records.
    pub fn kind(&self) -> &'static str {
        match self {
            EditError::UnknownTemplate { .. } => "unknown_template",
            EditError::InvalidInput(_) => "invalid_input",
            EditError::Failed(_) => "failed",
        }
    }

    /// Whether this is the user's to fix (a path, a template name) rather than a failure.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, EditError::Failed(_))
    }
}

/// Anything that edits an image from an instruction: the teacher and student diffusion
/// editors, and [`NoopEditor`].
pub trait Editor: Send + Sync {
    /// A short human-readable name with the resolved settings (e.g. `noop`), for run records
    /// and reports.
    fn describe(&self) -> String;

    /// Edits one image, blocking until done.
    fn edit(&self, input: &EditInput<'_>) -> Result<RgbImage, EditError>;
}

/// Returns the source unchanged: the floor of every benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopEditor;

impl Editor for NoopEditor {
    fn describe(&self) -> String {
        "noop".into()
    }

    fn edit(&self, input: &EditInput<'_>) -> Result<RgbImage, EditError> {
        if input.source.width() == 0 || input.source.height() == 0 {
            return Err(EditError::InvalidInput("the source image is empty".into()));
        }
        Ok(input.source.clone())
    }
}

/// The editor stored in folder `dir` (a trained teacher, baseline or student), on `device`.
pub fn open_editor_dir(dir: &Path, device: &Device) -> Result<Box<dyn Editor>, EditError> {
    Ok(Box::new(crate::diffusion::DiffusionEditor::open(dir, device)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noop_returns_the_source_and_a_missing_folder_is_bad_input() {
        let source = RgbImage::from_pixel(3, 2, image::Rgb([9, 8, 7]));
        let settings = EditSettings::default();
        let input = EditInput { source: &source, instruction: "make it blue", settings: &settings, seed: 1 };
        assert_eq!(NoopEditor.edit(&input).unwrap(), source);
        let err = open_editor_dir(Path::new("no/such/editor"), &Device::flex()).err().unwrap();
        assert!(err.is_bad_input() && err.to_string().contains("no/such/editor"), "{err}");
    }

    #[test]
    fn reward_requests_resolve_to_conditions() {
        let own = "No negative aspects; No unintended changes; No noticeable issues";
        assert_eq!(RewardRequest::Default.condition(own), Some(RewardCondition::Given { scores: [5.0; 3], text: own.into() }));
        let c = RewardRequest::Scores { scores: [5.0, 3.0, 4.0], text: None }.condition(own).unwrap();
        assert_eq!(c, RewardCondition::Given { scores: [5.0, 3.0, 4.0], text: own.into() });
        let c = RewardRequest::Scores { scores: [5.0; 3], text: Some("a; b; c".into()) }.condition(own).unwrap();
        assert_eq!(c, RewardCondition::Given { scores: [5.0; 3], text: "a; b; c".into() });
        // Runs written before the text existed read back as asking for the editor's own.
        let old: RewardRequest = serde_json::from_str(r#"{"kind":"scores","scores":[5.0,5.0,5.0]}"#).unwrap();
        assert_eq!(old, RewardRequest::Scores { scores: [5.0; 3], text: None });
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"{"kind":"scores","scores":[5.0,5.0,5.0]}"#);
        assert_eq!(RewardRequest::Template { name: "ad".into() }.condition(own), None);
        assert_eq!(RewardRequest::Null.condition(own), Some(RewardCondition::Null));
    }
}
