//! Where the editor denoises: pixel space (the world editor: the UNet reads the noisy image and
//! the source image, 3 + 3 channels) or a VAE's latent space (SD 1.5 InstructPix2Pix: 4 + 4).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vae::{AutoencoderKL, AutoencoderKLConfig};

/// The name of a space, as `editor.json` and summaries spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpaceKind {
    Pixel,
    Latent,
}

impl SpaceKind {
    pub fn name(self) -> &'static str {
        match self {
            SpaceKind::Pixel => "pixel",
            SpaceKind::Latent => "latent",
        }
    }
}

/// The editor's denoising space with what it needs to get there and back.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per editor: boxing the VAE would only add a deref
pub enum ImageSpace {
    /// Denoise images in `[-1, 1]` directly.
    Pixel,
    /// Denoise the VAE's latents (scaled by `scaling_factor`, as SD).
    Latent { vae: AutoencoderKL, config: AutoencoderKLConfig },
}

impl ImageSpace {
    pub fn kind(&self) -> SpaceKind {
        match self {
            ImageSpace::Pixel => SpaceKind::Pixel,
            ImageSpace::Latent { .. } => SpaceKind::Latent,
        }
    }

    /// Channels of the denoised sample (the UNet's input is twice this: sample + source).
    pub fn channels(&self) -> usize {
        match self {
            ImageSpace::Pixel => 3,
            ImageSpace::Latent { config, .. } => config.latent_channels,
        }
    }

    /// Pixels per sample element along each side.
    pub fn downscale(&self) -> usize {
        match self {
            ImageSpace::Pixel => 1,
            ImageSpace::Latent { config, .. } => config.downscale_factor(),
        }
    }

    /// The source images `[B, 3, H, W]` in `[-1, 1]` as the UNet's image condition; in latent
    /// space the VAE's mode, unscaled (diffusers' `prepare_image_latents`).
    pub fn condition(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            ImageSpace::Pixel => images,
            ImageSpace::Latent { vae, .. } => vae.encode(images).mode(),
        }
    }

    /// A final sample back to images in `[-1, 1]` (latents: divided by `scaling_factor`, plus
    /// `shift_factor` if the VAE has one, then decoded).
    pub fn to_images(&self, sample: Tensor<4>) -> Tensor<4> {
        match self {
            ImageSpace::Pixel => sample,
            ImageSpace::Latent { vae, config } => vae.decode(sample / config.scaling_factor + config.shift_factor.unwrap_or(0.0)),
        }
    }
}
