//! `CLIPTextConfig`: the fields of transformers' `text_encoder/config.json` (class
//! `CLIPTextConfig`). Defaults are SD 1.5's text encoder (OpenAI CLIP ViT-L/14).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// The MLP's activation (transformers' `ACT2FN` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HiddenAct {
    /// `x * sigmoid(1.702 x)` (OpenAI CLIP, SD 1.5).
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    /// Exact (erf) GELU (OpenCLIP models, SD 2).
    #[serde(rename = "gelu")]
    Gelu,
}

fn d_vocab() -> usize { 49408 }
fn d_hidden() -> usize { 768 }
fn d_inter() -> usize { 3072 }
fn d_layers() -> usize { 12 }
fn d_heads() -> usize { 12 }
fn d_positions() -> usize { 77 }
fn d_act() -> HiddenAct { HiddenAct::QuickGelu }
fn d_eps() -> f64 { 1e-5 }
fn d_eos() -> usize { 2 }

/// The text encoder's architecture. Unknown JSON fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CLIPTextConfig {
    /// Tokens in the vocabulary (rows of `token_embedding`; SD 1.5: 49408).
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    /// Width of every token state (SD 1.5: 768 = the UNet's `cross_attention_dim`).
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    /// Width of the MLP's hidden layer (SD 1.5: 3072).
    #[serde(default = "d_inter")]
    pub intermediate_size: usize,
    /// Transformer layers (SD 1.5: 12).
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads per layer; `hidden_size` must divide by it (SD 1.5: 12).
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    /// Longest token sequence, also the rows of `position_embedding` (77).
    #[serde(default = "d_positions")]
    pub max_position_embeddings: usize,
    /// Activation of the MLP.
    #[serde(default = "d_act")]
    pub hidden_act: HiddenAct,
    /// Epsilon of every LayerNorm.
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    /// End-of-text token for pooling. The legacy value 2 (SD 1.5's config) means "the
    /// highest id in the row", which is the end-of-text token of OpenAI's vocabulary; any other
    /// value is looked up (first occurrence), as transformers' `CLIPTextTransformer` does.
    #[serde(default = "d_eos")]
    pub eos_token_id: usize,
}

impl Default for CLIPTextConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

impl CLIPTextConfig {
    /// Parses `text_encoder/config.json` and validates it.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let cfg: Self =
            serde_json::from_str(json).map_err(|e| ModelError::InvalidConfig(format!("text encoder config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates `text_encoder/config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::error::read_config_file(path.as_ref(), Self::from_json_str)
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "text encoder hidden_size = {} is not divisible by num_attention_heads = {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.vocab_size == 0 || self.max_position_embeddings == 0 {
            return bad("text encoder vocab_size and max_position_embeddings must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd15_text_encoder_config_parses() {
        // runwayml/stable-diffusion-v1-5 text_encoder/config.json (abridged to the fields read).
        let json = r#"{"architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0,
          "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768,
          "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072,
          "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "model_type": "clip_text_model",
          "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768,
          "torch_dtype": "float32", "vocab_size": 49408}"#;
        assert_eq!(CLIPTextConfig::from_json_str(json).unwrap(), CLIPTextConfig::default());
        let err = CLIPTextConfig::from_json_str(r#"{"hidden_act": "relu"}"#).unwrap_err();
        assert!(err.to_string().contains("relu"), "{err}");
        let err = CLIPTextConfig::from_json_str(r#"{"num_attention_heads": 5}"#).unwrap_err();
        assert!(err.to_string().contains("num_attention_heads"), "{err}");
    }
}
