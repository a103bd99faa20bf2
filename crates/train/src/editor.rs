//! The editor as one trainable module: the UNet (with reward modules in stage 2) and, for a
//! world editor, the word-level prompt encoder, trained jointly. An SD editor trains its UNet
//! alone: its CLIP text encoder and VAE stay frozen outside the module
//! ([`crate::frozen::FrozenEncoders`]). Its shape, encoders and noise schedule travel in
//! [`EditorConfig`] beside the weights; [`Editor::open_dir`] reads an exported editor folder
//! back for more training (a recipe's `init.from = "editor"`, a distillation's teacher).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rewardedit_core::Vocab;
use rewardedit_models::schedulers::NoiseScheduleConfig;
use rewardedit_models::text::world::{WorldTextConfig, WorldTextEncoder};
use rewardedit_models::text::TextEmbedding;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs, UNet2DConditionConfig, UNet2DConditionModel};
use serde::{Deserialize, Serialize};

use rewardedit_models::import::editor::world_text_config;
use rewardedit_models::import::editor::{load_editor_config, text_encoder_kind, TextEncoderKind};
use rewardedit_models::import::{load_scheduler_config, load_unet_dir, TEXT_ENCODER_CONFIG, VAE_CONFIG};
use rewardedit_models::pipeline::{self, check_parts_fit, PromptEncoder, SpaceKind};
use rewardedit_models::text::CLIPTextConfig;
use rewardedit_models::vae::AutoencoderKLConfig;

use crate::{Result, TrainError};

/// Everything needed to rebuild an [`Editor`] before loading its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredEditorConfig")]
pub struct EditorConfig {
    pub unet: UNet2DConditionConfig,
    /// What encodes the prompts (and, in latent space, the images).
    pub encoders: Encoders,
    /// Present once the editor has reward modules (stage 2).
    pub reward: Option<RewardConditioningConfig>,
    /// The training noise schedule (what samplers must use).
    pub noise: NoiseScheduleConfig,
}

/// [`EditorConfig`] as stored, in either layout: runs and checkpoints written before the SD
/// encoders existed (2026-11-27) hold a world editor's `text` and `vocab` at the top level instead
/// of `encoders`. Reading both keeps those runs resumable and usable as `init`.
#[derive(Deserialize)]
struct StoredEditorConfig {
    unet: UNet2DConditionConfig,
    #[serde(default)]
    encoders: Option<Encoders>,
    #[serde(default)]
    text: Option<WorldTextConfig>,
    #[serde(default)]
    vocab: Option<Vocab>,
    reward: Option<RewardConditioningConfig>,
    noise: NoiseScheduleConfig,
}

impl TryFrom<StoredEditorConfig> for EditorConfig {
    type Error = String;

    fn try_from(s: StoredEditorConfig) -> std::result::Result<Self, String> {
        let encoders = match (s.encoders, s.text, s.vocab) {
            (Some(encoders), None, None) => encoders,
            (None, Some(text), Some(vocab)) => Encoders::World { text, vocab },
            (None, ..) => return Err("the editor config names no encoders (neither `encoders` nor the older `text` and `vocab`)".into()),
            (Some(_), ..) => return Err("the editor config has both `encoders` and the older `text`/`vocab` fields: keep one".into()),
        };
        Ok(EditorConfig { unet: s.unet, encoders, reward: s.reward, noise: s.noise })
    }
}

/// An editor's encoders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Encoders {
    /// The world editor's word-level prompt encoder and its words, trained with the UNet; the
    /// editor denoises pixels.
    World { text: WorldTextConfig, vocab: Vocab },
    /// An SD editor's CLIP text encoder, tokenizer and VAE, frozen, read from the editor folder
    /// `dir`; the editor denoises the VAE's latents.
    Frozen { dir: PathBuf },
}

/// UNet + (world editors) prompt encoder.
#[derive(Module, Debug)]
pub struct Editor {
    pub unet: UNet2DConditionModel,
    /// `None` for an SD editor, whose CLIP text encoder is frozen outside the module.
    pub text_encoder: Option<WorldTextEncoder>,
}

