//! transformers' `CLIPTextModel` (SD 1.5's text encoder): token + position embeddings,
//! pre-LayerNorm transformer layers with causal self-attention, final LayerNorm; the pooled
//! output is the final state at the end-of-text token.
//!
//! Module names are those of `text_encoder/model.safetensors` as SD 1.5 publishes it
//! (`text_model.embeddings.token_embedding.weight`, ...). transformers 5 writes the same keys
//! without the `text_model.` prefix; [`CheckpointKeys`] accepts both.

use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid};

use super::clip_config::{CLIPTextConfig, HiddenAct};
use super::TextEmbedding;
use crate::store::{CheckpointKeys, Remap};
use crate::unet::attention::multi_head_attention;
use crate::{ModelError, Result};

/// `CLIPTextEmbeddings`.
#[derive(Module, Debug)]
pub struct CLIPTextEmbeddings {
    /// `[vocab_size, hidden_size]`.
    pub token_embedding: Embedding,
    /// `[max_position_embeddings, hidden_size]`.
    pub position_embedding: Embedding,
}

/// `CLIPAttention`: biased q/k/v/out projections, scale `1/sqrt(head_dim)`.
#[derive(Module, Debug)]
pub struct CLIPAttention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub out_proj: Linear,
    pub heads: usize,
}

impl CLIPAttention {
    /// Causal self-attention over `[B, T, D]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let q = self.q_proj.forward(x.clone());
        let k = self.k_proj.forward(x.clone());
        let v = self.v_proj.forward(x);
        self.out_proj.forward(multi_head_attention(q, k, v, self.heads, true))
    }
}

/// `CLIPMLP`: `fc2(act(fc1(x)))`.
#[derive(Module, Debug)]
pub struct CLIPMLP {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub act: HiddenAct,
}

impl CLIPMLP {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.fc1.forward(x);
        let h = match self.act {
            HiddenAct::QuickGelu => h.clone() * sigmoid(h * 1.702),
            HiddenAct::Gelu => gelu(h),
        };
        self.fc2.forward(h)
    }
}

/// `CLIPEncoderLayer`: pre-norm attention and MLP, each with a residual.
#[derive(Module, Debug)]
pub struct CLIPEncoderLayer {
    pub self_attn: CLIPAttention,
    pub layer_norm1: LayerNorm,
    pub mlp: CLIPMLP,
    pub layer_norm2: LayerNorm,
}

impl CLIPEncoderLayer {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.self_attn.forward(self.layer_norm1.forward(x.clone())) + x;
        self.mlp.forward(self.layer_norm2.forward(x.clone())) + x
    }
}

/// `CLIPEncoder`.
#[derive(Module, Debug)]
pub struct CLIPEncoder {
    pub layers: Vec<CLIPEncoderLayer>,
}

/// `CLIPTextTransformer`.
#[derive(Module, Debug)]
pub struct CLIPTextTransformer {
    pub embeddings: CLIPTextEmbeddings,
    pub encoder: CLIPEncoder,
    pub final_layer_norm: LayerNorm,
}

/// `CLIPTextModel` (no projection head).
#[derive(Module, Debug)]
pub struct CLIPTextModel {
    pub text_model: CLIPTextTransformer,
    /// See [`CLIPTextConfig::eos_token_id`].
    pub eos_token_id: usize,
    pub vocab_size: usize,
    pub max_positions: usize,
}

/// transformers 5 saves `embeddings.*`, `encoder.*`, `final_layer_norm.*` at the top level;
/// SD 1.5 (and we) keep them under `text_model.`.
impl CheckpointKeys for CLIPTextModel {
    const LOAD_REMAP: &'static [Remap] = &[(r"^(embeddings|encoder|final_layer_norm)\.", "text_model.$1.")];
    const SAVE_REMAP: &'static [Remap] = &[];
}

impl CLIPTextModel {
    pub fn new(config: &CLIPTextConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let d = config.hidden_size;
        let ln = || LayerNormConfig::new(d).with_epsilon(config.layer_norm_eps).init(device);
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let layers = (0..config.num_hidden_layers)
            .map(|_| CLIPEncoderLayer {
                self_attn: CLIPAttention {
                    q_proj: linear(d, d),
                    k_proj: linear(d, d),
                    v_proj: linear(d, d),
                    out_proj: linear(d, d),
                    heads: config.num_attention_heads,
                },
                layer_norm1: ln(),
                mlp: CLIPMLP {
                    fc1: linear(d, config.intermediate_size),
                    fc2: linear(config.intermediate_size, d),
                    act: config.hidden_act,
                },
                layer_norm2: ln(),
            })
            .collect();
        Ok(Self {
            text_model: CLIPTextTransformer {
                embeddings: CLIPTextEmbeddings {
                    token_embedding: EmbeddingConfig::new(config.vocab_size, d).init(device),
                    position_embedding: EmbeddingConfig::new(config.max_position_embeddings, d).init(device),
                },
                encoder: CLIPEncoder { layers },
                final_layer_norm: ln(),
            },
            eos_token_id: config.eos_token_id,
            vocab_size: config.vocab_size,
            max_positions: config.max_position_embeddings,
        })
    }

    /// Encodes token ids `[B, T]` (T at most `max_position_embeddings`; SD pads to 77) into
    /// the final states `[B, T, D]` and the pooled states `[B, D]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Result<TextEmbedding> {
        let [b, t] = ids.dims();
        if t == 0 || t > self.max_positions {
            return Err(ModelError::InvalidInput(format!("{t} tokens per prompt; the text encoder takes 1 to {}", self.max_positions)));
        }
        let host: Vec<i64> = ids.to_data().iter::<i64>().collect();
        if let Some(bad) = host.iter().find(|&&id| id < 0 || id as usize >= self.vocab_size) {
            return Err(ModelError::InvalidInput(format!("token id {bad} is outside the vocabulary of {}", self.vocab_size)));
        }
        let device = ids.device();
        let tm = &self.text_model;
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]);
        let x = tm.embeddings.token_embedding.forward(ids) + tm.embeddings.position_embedding.forward(positions);
        let x = tm.encoder.layers.iter().fold(x, |x, layer| layer.forward(x));
        let hidden = tm.final_layer_norm.forward(x);

        let [_, _, d] = hidden.dims();
        let rows = (0..b)
            .map(|r| {
                let p = self.eos_position(&host[r * t..(r + 1) * t]);
                hidden.clone().slice([r..r + 1, p..p + 1, 0..d]).reshape([1, d])
            })
            .collect();
        Ok(TextEmbedding { hidden, pooled: Tensor::cat(rows, 0) })
    }

    /// Where the pooled state is read in one row of ids (transformers' `CLIPTextTransformer`):
    /// the first highest id for the legacy `eos_token_id == 2`, else the first `eos_token_id`
    /// (position 0 if absent).
    fn eos_position(&self, row: &[i64]) -> usize {
        if self.eos_token_id == 2 {
            let max = row.iter().copied().max().unwrap_or(0);
            row.iter().position(|&id| id == max).unwrap_or(0)
        } else {
            row.iter().position(|&id| id == self.eos_token_id as i64).unwrap_or(0)
        }
    }
}
