//! The student network's shape (architecture.md rule 4: one config per concern). Saved as
//! `config.json` beside the weights, vocabulary included, so a student folder is self-contained.

use serde::{Deserialize, Serialize};

use super::tokenizer::Vocab;
use super::StudentError;

/// Shape of a [`StudentNet`](super::StudentNet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// Side of the square images the network sees, in pixels; inputs are resized to it.
    pub resolution: u32,
    /// Output channels of the convolution stages: the first keeps the resolution, each later one
    /// halves it (stride 2).
    pub channels: Vec<usize>,
    /// Width of the instruction encoder (token embeddings and attention), in features.
    pub text_dim: usize,
    /// Self-attention layers of the instruction encoder.
    pub text_layers: usize,
    /// Attention heads per layer (must divide `text_dim`).
    pub text_heads: usize,
    /// Instruction length the encoder reads, in words; longer instructions are cut.
    pub max_tokens: usize,
    /// Width of the hidden layer of the output head, in features.
    pub hidden: usize,
    /// Overshoot of the score head, in score points: scores are `(5 + 2m) * sigmoid(z) - m`
    /// clamped to [0, 5], so a clean edit can score exactly 5 (and a failed one exactly 0), as
    /// the teacher's do; 0 gives the plain `5 * sigmoid(z)`, which only approaches the ends.
    #[serde(default)]
    pub score_margin: f32,
    /// The word vocabulary (built from the training instructions).
    pub vocab: Vocab,
}

/// The network-shape fields of a recipe, before the vocabulary is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkShape {
    /// See [`StudentConfig::resolution`].
    pub resolution: u32,
    /// See [`StudentConfig::channels`].
    pub channels: Vec<usize>,
    /// See [`StudentConfig::text_dim`].
    pub text_dim: usize,
    /// See [`StudentConfig::text_layers`].
    pub text_layers: usize,
    /// See [`StudentConfig::text_heads`].
    pub text_heads: usize,
    /// See [`StudentConfig::max_tokens`].
    pub max_tokens: usize,
    /// See [`StudentConfig::hidden`].
    pub hidden: usize,
    /// See [`StudentConfig::score_margin`].
    pub score_margin: f32,
}

impl Default for NetworkShape {
    fn default() -> Self {
        NetworkShape {
            resolution: 32,
            channels: vec![32, 64, 96, 128],
            text_dim: 64,
            text_layers: 2,
            text_heads: 4,
            max_tokens: 16,
            hidden: 128,
            score_margin: 0.25,
        }
    }
}

impl NetworkShape {
    /// The full config with `vocab`, validated.
    pub fn with_vocab(&self, vocab: Vocab) -> Result<StudentConfig, StudentError> {
        let c = StudentConfig {
            resolution: self.resolution,
            channels: self.channels.clone(),
            text_dim: self.text_dim,
            text_layers: self.text_layers,
            text_heads: self.text_heads,
            max_tokens: self.max_tokens,
            hidden: self.hidden,
            score_margin: self.score_margin,
            vocab,
        };
        c.validate()?;
        Ok(c)
    }
}

impl StudentConfig {
    pub fn validate(&self) -> Result<(), StudentError> {
        let bad = |m: String| Err(StudentError::Config(m));
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad(format!("channels {:?} must be non-empty and positive", self.channels));
        }
        let down = 1u32 << (self.channels.len() - 1).min(31);
        if self.resolution < 8 || self.resolution % down != 0 {
            return bad(format!(
                "resolution {} must be at least 8 and divisible by {down} ({} stride-2 stages)",
                self.resolution,
                self.channels.len() - 1
            ));
        }
        if self.text_dim == 0 || self.text_heads == 0 || self.text_dim % self.text_heads != 0 {
            return bad(format!("text_heads {} must divide text_dim {}", self.text_heads, self.text_dim));
        }
        if !(0.0..=5.0).contains(&self.score_margin) {
            return bad(format!("score_margin {} must be in [0, 5] score points", self.score_margin));
        }
        if self.max_tokens == 0 || self.hidden == 0 {
            return bad("max_tokens and hidden must be positive".into());
        }
        Ok(())
    }
}