impl Editor {
    /// Opens the editor folder `dir` (as `rewardedit edit` loads it: fp32, fp16, bf16 or int8
    /// weights) as a trainable editor on `device` (a world editor, or an SD editor's UNet),
    /// its reward modules (if any) dropping to the null reward with probability `null_dropout`.
    pub fn open_dir(dir: &Path, null_dropout: f64, device: &Device) -> Result<(EditorConfig, Editor)> {
        if !dir.is_dir() {
            return Err(TrainError::Config(format!(
                "{}: no such editor folder: name a diffusers InstructPix2Pix folder, a reward checkpoint folder or a run's editor/",
                dir.display()
            )));
        }
        let err = |e: rewardedit_models::ModelError| TrainError::Config(format!("{}: {e}", dir.display()));
        if text_encoder_kind(dir).map_err(err)? == TextEncoderKind::Clip {
            return Self::open_sd_dir(dir, null_dropout, device);
        }
        let e = pipeline::Editor::load(dir, device).map_err(err)?;
        let reward = e.unet.reward.as_ref().map(|_| RewardConditioningConfig { zero_init: false, null_dropout });
        let (PromptEncoder::World { encoder, vocab }, SpaceKind::Pixel) = (e.text, e.config.space) else {
            return Err(TrainError::Config(format!("{}: a world prompt encoder in latent space cannot train: world editors denoise pixels", dir.display())));
        };
        let encoders = Encoders::World { text: world_text_config(&encoder, &vocab), vocab };
        let text_encoder = Some(encoder);
        let config = EditorConfig { unet: e.unet_config, encoders, reward, noise: e.schedule };
        let editor = Editor { unet: e.unet, text_encoder }.with_null_dropout(null_dropout);
        Ok((config, editor))
    }

    /// [`Editor::open_dir`] for an SD folder: its UNet only, checked against the CLIP and VAE
    /// configs; their weights are read once, as the run's frozen encoders
    /// ([`crate::frozen::FrozenEncoders`]), not here.
    fn open_sd_dir(dir: &Path, null_dropout: f64, device: &Device) -> Result<(EditorConfig, Editor)> {
        let err = |e: rewardedit_models::ModelError| TrainError::Config(format!("{}: {e}", dir.display()));
        if load_editor_config(dir).map_err(err)?.space != SpaceKind::Latent {
            return Err(TrainError::Config(format!("{}: a CLIP prompt encoder without vae/ cannot train: CLIP editors denoise a VAE's latents", dir.display())));
        }
        let unet = load_unet_dir(dir, device).map_err(err)?;
        let clip = CLIPTextConfig::from_file(dir.join(TEXT_ENCODER_CONFIG)).map_err(err)?;
        let vae = AutoencoderKLConfig::from_file(dir.join(VAE_CONFIG)).map_err(err)?;
        check_parts_fit(&unet.config, clip.hidden_size, SpaceKind::Latent, vae.latent_channels).map_err(err)?;
        let reward = unet.model.reward.as_ref().map(|_| RewardConditioningConfig { zero_init: false, null_dropout });
        // Absolute, so that a resumed run or a later phase finds the folder from anywhere.
        let frozen_dir = std::path::absolute(dir).map_err(|e| TrainError::io(dir, e))?;
        let config = EditorConfig { unet: unet.config, encoders: Encoders::Frozen { dir: frozen_dir }, reward, noise: load_scheduler_config(dir).map_err(err)? };
        let editor = Editor { unet: unet.model, text_encoder: None }.with_null_dropout(null_dropout);
        Ok((config, editor))
    }

    /// Fresh weights (from the device's seed).
    pub fn new(config: &EditorConfig, device: &Device) -> Result<Self> {
        let text_encoder = match &config.encoders {
            Encoders::World { text, .. } => Some(WorldTextEncoder::new(text, device)?),
            Encoders::Frozen { .. } => None,
        };
        Ok(Editor { unet: UNet2DConditionModel::new(&config.unet, config.reward.as_ref(), device)?, text_encoder })
    }

