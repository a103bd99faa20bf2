//! Freshly initialised editors (random weights) for tests, benchmarks and `rewardedit model
//! init`: the world's pixel-space editor at any UNet size, and a tiny preset.

use burn::prelude::*;
use rewardedit_core::Vocab;

use super::editor::{Editor, EditorConfig};
use super::space::{ImageSpace, SpaceKind};
use super::text::PromptEncoder;
use crate::schedulers::NoiseScheduleConfig;
use crate::text::world::{WorldTextConfig, WorldTextEncoder};
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
    let heads = [4, 2, 1].into_iter().find(|h| dim % h == 0).unwrap_or(1);
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
        EditorConfig { space: SpaceKind::Pixel, resolution_multiple: None, defaults: Default::default() },
    )
}
