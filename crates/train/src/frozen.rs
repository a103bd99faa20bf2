//! The frozen half of an SD (latent-space) editor, as InstructPix2Pix trains it: the VAE turns
//! the triplet's images into latents and the CLIP text encoder turns the prompts and reward
//! texts into embeddings, outside the trained module, with no gradients; only the UNet learns.
//! They are read from an editor folder (`vae/`, `text_encoder/`, `tokenizer/`) and run on the
//! device without autodiff.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rand_chacha::ChaCha8Rng;
use rewardedit_models::import::diffusers::{load_text_encoder_dir, load_tokenizer_dir, load_vae_dir, TOKENIZER_DIR};
use rewardedit_models::pipeline::{ImageSpace, PromptEncoder};
use rewardedit_models::text::{CLIPTextConfig, CLIPTextModel, ClipTokenizer, TextEmbedding};
use rewardedit_models::vae::{AutoencoderKL, AutoencoderKLConfig};

use crate::batch::standard_normal;
use crate::data::Dataset;
use crate::editor::{EditorConfig, Encoders};
use crate::{Result, TrainError};

/// An SD editor's VAE, CLIP text encoder and tokenizer.
pub struct FrozenEncoders {
    /// The editor folder they were read from.
    pub dir: PathBuf,
    clip: CLIPTextModel,
    clip_config: CLIPTextConfig,
    tokenizer: ClipTokenizer,
    vae: AutoencoderKL,
    vae_config: AutoencoderKLConfig,
    device: Device,
}

impl FrozenEncoders {
    /// Reads them from the editor folder `dir` onto `device` without autodiff.
    pub fn open(dir: &Path, device: &Device) -> Result<Self> {
        let device = &device.clone().without_autodiff();
        let err = |e: rewardedit_models::ModelError| {
            TrainError::Config(format!("{}: the frozen VAE and CLIP text encoder of an SD editor: {e}", dir.display()))
        };
        let clip = load_text_encoder_dir(dir, device).map_err(err)?;
        let tokenizer = load_tokenizer_dir(dir).map_err(err)?;
        let vae = load_vae_dir(dir, device).map_err(err)?;
        Ok(FrozenEncoders {
            dir: dir.to_path_buf(),
            clip: clip.model,
            clip_config: clip.config,
            tokenizer,
            vae: vae.model,
            vae_config: vae.config,
            device: device.clone(),
        })
    }

    /// The frozen encoders `config` names (SD editors), on `device` without autodiff; `None`
    /// for world editors, whose prompt encoder trains inside the editor.
    pub fn for_config(config: &EditorConfig, device: &Device) -> Result<Option<Self>> {
        match &config.encoders {
            Encoders::World { .. } => Ok(None),
            Encoders::Frozen { dir } => Ok(Some(Self::open(dir, device)?)),
        }
    }

    /// Refuses a data set whose image sides the VAE cannot encode (not multiples of its
    /// downscale factor), before any step runs.
    pub fn check_sizes(&self, data: &Dataset) -> Result<()> {
        let m = self.vae_config.downscale_factor() as u32;
        match data.buckets().into_iter().find(|(w, h, _)| w % m != 0 || h % m != 0) {
            Some((w, h, _)) => Err(TrainError::Config(format!(
                "training images of {w}x{h} px: the VAE of {} needs sides that are multiples of {m} (set model.resolution and data.bucket_multiple to multiples of {m})",
                self.dir.display()
            ))),
            None => Ok(()),
        }
    }

    /// The diffusion target of images `[B, 3, H, W]` in [-1, 1]: a sample of the VAE's
    /// posterior (its noise from `rng`), shifted and scaled as SD's latents (diffusers'
    /// `train_instruct_pix2pix.py`).
    pub fn target_latents(&self, images: Tensor<4>, rng: &mut ChaCha8Rng) -> Tensor<4> {
        let posterior = self.vae.encode(images.without_autodiff());
        let noise = standard_normal(posterior.mean.dims(), rng, &self.device);
        let c = &self.vae_config;
        (posterior.sample(noise) - c.shift_factor.unwrap_or(0.0)) * c.scaling_factor
    }

    /// The image condition of source images: the posterior's mode, unscaled (as the sampling
    /// pipeline's `ImageSpace::condition`).
    pub fn condition(&self, images: Tensor<4>) -> Tensor<4> {
        self.vae.encode(images.without_autodiff()).mode()
    }

    /// CLIP embeddings of `texts`.
    pub fn encode(&self, texts: &[&str]) -> Result<TextEmbedding> {
        let tokens = self.tokenizer.encode_batch(texts, &self.device).map_err(|e| TrainError::Data(e.to_string()))?;
        self.clip.forward(tokens).map_err(|e| TrainError::Data(e.to_string()))
    }

    /// Copies of the text encoder and latent space for the sampling pipeline (validation
    /// grids, the exported editor folder).
    pub fn pipeline_parts(&self) -> (PromptEncoder, ImageSpace) {
        let text = PromptEncoder::Clip {
            model: self.clip.clone(),
            config: self.clip_config.clone(),
            tokenizer: self.tokenizer.clone(),
            tokenizer_dir: self.dir.join(TOKENIZER_DIR),
        };
        (text, ImageSpace::Latent { vae: self.vae.clone(), config: self.vae_config.clone() })
    }
}
