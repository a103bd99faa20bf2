//! Text conditioning: what the UNet's cross-attention and the reward module read. The SD 1.5
//! editor uses CLIP's text encoder; the world editor a small word-level encoder ([`world`]).

pub mod world;

use burn::prelude::*;

/// Encoded prompts, the common output of every text encoder.
#[derive(Debug, Clone)]
pub struct TextEmbedding {
    /// Per-token states `[B, L, D]` (the UNet's `encoder_hidden_states`).
    pub hidden: Tensor<3>,
    /// One vector per prompt `[B, D]` (the reward module's pooled reward-text embedding).
    pub pooled: Tensor<2>,
}

impl TextEmbedding {
    /// Rows of `self` followed by rows of `other` (both must have the same `L` and `D`).
    pub fn cat(self, other: TextEmbedding) -> TextEmbedding {
        TextEmbedding {
            hidden: Tensor::cat(vec![self.hidden, other.hidden], 0),
            pooled: Tensor::cat(vec![self.pooled, other.pooled], 0),
        }
    }
}
