//! Text encoders: SD 1.5's CLIP text encoder with its BPE tokenizer (and, beside it, the small
//! word-level encoder of the edit world).

pub mod clip;
pub mod clip_config;
pub mod tokenizer;

use burn::prelude::*;

pub use clip::CLIPTextModel;
pub use clip_config::{CLIPTextConfig, HiddenAct};
pub use tokenizer::ClipTokenizer;

/// What a text encoder gives the editor for a batch of prompts.
#[derive(Debug, Clone)]
pub struct TextEmbedding {
    /// Per-token states `[B, T, D]`: the UNet's cross-attention context.
    pub hidden: Tensor<3>,
    /// One vector per prompt `[B, D]` (CLIP: the final state at the end-of-text token): the
    /// reward text's embedding in the authors' UNet.
    pub pooled: Tensor<2>,
}
