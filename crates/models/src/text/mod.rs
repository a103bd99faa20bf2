//! Text encoders: SD 1.5's CLIP text encoder with its BPE tokenizer, and the small word-level
//! encoder of the edit world ([`world`]).

pub mod clip;
pub mod clip_config;
pub mod tokenizer;
pub mod world;

use burn::prelude::*;

pub use clip::CLIPTextModel;
pub use clip_config::{CLIPTextConfig, HiddenAct};
pub use tokenizer::ClipTokenizer;

/// What a text encoder gives the editor for a batch of prompts.
#[derive(Debug, Clone)]
pub struct TextEmbedding {
    /// Per-token states `[B, T, D]`: the UNet's cross-attention context.
    pub hidden: Tensor<3>,
    /// One vector per prompt `[B, D]` (CLIP: the final state at the end-of-text token; the
    /// world encoder: its start token): the reward text's embedding in the authors' UNet.
    pub pooled: Tensor<2>,
}

impl TextEmbedding {
    /// Rows of `self` followed by rows of `other` (both must have the same `T` and `D`).
    pub fn cat(self, other: TextEmbedding) -> TextEmbedding {
        TextEmbedding {
            hidden: Tensor::cat(vec![self.hidden, other.hidden], 0),
            pooled: Tensor::cat(vec![self.pooled, other.pooled], 0),
        }
    }
}
