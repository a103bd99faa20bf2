//! The world editor's prompt encoder: word embeddings + learned positions, a few pre-norm
//! self-attention layers (bidirectional, padding masked), and a learned start token whose output
//! is the pooled embedding (BERT's `[CLS]` pattern). It stands in for CLIP at world scale: the
//! vocabulary is the world's words ([`Vocab`]), built from the training texts.

use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::{Distribution, Int};
use rewardedit_core::vocab::{Vocab, PAD};
use serde::{Deserialize, Serialize};

use super::TextEmbedding;
use crate::store::{CheckpointKeys, Remap};

/// Shape of the world text encoder (saved as `text_encoder/config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldTextConfig {
    /// Width of every token state; must equal the UNet's `cross_attention_dim`.
    pub dim: usize,
    /// Self-attention layers.
    pub layers: usize,
    /// Attention heads per layer (must divide `dim`).
    pub heads: usize,
    /// Words read per prompt; longer prompts are cut. The start token comes on top, so the
    /// hidden states are `max_tokens + 1` long.
    pub max_tokens: usize,
    /// Embedding rows: the vocabulary's [`Vocab::size`].
    pub vocab_size: usize,
}

impl WorldTextConfig {
    /// Checks the shape; the message says which field to fix.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |msg: String| Err(crate::ModelError::InvalidConfig(msg));
        if self.dim == 0 || self.layers == 0 || self.max_tokens == 0 || self.vocab_size < 2 {
            return bad(format!("world text encoder: dim, layers, max_tokens must be > 0 and vocab_size >= 2, got {self:?}"));
        }
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return bad(format!("world text encoder: heads ({}) must divide dim ({})", self.heads, self.dim));
        }
        Ok(())
    }
}

/// Ours, so module paths are the file keys.
impl CheckpointKeys for WorldTextEncoder {
    const LOAD_REMAP: &'static [Remap] = &[];
    const SAVE_REMAP: &'static [Remap] = &[];
}

/// The encoder; build it with [`WorldTextEncoder::new`].
#[derive(Module, Debug)]
pub struct WorldTextEncoder {
    pub token_embedding: Embedding,
    pub position_embedding: Embedding,
    /// Learned start token `[1, dim]`, prepended to every prompt; its output is the pooled vector.
    pub start_token: Param<Tensor<2>>,
    pub encoder: TransformerEncoder,
    pub final_layer_norm: LayerNorm,
    pub max_tokens: usize,
}

impl WorldTextEncoder {
    pub fn new(config: &WorldTextConfig, device: &Device) -> crate::Result<Self> {
        config.validate()?;
        let d = config.dim;
        Ok(Self {
            token_embedding: EmbeddingConfig::new(config.vocab_size, d).init(device),
            position_embedding: EmbeddingConfig::new(config.max_tokens + 1, d).init(device),
            start_token: Param::from_tensor(Tensor::random([1, d], Distribution::Normal(0.0, 0.02), device)),
            encoder: TransformerEncoderConfig::new(d, 4 * d, config.heads, config.layers)
                .with_dropout(0.0)
                .with_norm_first(true)
                .init(device),
            final_layer_norm: LayerNormConfig::new(d).init(device),
            max_tokens: config.max_tokens,
        })
    }

    /// Token ids `[B, max_tokens]` of `prompts` (unknown words -> UNK, padded with PAD).
    pub fn tokenize(&self, vocab: &Vocab, prompts: &[&str], device: &Device) -> Tensor<2, Int> {
        let ids: Vec<i64> = prompts.iter().flat_map(|p| vocab.encode(p, self.max_tokens)).map(|i| i as i64).collect();
        Tensor::<1, Int>::from_data(TensorData::new(ids, [prompts.len() * self.max_tokens]), device)
            .reshape([prompts.len(), self.max_tokens])
    }

    /// Hidden states `[B, max_tokens + 1, dim]` (start token first) and pooled `[B, dim]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> TextEmbedding {
        let [b, l] = ids.dims();
        let device = ids.device();
        let pad = ids.clone().equal_elem(PAD as i64);
        let start_pad = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; b], [b, 1]), &device);
        let mask_pad = Tensor::cat(vec![start_pad, pad], 1);
        let d = self.start_token.dims()[1];
        let start = self.start_token.val().reshape([1, 1, d]).expand([b, 1, d]);
        let tokens = Tensor::cat(vec![start, self.token_embedding.forward(ids)], 1);
        let positions = Tensor::<1, Int>::arange(0..(l as i64 + 1), &device).reshape([1, l + 1]);
        let x = tokens + self.position_embedding.forward(positions);
        let x = self.encoder.forward(TransformerEncoderInput::new(x).mask_pad(mask_pad));
        let hidden = self.final_layer_norm.forward(x);
        let pooled = hidden.clone().slice([0..b, 0..1, 0..d]).reshape([b, d]);
        TextEmbedding { hidden, pooled }
    }

    /// Tokenises and encodes in one call.
    pub fn encode(&self, vocab: &Vocab, prompts: &[&str], device: &Device) -> TextEmbedding {
        self.forward(self.tokenize(vocab, prompts, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (WorldTextEncoder, Vocab, Device) {
        let device = Device::flex();
        let vocab = Vocab::build(["make the red circle blue", "remove the star"]);
        let config = WorldTextConfig { dim: 16, layers: 1, heads: 2, max_tokens: 6, vocab_size: vocab.size() };
        (WorldTextEncoder::new(&config, &device).unwrap(), vocab, device)
    }

    #[test]
    fn shapes_and_padding_invariance() {
        let (enc, vocab, device) = tiny();
        let out = enc.encode(&vocab, &["make the red circle blue", "remove the star", ""], &device);
        assert_eq!(out.hidden.dims(), [3, 7, 16]);
        assert_eq!(out.pooled.dims(), [3, 16]);
        // Padding is masked: the pooled vector of a prompt does not depend on what else is in
        // the batch, and different prompts give different vectors.
        let alone = enc.encode(&vocab, &["remove the star"], &device).pooled;
        let diff = (out.pooled.clone().slice([1..2, 0..16]) - alone).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "batch-dependent pooled output: {diff}");
        let apart = (out.pooled.clone().slice([0..1, 0..16]) - out.pooled.slice([1..2, 0..16])).abs().max().into_scalar::<f32>();
        assert!(apart > 1e-3);
    }

    #[test]
    fn rejects_bad_heads() {
        let c = WorldTextConfig { dim: 10, layers: 1, heads: 3, max_tokens: 4, vocab_size: 5 };
        assert!(WorldTextEncoder::new(&c, &Device::flex()).is_err());
    }
}
