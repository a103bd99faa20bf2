//! The denoising UNet: diffusers' `UNet2DConditionModel` with the authors' reward conditioning.

pub mod attention;
pub mod blocks;
pub mod config;
pub mod embeddings;
pub mod resnet;
pub mod reward;
#[allow(clippy::module_inception)]
pub mod unet;

pub use config::{DownBlockType, PerBlock, UNet2DConditionConfig, UpBlockType};
pub use reward::{RewardConditioning, RewardConditioningConfig, RewardInputs};
pub use unet::UNet2DConditionModel;
