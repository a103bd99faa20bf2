//! The world editor as one trainable module: the UNet (with reward modules in stage 2) and the
//! word-level prompt encoder, trained jointly. Its shape, vocabulary and noise schedule travel
//! in [`EditorConfig`] beside the weights; [`Editor::open_dir`] reads an exported editor folder
//! back for more training (a recipe's `init.from = "editor"`, a distillation's teacher).

use std::path::Path;

use burn::prelude::*;
use rewardedit_core::Vocab;
use rewardedit_models::schedulers::NoiseScheduleConfig;
use rewardedit_models::text::world::{WorldTextConfig, WorldTextEncoder};
use rewardedit_models::text::TextEmbedding;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs, UNet2DConditionConfig, UNet2DConditionModel};
use serde::{Deserialize, Serialize};

use rewardedit_models::import::editor::world_text_config;
use rewardedit_models::pipeline::{self, PromptEncoder};

use crate::{Result, TrainError};

/// Everything needed to rebuild an [`Editor`] before loading its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditorConfig {
    pub unet: UNet2DConditionConfig,
    pub text: WorldTextConfig,
    /// Present once the editor has reward modules (stage 2).
    pub reward: Option<RewardConditioningConfig>,
    /// The prompt encoder's words.
    pub vocab: Vocab,
    /// The training noise schedule (what samplers must use).
    pub noise: NoiseScheduleConfig,
}

/// UNet + prompt encoder.
#[derive(Module, Debug)]
pub struct Editor {
    pub unet: UNet2DConditionModel,
    pub text_encoder: WorldTextEncoder,
}

impl Editor {
    /// Opens the editor folder `dir` (as `rewardedit edit` loads it: fp32, fp16, bf16 or int8
    /// weights) as a trainable world editor on `device`, its reward modules (if any) dropping to
    /// the null reward with probability `null_dropout`.
    pub fn open_dir(dir: &Path, null_dropout: f64, device: &Device) -> Result<(EditorConfig, Editor)> {
        let e = pipeline::Editor::load(dir, device).map_err(|e| TrainError::Config(format!("{}: {e}", dir.display())))?;
        let PromptEncoder::World { encoder, vocab } = e.text else {
            return Err(TrainError::Config(format!(
                "{}: a CLIP (SD 1.5) editor; the trainer trains world editors (word-level prompt encoder) only",
                dir.display()
            )));
        };
        let reward = e.unet.reward.as_ref().map(|_| RewardConditioningConfig { zero_init: false, null_dropout });
        let config = EditorConfig { unet: e.unet_config, text: world_text_config(&encoder, &vocab), reward, vocab, noise: e.schedule };
        let editor = Editor { unet: e.unet, text_encoder: encoder }.with_null_dropout(null_dropout);
        Ok((config, editor))
    }

    /// Fresh weights (from the device's seed).
    pub fn new(config: &EditorConfig, device: &Device) -> Result<Self> {
        Ok(Editor {
            unet: UNet2DConditionModel::new(&config.unet, config.reward.as_ref(), device)?,
            text_encoder: WorldTextEncoder::new(&config.text, device)?,
        })
    }

    /// Encodes `prompts`; rows with `drop[i]` get the empty prompt (InstructPix2Pix 3.2.1: the
    /// text condition's "null" is the empty prompt's embedding).
    pub fn encode_prompts(&self, vocab: &Vocab, prompts: &[&str], drop: &[bool], device: &Device) -> TextEmbedding {
        let texts: Vec<&str> = prompts.iter().zip(drop).map(|(p, d)| if *d { "" } else { *p }).collect();
        self.text_encoder.encode(vocab, &texts, device)
    }

    /// The UNet's input: `concat(noisy target, source)` on channels; rows with `drop[i]` get a
    /// zero source (InstructPix2Pix 3.2.1: the image condition's "null").
    pub fn unet_input(noisy: Tensor<4>, source: Tensor<4>, drop: &[bool]) -> Tensor<4> {
        let [b, c, h, w] = source.dims();
        let keep: Vec<f32> = drop.iter().map(|d| if *d { 0.0 } else { 1.0 }).collect();
        let keep = Tensor::<1>::from_data(TensorData::new(keep, [b]), &source.device()).reshape([b, 1, 1, 1]);
        Tensor::cat(vec![noisy, source * keep.expand([b, c, h, w])], 1)
    }

    /// Reward inputs for `scores` and `reward_texts`, with rows whose `uniforms[i] <
    /// null_dropout` replaced by the learned null reward (inside the reward embedder:
    /// `RewardConditioning::drop_rewards_with`). `None` when the UNet has no reward modules.
    pub fn reward_inputs(&self, vocab: &Vocab, scores: &[[f32; 3]], reward_texts: &[&str], uniforms: &[f32], device: &Device) -> Option<RewardInputs> {
        let module = self.unet.reward.as_ref()?;
        let b = scores.len();
        let flat: Vec<f32> = scores.iter().flatten().copied().collect();
        let inputs = RewardInputs {
            scores: Tensor::from_data(TensorData::new(flat, [b, 3]), device),
            pooled_text: self.text_encoder.encode(vocab, reward_texts, device).pooled,
            null: None,
        };
        let u = Tensor::<1>::from_data(TensorData::new(uniforms.to_vec(), [b]), device);
        Some(module.drop_rewards_with(inputs, u))
    }
}

impl EditorConfig {
    /// The same editor with reward modules of `reward`.
    pub fn with_reward(&self, reward: &RewardConditioningConfig) -> Self {
        EditorConfig { reward: Some(reward.clone()), ..self.clone() }
    }
}

/// Adds reward modules to a trained stage-1 editor (zero-initialised with `zero_init`, so its
/// predictions are unchanged until they train).
pub fn attach_reward(editor: Editor, config: &EditorConfig, reward: &RewardConditioningConfig) -> Editor {
    Editor { unet: editor.unet.attach_reward(&config.unet, reward), text_encoder: editor.text_encoder }
}
