//! Freshly initialised editors (random weights) for tests, benchmarks and `rewardedit model
//! init`: the world's pixel-space editor at any UNet size, a tiny preset, and an SD 1.5-size
//! latent editor.

use std::path::Path;

use burn::prelude::*;
use rewardedit_core::Vocab;

use super::editor::{Editor, EditorConfig};
use super::space::{ImageSpace, SpaceKind};
use super::text::PromptEncoder;
use crate::schedulers::NoiseScheduleConfig;
use crate::text::world::{WorldTextConfig, WorldTextEncoder};
use crate::text::{CLIPTextConfig, CLIPTextModel, ClipTokenizer};
use crate::vae::{AutoencoderKL, AutoencoderKLConfig};
use crate::unet::{DownBlockType, PerBlock, RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel, UpBlockType};
use crate::Result;

/// The tiny world editor's UNet: pixel space (3 noisy + 3 source channels), blocks 16/32, one
/// ResNet per block, cross-attention 32 wide.
pub fn world_tiny_unet() -> UNet2DConditionConfig {
    UNet2DConditionConfig {
        in_channels: 6,
        out_channels: 3,
        block_out_channels: vec![16, 32],
        layers_per_block: PerBlock::All(1),
        down_block_types: vec![DownBlockType::CrossAttnDownBlock2D, DownBlockType::DownBlock2D],
        up_block_types: vec![UpBlockType::UpBlock2D, UpBlockType::CrossAttnUpBlock2D],
        attention_head_dim: PerBlock::All(2),
        cross_attention_dim: 32,
        norm_num_groups: 8,
        ..UNet2DConditionConfig::default()
    }
}

/// A world text encoder sized for `unet` (width = its `cross_attention_dim`) over `vocab`.
pub fn world_text_for(unet: &UNet2DConditionConfig, vocab: &Vocab) -> WorldTextConfig {
    let dim = unet.cross_attention_dim;
    let heads = [4, 2, 1].into_iter().find(|h| dim.is_multiple_of(*h)).unwrap_or(1);
    WorldTextConfig { dim, layers: 1, heads, max_tokens: 24, vocab_size: vocab.size() }
}

/// A pixel-space world editor with random weights; `reward` adds the reward modules.
pub fn world_editor(unet_config: UNet2DConditionConfig, vocab: Vocab, reward: Option<&RewardConditioningConfig>, device: &Device) -> Result<Editor> {
    let text_config = world_text_for(&unet_config, &vocab);
    let unet = UNet2DConditionModel::new(&unet_config, reward, device)?;
    let encoder = WorldTextEncoder::new(&text_config, device)?;
    Editor::new(
        unet,
        unet_config,
        PromptEncoder::World { encoder, vocab },
        ImageSpace::Pixel,
        NoiseScheduleConfig::default(),
        EditorConfig { space: SpaceKind::Pixel, resolution_multiple: None, defaults: Default::default(), reward_text: None },
    )
}

/// An SD 1.5 InstructPix2Pix-size latent editor with random weights (diffusers' default UNet,
/// CLIP ViT-L/14 text encoder and VAE configs; `reward` adds the reward modules) and the CLIP
/// tokenizer of `tokenizer_dir` (`vocab.json` + `merges.txt`; any CLIP BPE vocabulary, e.g. the
/// golden tiny one, since only its ids below 49,408 are read): for timing SD-size training and
/// editing on a GPU where the real weights are not at hand.
pub fn sd15_editor(tokenizer_dir: &Path, reward: Option<&RewardConditioningConfig>, device: &Device) -> Result<Editor> {
    let unet_config = UNet2DConditionConfig::default();
    let text_config = CLIPTextConfig::default();
    let vae_config = AutoencoderKLConfig::default();
    let text = PromptEncoder::Clip {
        model: CLIPTextModel::new(&text_config, device)?,
        config: text_config,
        tokenizer: ClipTokenizer::from_dir(tokenizer_dir)?,
        tokenizer_dir: tokenizer_dir.to_path_buf(),
    };
    let space = ImageSpace::Latent { vae: AutoencoderKL::new(&vae_config, device)?, config: vae_config };
    // The default schedule is SD's (scaled-linear betas 0.00085 to 0.012, epsilon).
    Editor::new(
        UNet2DConditionModel::new(&unet_config, reward, device)?,
        unet_config,
        text,
        space,
        NoiseScheduleConfig::default(),
        EditorConfig { space: SpaceKind::Latent, resolution_multiple: None, defaults: Default::default(), reward_text: None },
    )
}
