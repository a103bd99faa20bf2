//! Where the editor denoises: pixel space (the world editor: the UNet reads the noisy image and
//! the source image, 3 + 3 channels) or a VAE's latent space (SD 1.5 InstructPix2Pix: 4 + 4).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

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
pub enum ImageSpace {
    /// Denoise images in `[-1, 1]` directly.
    Pixel,
}

impl ImageSpace {
    pub fn kind(&self) -> SpaceKind {
        match self {
            ImageSpace::Pixel => SpaceKind::Pixel,
        }
    }

    /// Channels of the denoised sample (the UNet's input is twice this: sample + source).
    pub fn channels(&self) -> usize {
        match self {
            ImageSpace::Pixel => 3,
        }
    }

    /// Pixels per sample element along each side.
    pub fn downscale(&self) -> usize {
        match self {
            ImageSpace::Pixel => 1,
        }
    }

    /// The source images `[B, 3, H, W]` in `[-1, 1]` as the UNet's image condition.
    pub fn condition(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            ImageSpace::Pixel => images,
        }
    }

    /// A final sample back to images in `[-1, 1]`.
    pub fn to_images(&self, sample: Tensor<4>) -> Tensor<4> {
        match self {
            ImageSpace::Pixel => sample,
        }
    }
}
