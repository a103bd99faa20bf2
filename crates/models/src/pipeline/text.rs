//! One interface over the editor's text encoders: prompts in, [`TextEmbedding`] out. The UNet's
//! cross-attention reads `hidden`; the reward module reads `pooled` of the reward (flaw) text.

use burn::prelude::*;
use rewardedit_core::Vocab;

use crate::text::world::WorldTextEncoder;
use crate::text::TextEmbedding;

/// The text encoder of an editor with its tokenizer.
#[derive(Debug)]
pub enum PromptEncoder {
    /// The world editor's word-level encoder and vocabulary (pixel-space world editors).
    World { encoder: WorldTextEncoder, vocab: Vocab },
}

impl PromptEncoder {
    /// Encodes `prompts` (one row each) on `device`.
    pub fn encode(&self, prompts: &[&str], device: &Device) -> TextEmbedding {
        match self {
            PromptEncoder::World { encoder, vocab } => encoder.encode(vocab, prompts, device),
        }
    }

    /// Width of the embeddings (must equal the UNet's `cross_attention_dim`).
    pub fn dim(&self) -> usize {
        match self {
            PromptEncoder::World { encoder, .. } => encoder.start_token.dims()[1],
        }
    }

    /// A short name for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            PromptEncoder::World { .. } => "world (word-level)",
        }
    }
}
