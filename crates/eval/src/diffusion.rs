//! The diffusion editors (teachers, baselines, students) behind [`Editor`]: an editor folder
//! loaded by the pipeline (`rewardedit_models::pipeline`), edited one image at a time with the
//! folder's default sampling settings, `--steps` and the requested reward.

use std::path::Path;
use std::sync::Mutex;

use burn::tensor::Device;
use image::RgbImage;
use rewardedit_core::{RewardCondition, Template};
use rewardedit_models::pipeline::{edit, EditRequest, Editor as Pipeline};
use rewardedit_models::ModelError;

use crate::editor::{EditError, EditInput, Editor, RewardRequest};

/// An editor folder on a device. The pipeline's modules are not `Sync`, so edits take a lock;
/// runs edit one item at a time anyway.
pub struct DiffusionEditor {
    pipeline: Mutex<Pipeline>,
    name: String,
    has_reward: bool,
    /// The reward text of requests that give none.
    reward_text: String,
}

impl DiffusionEditor {
    /// Loads the editor folder `dir` (strict: every tensor accounted for).
    pub fn open(dir: &Path, device: &Device) -> Result<Self, EditError> {
        let pipeline = Pipeline::load(dir, device)
            .map_err(|e| EditError::InvalidInput(format!("cannot load the editor folder {}: {e}", dir.display())))?;
        let (has_reward, reward_text) = (pipeline.has_reward(), pipeline.reward_text());
        let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Self { pipeline: Mutex::new(pipeline), name, has_reward, reward_text })
    }

    /// The reward condition for `request`; a UNet without reward modules takes the null reward
    /// (what it was trained without), whatever was asked.
    fn condition(&self, request: &RewardRequest) -> Result<RewardCondition, EditError> {
        if !self.has_reward {
            return Ok(RewardCondition::Null);
        }
        match request {
            RewardRequest::Template { name } => name
                .parse::<Template>()
                .map(|t| t.condition())
                .map_err(|e| EditError::UnknownTemplate { name: name.clone(), known: e.to_string() }),
            other => Ok(other.condition(&self.reward_text).expect("only templates need the editor to resolve them")),
        }
    }
}

impl Editor for DiffusionEditor {
    fn describe(&self) -> String {
        let pipeline = self.pipeline.lock().expect("no edit panicked while holding the lock");
        let d = &pipeline.config.defaults;
        format!(
            "{} ({} space, {}reward, {} {} steps, text {} image {} reward {})",
            self.name,
            pipeline.space.kind().name(),
            if self.has_reward { "" } else { "no " },
            d.scheduler.name(),
            d.steps,
            d.text_cfg,
            d.image_cfg,
            d.reward_cfg
        )
    }

    fn edit(&self, input: &EditInput<'_>) -> Result<RgbImage, EditError> {
        let reward = self.condition(&input.settings.rewards)?;
        let pipeline = self.pipeline.lock().expect("no edit panicked while holding the lock");
        let mut settings = pipeline.config.defaults.clone();
        if let Some(steps) = input.settings.steps {
            settings.steps = steps as usize;
        }
        if input.settings.max_side.is_some() {
            settings.max_side = input.settings.max_side;
        }
        let asked = input.settings;
        settings.scheduler = asked.scheduler.unwrap_or(settings.scheduler);
        settings.text_cfg = asked.text_cfg.unwrap_or(settings.text_cfg);
        settings.image_cfg = asked.image_cfg.unwrap_or(settings.image_cfg);
        settings.reward_cfg = asked.reward_cfg.unwrap_or(settings.reward_cfg);
        settings.seed = input.seed;
        let request = EditRequest { image: input.source.clone(), instruction: input.instruction.to_string(), reward };
        let mut out = edit(&pipeline, std::slice::from_ref(&request), &settings, &mut |_, _| {})?;
        out.pop().ok_or_else(|| EditError::Failed("the pipeline returned no image".into()))
    }
}

/// A pipeline error as an edit error: bad input stays bad input, the rest is a failure.
impl From<ModelError> for EditError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::InvalidInput(m) => EditError::InvalidInput(m),
            other => EditError::Failed(other.to_string()),
        }
    }
}
