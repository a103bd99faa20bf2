//! The editor: a UNet, a text encoder, a denoising space and a noise schedule, plus our
//! `editor.json` (space, resolution multiple, default settings). Load and save it as a folder
//! with `crate::import::editor`.

use burn::prelude::*;
use rewardedit_core::{RewardCondition, MAX_SCORE};
use serde::{Deserialize, Serialize};

use super::guidance::GuidanceScales;
use super::space::{ImageSpace, SpaceKind};
use super::text::PromptEncoder;
use crate::schedulers::{NoiseScheduleConfig, SchedulerKind};
use crate::unet::{UNet2DConditionConfig, UNet2DConditionModel};
use crate::{ModelError, Result};

/// Settings of one edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditSettings {
    /// Denoising steps.
    pub steps: usize,
    /// Text (instruction) guidance scale; 1 = none.
    pub text_cfg: f64,
    /// Image guidance scale; 1 = none.
    pub image_cfg: f64,
    /// Reward guidance scale (requested rewards vs the null reward); 1 = none.
    pub reward_cfg: f64,
    /// Seed of the initial and per-step noise.
    pub seed: u64,
    /// The sampler.
    pub scheduler: SchedulerKind,
    /// Longest side the model edits at, px: a larger input is scaled down (aspect kept) for the
    /// edit and the result scaled back to the input's size; `None` edits at the input's own size
    /// (a 4000 px photo through an SD-size UNet takes hours on a CPU; the paper edits at 512).
    #[serde(default)]
    pub max_side: Option<u32>,
}

impl Default for EditSettings {
    /// The paper's inference settings (paper-notes.md, "Inference"): Euler-Ancestral, 30 steps,
    /// text 7.5, image 1.5; no reward guidance.
    fn default() -> Self {
        let g = GuidanceScales::default();
        Self { steps: 30, text_cfg: g.text, image_cfg: g.image, reward_cfg: g.reward, seed: 0, scheduler: SchedulerKind::EulerA, max_side: None }
    }
}

impl EditSettings {
    pub fn scales(&self) -> GuidanceScales {
        GuidanceScales { text: self.text_cfg, image: self.image_cfg, reward: self.reward_cfg }
    }

    /// Rejects settings no edit can run with, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.max_side == Some(0) {
            return Err(ModelError::InvalidInput("max_side must be at least 1 px".into()));
        }
        if self.steps == 0 {
            return Err(ModelError::InvalidInput("steps must be at least 1".into()));
        }
        for (name, v) in [("text_cfg", self.text_cfg), ("image_cfg", self.image_cfg), ("reward_cfg", self.reward_cfg)] {
            if !v.is_finite() || v < 0.0 {
                return Err(ModelError::InvalidInput(format!("{name} = {v} must be a finite number >= 0")));
            }
        }
        Ok(())
    }
}

/// `editor.json`: what a diffusers folder does not say about our editors. Optional: without it
/// the space follows from `vae/` being there and the rest takes its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditorConfig {
    /// `pixel` (no VAE; the UNet reads noisy image + source, 3 + 3 channels) or `latent`.
    pub space: SpaceKind,
    /// Image sides are resized to multiples of this before the edit and back after; `None`:
    /// the space's downscale times the UNet's 2^(blocks - 1).
    #[serde(default)]
    pub resolution_multiple: Option<u32>,
    /// Settings used where the caller gives none.
    #[serde(default)]
    pub defaults: EditSettings,
    /// The reward (flaw) text of an edit whose caller gives scores but no text: the words the
    /// editor's training data uses for "no flaw". `None`: the paper's "None; None; None", which
    /// CLIP reads close to RewardEdit-20K's no-flaw sentences; a world editor's word encoder never
    /// reads "None" in training, and asking with it costs its following (PROVENANCE, session 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_text: Option<String>,
}

/// A loaded editor.
#[derive(Debug)]
pub struct Editor {
    pub unet: UNet2DConditionModel,
    pub unet_config: UNet2DConditionConfig,
    pub text: PromptEncoder,
    pub space: ImageSpace,
    pub schedule: NoiseScheduleConfig,
    pub config: EditorConfig,
}

/// Whether a UNet fits a text encoder `text_dim` wide and a `space` whose samples have
/// `channels` channels (the UNet reads sample + source): the check [`Editor::new`] makes, for
/// callers that hold only the parts' configs.
pub fn check_parts_fit(unet: &UNet2DConditionConfig, text_dim: usize, space: SpaceKind, channels: usize) -> Result<()> {
    let bad = |m: String| Err(ModelError::InvalidConfig(m));
    if unet.in_channels != 2 * channels || unet.out_channels != channels {
        return bad(format!(
            "a {}-space editor needs a UNet with {} input channels (sample + source) and {channels} output channels, found {} and {}",
            space.name(),
            2 * channels,
            unet.in_channels,
            unet.out_channels
        ));
    }
    if text_dim != unet.cross_attention_dim {
        return bad(format!("the text encoder's width {text_dim} differs from the UNet's cross_attention_dim {}", unet.cross_attention_dim));
    }
    Ok(())
}

impl Editor {
    /// Assembles an editor, checking that the parts fit together.
    pub fn new(
        unet: UNet2DConditionModel,
        unet_config: UNet2DConditionConfig,
        text: PromptEncoder,
        space: ImageSpace,
        schedule: NoiseScheduleConfig,
        config: EditorConfig,
    ) -> Result<Self> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if config.space != space.kind() {
            return bad(format!("editor.json says {} space, but the folder makes a {} editor", config.space.name(), space.kind().name()));
        }
        check_parts_fit(&unet_config, text.dim(), space.kind(), space.channels())?;
        if config.resolution_multiple == Some(0) {
            return bad("resolution_multiple must be at least 1".into());
        }
        config.defaults.validate()?;
        Ok(Self { unet, unet_config, text, space, schedule, config })
    }

    /// Image sides must be multiples of this.
    pub fn resolution_multiple(&self) -> u32 {
        self.config.resolution_multiple.unwrap_or_else(|| {
            let downsamplings = self.unet_config.block_out_channels.len() - 1;
            (self.space.downscale() << downsamplings) as u32
        })
    }

    /// Whether the UNet has the reward modules.
    pub fn has_reward(&self) -> bool {
        self.unet.reward.is_some()
    }

    /// The reward text of an edit asked for by scores alone (`EditorConfig::reward_text`, else
    /// the paper's).
    pub fn reward_text(&self) -> String {
        self.config.reward_text.clone().unwrap_or_else(|| RewardCondition::paper_default().text().to_owned())
    }

    /// The condition of an edit that asks for nothing: the paper's rewards 5, 5, 5, in the
    /// editor's own words ([`Self::reward_text`]).
    pub fn default_condition(&self) -> RewardCondition {
        RewardCondition::Given { scores: [MAX_SCORE; 3], text: self.reward_text() }
    }

    pub fn device(&self) -> Device {
        self.unet.conv_in.weight.val().device()
    }
}
