//! One interface over the editor's text encoders: prompts in, [`TextEmbedding`] out. The UNet's
//! cross-attention reads `hidden`; the reward module reads `pooled` of the reward (flaw) text.

use std::path::PathBuf;

use burn::prelude::*;
use rewardedit_core::Vocab;

use crate::text::world::WorldTextEncoder;
use crate::text::{CLIPTextConfig, CLIPTextModel, ClipTokenizer, TextEmbedding};
use crate::Result;

/// The text encoder of an editor with its tokenizer.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per editor: boxing CLIP would only add a deref
pub enum PromptEncoder {
    /// The world editor's word-level encoder and vocabulary (pixel-space world editors).
    World { encoder: WorldTextEncoder, vocab: Vocab },
    /// SD 1.5's CLIP text encoder with its BPE tokenizer; `tokenizer_dir` is the folder the
    /// tokenizer files were read from (copied on save).
    Clip { model: CLIPTextModel, config: CLIPTextConfig, tokenizer: ClipTokenizer, tokenizer_dir: PathBuf },
}

impl PromptEncoder {
    /// Encodes `prompts` (one row each) on `device`.
    pub fn encode(&self, prompts: &[&str], device: &Device) -> Result<TextEmbedding> {
        match self {
            PromptEncoder::World { encoder, vocab } => Ok(encoder.encode(vocab, prompts, device)),
            PromptEncoder::Clip { model, tokenizer, .. } => model.forward(tokenizer.encode_batch(prompts, device)?),
        }
    }

    /// Width of the embeddings (must equal the UNet's `cross_attention_dim`).
    pub fn dim(&self) -> usize {
        match self {
            PromptEncoder::World { encoder, .. } => encoder.start_token.dims()[1],
            PromptEncoder::Clip { config, .. } => config.hidden_size,
        }
    }

    /// A short name for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            PromptEncoder::World { .. } => "world (word-level)",
            PromptEncoder::Clip { .. } => "CLIP (BPE)",
        }
    }
}
