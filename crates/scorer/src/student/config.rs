//! The student network's shape (architecture.md rule 4: one config per concern). Saved as
//! `config.json` beside the weights, vocabulary included, so a student folder is self-contained.

use serde::{Deserialize, Serialize};

use super::tokenizer::Vocab;
use super::StudentError;

/// Version of the network layout a `config.json` describes. 1: the plain FiLM CNN (before
/// 2026-11-27 02:30 UTC); 2: residual blocks with GroupNorm and instruction cross-attention. A
/// folder of another version cannot be loaded: its weights name other tensors.
pub const CONFIG_VERSION: u32 = 2;

fn version_1() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn check_version(version: u32) -> Result<(), StudentError> {
    if version == CONFIG_VERSION {
        return Ok(());
    }
    Err(StudentError::Config(format!(
        "student config version {version} cannot be loaded by this build, which reads version {CONFIG_VERSION} \
         (the network layout changed); retrain it with `rewardedit distill-scorer`"
    )))
}

/// The version field alone, read before the rest so an older layout gets a version error rather
/// than a missing-field one.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default = "version_1")]
    version: u32,
}

/// Shape of a [`StudentNet`](super::StudentNet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// Network layout version (see [`CONFIG_VERSION`]); folders written before versions were
    /// recorded are version 1.
    #[serde(default = "version_1")]
    pub version: u32,
    /// Side of the square images the network sees, in pixels; inputs are resized to it.
    pub resolution: u32,
    /// Output channels of the convolution stages: the first keeps the resolution, each later one
    /// halves it (stride 2).
    pub channels: Vec<usize>,
    /// Residual blocks per stage.
    pub blocks: usize,
    /// GroupNorm groups (must divide every stage's channels).
    pub groups: usize,
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
    /// Predict where the instruction allows change (the last stage's positions) and pool the
    /// image features inside and outside that region for the head: following is about the
    /// inside, preservation about the outside. Trained on the world's edit masks.
    #[serde(default)]
    pub mask_head: bool,
    /// With `mask_head`: give the head the features pooled inside and outside the predicted
    /// region (`true`), or train the region only as an auxiliary task of the backbone (`false`).
    #[serde(default = "yes")]
    pub mask_pool: bool,
    /// Give every residual block a cross-attention from its image positions to the
    /// instruction's words, at every resolution: each position gathers the words about it
    /// ("the red circle" at the circle's pixels), where FiLM only rescales whole channels by the
    /// mean of the words. Folders written before it existed have none.
    #[serde(default)]
    pub block_attention: bool,
    /// Self-attention layers over the last stage's positions and the instruction's words
    /// together (a small ViT on the CNN's grid), before the head: a position can compare itself
    /// with every other, which whole-image edits need (was one consistent change applied
    /// everywhere, with the content kept?), and with the words. Folders written before it
    /// existed have none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fusion_layers: usize,
    /// The word vocabulary (built from the training instructions).
    pub vocab: Vocab,
}

/// For `skip_serializing_if`: fields at their zero default stay out of written files, so files
/// written before the field existed read back unchanged.
pub(super) fn is_zero<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
}

/// The network-shape fields of a recipe, before the vocabulary is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkShape {
    /// See [`StudentConfig::resolution`].
    pub resolution: u32,
    /// See [`StudentConfig::channels`].
    pub channels: Vec<usize>,
    /// See [`StudentConfig::blocks`].
    pub blocks: usize,
    /// See [`StudentConfig::groups`].
    pub groups: usize,
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
    /// See [`StudentConfig::mask_head`].
    pub mask_head: bool,
    /// See [`StudentConfig::mask_pool`].
    pub mask_pool: bool,
    /// See [`StudentConfig::block_attention`].
    pub block_attention: bool,
    /// See [`StudentConfig::fusion_layers`] (left out of resolved recipes at 0, so runs from
    /// before it resume).
    #[serde(skip_serializing_if = "is_zero")]
    pub fusion_layers: usize,
}

impl Default for NetworkShape {
    fn default() -> Self {
        NetworkShape {
            resolution: 32,
            channels: vec![32, 64, 128],
            blocks: 1,
            groups: 8,
            text_dim: 64,
            text_layers: 2,
            text_heads: 4,
            max_tokens: 16,
            hidden: 128,
            score_margin: 0.25,
            mask_head: false,
            mask_pool: true,
            block_attention: false,
            fusion_layers: 0,
        }
    }
}

impl NetworkShape {
    /// The full config with `vocab`, validated.
    pub fn with_vocab(&self, vocab: Vocab) -> Result<StudentConfig, StudentError> {
        let c = StudentConfig {
            version: CONFIG_VERSION,
            resolution: self.resolution,
            channels: self.channels.clone(),
            blocks: self.blocks,
            groups: self.groups,
            text_dim: self.text_dim,
            text_layers: self.text_layers,
            text_heads: self.text_heads,
            max_tokens: self.max_tokens,
            hidden: self.hidden,
            score_margin: self.score_margin,
            mask_head: self.mask_head,
            mask_pool: self.mask_pool,
            block_attention: self.block_attention,
            fusion_layers: self.fusion_layers,
            vocab,
        };
        c.validate()?;
        Ok(c)
    }
}

impl StudentConfig {
    /// Parses and validates a `config.json`; a layout version other than [`CONFIG_VERSION`] is
    /// a [`StudentError::Config`] naming both versions.
    pub fn from_json(text: &str) -> Result<StudentConfig, String> {
        let v: VersionOnly = serde_json::from_str(text).map_err(|e| e.to_string())?;
        check_version(v.version).map_err(|e| e.to_string())?;
        let config: StudentConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), StudentError> {
        let bad = |m: String| Err(StudentError::Config(m));
        check_version(self.version)?;
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad(format!("channels {:?} must be non-empty and positive", self.channels));
        }
        let down = 1u32 << (self.channels.len() - 1).min(31);
        if self.resolution < 8 || !self.resolution.is_multiple_of(down) {
            return bad(format!(
                "resolution {} must be at least 8 and divisible by {down} ({} stride-2 stages)",
                self.resolution,
                self.channels.len() - 1
            ));
        }
        if self.blocks == 0 || self.groups == 0 || self.channels.iter().any(|c| c % self.groups != 0) {
            return bad(format!("blocks {} and groups {} must be positive, and groups must divide channels {:?}", self.blocks, self.groups, self.channels));
        }
        if self.text_dim == 0 || self.text_heads == 0 || !self.text_dim.is_multiple_of(self.text_heads) {
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