    /// Encodes `prompts` with the world prompt encoder; rows with `drop[i]` get the empty
    /// prompt (InstructPix2Pix 3.2.1: the text condition's "null" is the empty prompt's
    /// embedding).
    pub fn encode_prompts(encoder: &WorldTextEncoder, vocab: &Vocab, prompts: &[&str], drop: &[bool], device: &Device) -> TextEmbedding {
        encoder.encode(vocab, &dropped_prompts(prompts, drop), device)
    }

    /// The UNet's input: `concat(noisy target, source)` on channels; rows with `drop[i]` get a
    /// zero source (InstructPix2Pix 3.2.1: the image condition's "null").
    pub fn unet_input(noisy: Tensor<4>, source: Tensor<4>, drop: &[bool]) -> Tensor<4> {
        let [b, c, h, w] = source.dims();
        let keep: Vec<f32> = drop.iter().map(|d| if *d { 0.0 } else { 1.0 }).collect();
        let keep = Tensor::<1>::from_data(TensorData::new(keep, [b]), &source.device()).reshape([b, 1, 1, 1]);
        Tensor::cat(vec![noisy, source * keep.expand([b, c, h, w])], 1)
    }

    /// Reward inputs for `scores` and the pooled embeddings of their reward texts, with rows
    /// whose `uniforms[i] < null_dropout` replaced by the learned null reward (inside the reward
    /// embedder: `RewardConditioning::drop_rewards_with`). `None` when the UNet has no reward
    /// modules.
    pub fn reward_inputs(&self, scores: &[[f32; 3]], pooled_text: Tensor<2>, uniforms: &[f32], device: &Device) -> Option<RewardInputs> {
        let module = self.unet.reward.as_ref()?;
        let b = scores.len();
        let flat: Vec<f32> = scores.iter().flatten().copied().collect();
        let inputs = RewardInputs { scores: Tensor::from_data(TensorData::new(flat, [b, 3]), device), pooled_text, null: None };
        let u = Tensor::<1>::from_data(TensorData::new(uniforms.to_vec(), [b]), device);
        Some(module.drop_rewards_with(inputs, u))
    }
}

/// `prompts` with the rows where `drop[i]` replaced by the empty prompt.
pub fn dropped_prompts<'a>(prompts: &[&'a str], drop: &[bool]) -> Vec<&'a str> {
    prompts.iter().zip(drop).map(|(p, d)| if *d { "" } else { *p }).collect()
}

impl EditorConfig {
    /// The world encoder's words (`None` for an SD editor).
    pub fn vocab(&self) -> Option<&Vocab> {
        match &self.encoders {
            Encoders::World { vocab, .. } => Some(vocab),
            Encoders::Frozen { .. } => None,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn world_config() -> EditorConfig {
        let vocab = Vocab::build(["make the circle red"]);
        let text = WorldTextConfig { dim: 64, layers: 2, heads: 4, max_tokens: 32, vocab_size: vocab.size() };
        EditorConfig { unet: UNet2DConditionConfig::default(), encoders: Encoders::World { text, vocab }, reward: None, noise: NoiseScheduleConfig::default() }
    }

    #[test]
    fn configs_written_before_the_encoders_field_still_load() {
        let config = world_config();
        let mut json = serde_json::to_value(&config).unwrap();
        // The layout of runs written before 2026-11-27: `text` and `vocab` at the top level.
        let map = json.as_object_mut().unwrap();
        let encoders = map.remove("encoders").unwrap();
        map.insert("text".into(), encoders["text"].clone());
        map.insert("vocab".into(), encoders["vocab"].clone());
        let legacy: EditorConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(legacy, config);
        let current: EditorConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(current, config);

        json.as_object_mut().unwrap().remove("vocab");
        let err = serde_json::from_value::<EditorConfig>(json).unwrap_err().to_string();
        assert!(err.contains("names no encoders"), "{err}");
    }
}
