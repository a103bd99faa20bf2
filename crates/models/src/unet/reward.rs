//! Reward conditioning of the authors' checkpoint (paper-notes.md, "How rewards enter the UNet";
//! official-checkpoint.md, module table and forward order), plus two additions of ours:
//! a learned null reward with dropout (architecture.md rule 8; a true "no reward" state for
//! reward guidance) and optional zero-initialised output projections, so attaching the module
//! to a trained editor leaves its output unchanged.
//!
//! Field names are the checkpoint's top-level names; the UNet keeps this module under `reward`,
//! and the loader maps `add_embedding.*` <-> `reward.add_embedding.*` etc. (see `crate::store`).
//! Sizes scale with the UNet config: width `W = block_out_channels[0]` (320 in SD 1.5), text
//! `D = cross_attention_dim` (768), time `T = 4 W` (1280); heads stay 8; each score's sinusoid
//! stays 256 wide.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{GroupNorm, GroupNormConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use burn::tensor::{Bool, Distribution};
use rewardedit_core::RewardCondition;
use serde::{Deserialize, Serialize};

use super::attention::{map_to_tokens, multi_head_attention, tokens_to_map};
use super::config::UNet2DConditionConfig;
use super::embeddings::{timestep_embedding, TimestepEmbedding};
use super::resnet::conv1x1;
use crate::fused::{conv2d, group_norm};

/// Width of one score's sinusoid (official-checkpoint.md: `add_time_proj`, 256 per score).
pub const SCORE_EMBED_DIM: usize = 256;
/// Number of reward axes (following, preservation, quality).
pub const NUM_SCORES: usize = 3;
/// Attention heads of the reward cross-attention, whatever the width.
pub const REWARD_HEADS: usize = 8;

/// Our options for the reward module; sizes come from the UNet config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardConditioningConfig {
    /// Start `proj_deal.proj_out`, `add_embedding.linear_2` and `text_linear2` at zero, so the
    /// module adds nothing until trained (the authors initialise randomly).
    #[serde(default)]
    pub zero_init: bool,
    /// Probability, per sample, of replacing the reward with the learned null reward during
    /// training ([`RewardConditioning::drop_rewards`]); 0 disables it. The authors never drop.
    #[serde(default)]
    pub null_dropout: f64,
}

impl Default for RewardConditioningConfig {
    fn default() -> Self {
        Self { zero_init: false, null_dropout: 0.0 }
    }
}

/// What the UNet is told about rewards, per batch row.
#[derive(Debug, Clone)]
pub struct RewardInputs {
    /// Scores `[B, 3]` (following, preservation, quality), each in `[0, 5]`.
    pub scores: Tensor<2>,
    /// Pooled text embedding of the reward (flaw) text `[B, D]`.
    pub pooled_text: Tensor<2>,
    /// Rows `[B]` that take the learned null reward instead (`None`: no row does).
    pub null: Option<Tensor<1, Bool>>,
}

impl RewardInputs {
    /// Rows from [`RewardCondition`]s: `Given` rows use their scores and the matching row of
    /// `pooled_text` (the caller encodes the texts); `Null` rows take the null reward, whatever
    /// their `pooled_text` row holds.
    pub fn from_conditions(conditions: &[RewardCondition], pooled_text: Tensor<2>) -> Self {
        let device = pooled_text.device();
        let n = conditions.len();
        let mut scores = Vec::with_capacity(n * NUM_SCORES);
        let mut null = Vec::with_capacity(n);
        for c in conditions {
            match c {
                RewardCondition::Null => {
                    scores.extend([0.0; NUM_SCORES]);
                    null.push(true);
                }
                RewardCondition::Given { scores: s, .. } => {
                    scores.extend(s);
                    null.push(false);
                }
            }
        }
        Self {
            scores: Tensor::from_data(TensorData::new(scores, [n, NUM_SCORES]), &device),
            pooled_text,
            null: Some(Tensor::from_data(TensorData::new(null, [n]), &device)),
        }
    }
}

/// The learned "no reward" state: replaces the score sinusoids and the pooled text, so it flows
/// through the same modules as a real reward. Starts at zero (distinct from every real reward,
/// whose sinusoids contain cosines of 1).
#[derive(Module, Debug)]
pub struct NullReward {
    /// Stands in for the concatenated score sinusoids `[3 * 256]`.
    pub scores: Param<Tensor<1>>,
    /// Stands in for the pooled reward-text embedding `[D]`.
    pub text: Param<Tensor<1>>,
}

/// `proj_deal`: GroupNorm (eps 1e-6) and 1x1 convolutions around the reward cross-attention.
#[derive(Module, Debug)]
pub struct ProjDeal {
    pub norm: GroupNorm,
    pub proj_in: Conv2d,
    pub proj_out: Conv2d,
}

/// BERT self-attention weights (checkpoint key `ca.attention.self`; `self` is a Rust keyword,
/// so the field is `self_` and the loader remaps).
#[derive(Module, Debug)]
pub struct BertSelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
}

/// Post-LayerNorm residual output (BERT's `BertSelfOutput` / `BertOutput`).
#[derive(Module, Debug)]
pub struct BertResidualOutput {
    pub dense: Linear,
    /// Checkpoint key `LayerNorm` (eps 1e-12); snake-cased here because burn's derive copies
    /// field names into local variables, which the non-snake-case lint flags; the loader remaps.
    pub layer_norm: LayerNorm,
}

impl BertResidualOutput {
    fn forward(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        self.layer_norm.forward(self.dense.forward(x) + residual)
    }
}

#[derive(Module, Debug)]
pub struct BertAttention {
    pub self_: BertSelfAttention,
    pub output: BertResidualOutput,
}

#[derive(Module, Debug)]
pub struct BertIntermediate {
    pub dense: Linear,
}

/// One BERT-style cross-attention layer (`ca`): attention with post-LayerNorm residual on the
/// query, then feed-forward (exact GELU) with post-LayerNorm residual.
#[derive(Module, Debug)]
pub struct BertCrossLayer {
    pub attention: BertAttention,
    pub hidden_intermediate: BertIntermediate,
    pub output: BertResidualOutput,
}

impl BertCrossLayer {
    fn new(width: usize, device: &Device) -> Self {
        let lin = || LinearConfig::new(width, width).init(device);
        let out = || BertResidualOutput {
            dense: lin(),
            layer_norm: LayerNormConfig::new(width).with_epsilon(1e-12).init(device),
        };
        Self {
            attention: BertAttention {
                self_: BertSelfAttention { query: lin(), key: lin(), value: lin() },
                output: out(),
            },
            hidden_intermediate: BertIntermediate { dense: lin() },
            output: out(),
        }
    }

    /// `tokens` `[B, N, W]` attend to `kv` `[B, M, W]`.
    pub fn forward(&self, tokens: Tensor<3>, kv: Tensor<3>) -> Tensor<3> {
        let s = &self.attention.self_;
        let ctx = multi_head_attention(
            s.query.forward(tokens.clone()),
            s.key.forward(kv.clone()),
            s.value.forward(kv),
            REWARD_HEADS,
            false,
        );
        let attended = self.attention.output.forward(ctx, tokens);
        let inter = gelu(self.hidden_intermediate.dense.forward(attended.clone()));
        self.output.forward(inter, attended)
    }
}

/// The reward modules of the authors' checkpoint plus our null reward.
#[derive(Module, Debug)]
pub struct RewardConditioning {
    /// Scores' sinusoids (768) -> time-embedding width, added to the time embedding.
    pub add_embedding: TimestepEmbedding,
    /// Scores' sinusoids (768) -> width: the reward token.
    pub add_embedding2: TimestepEmbedding,
    /// Pooled reward text -> width: the text token.
    pub text_linear: Linear,
    /// Pooled reward text -> time-embedding width, added to the time embedding.
    pub text_linear2: Linear,
    pub proj_deal: ProjDeal,
    pub ca: BertCrossLayer,
    pub null_reward: NullReward,
    /// Sinusoid settings, shared with the UNet's time projection.
    pub flip_sin_to_cos: bool,
    pub freq_shift: f64,
    /// See [`RewardConditioningConfig::null_dropout`].
    pub null_dropout: f64,
}

impl RewardConditioning {
    pub fn new(unet: &UNet2DConditionConfig, cfg: &RewardConditioningConfig, device: &Device) -> Self {
        let width = unet.block_out_channels[0];
        let temb = unet.time_embed_dim();
        let text = unet.cross_attention_dim;
        let scores = NUM_SCORES * SCORE_EMBED_DIM;
        let zero = |c: LinearConfig| if cfg.zero_init { c.with_initializer(Initializer::Zeros) } else { c };
        let proj_out = Conv2dConfig::new([width, width], [1, 1]);
        let proj_out = if cfg.zero_init { proj_out.with_initializer(Initializer::Zeros) } else { proj_out };
        Self {
            add_embedding: TimestepEmbedding::new(scores, temb, cfg.zero_init, device),
            add_embedding2: TimestepEmbedding::new(scores, width, false, device),
            text_linear: LinearConfig::new(text, width).init(device),
            text_linear2: zero(LinearConfig::new(text, temb)).init(device),
            proj_deal: ProjDeal {
                norm: GroupNormConfig::new(unet.norm_num_groups, width).with_epsilon(1e-6).init(device),
                proj_in: conv1x1(width, width, device),
                proj_out: proj_out.init(device),
            },
            ca: BertCrossLayer::new(width, device),
            null_reward: NullReward {
                scores: Initializer::Zeros.init([scores], device),
                text: Initializer::Zeros.init([text], device),
            },
            flip_sin_to_cos: unet.flip_sin_to_cos,
            freq_shift: unet.freq_shift,
            null_dropout: cfg.null_dropout,
        }
    }

    /// Training-time conditioning dropout (DiT's `token_drop`): marks each row null with
    /// probability `null_dropout`, drawing uniforms on the inputs' device.
    pub fn drop_rewards(&self, inputs: RewardInputs) -> RewardInputs {
        let [b, _] = inputs.scores.dims();
        let u = Tensor::<1>::random([b], Distribution::Uniform(0.0, 1.0), &inputs.scores.device());
        self.drop_rewards_with(inputs, u)
    }

    /// [`drop_rewards`](Self::drop_rewards) with given uniforms `[B]` (row dropped if `u < p`).
    pub fn drop_rewards_with(&self, mut inputs: RewardInputs, uniforms: Tensor<1>) -> RewardInputs {
        let drop = uniforms.lower_elem(self.null_dropout);
        inputs.null = Some(match inputs.null {
            Some(n) => n.bool_or(drop),
            None => drop,
        });
        inputs
    }

    /// The two reward vectors of official-checkpoint.md steps 2-3: score sinusoids `r` `[B, 768]`
    /// and pooled text `p` `[B, D]`, with null rows replaced. `None` means every row is null.
    pub fn embed_inputs(&self, inputs: Option<RewardInputs>, batch: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let null_r = self.null_reward.scores.val().unsqueeze_dim::<2>(0);
        let null_p = self.null_reward.text.val().unsqueeze_dim::<2>(0);
        let [_, rn] = null_r.dims();
        let [_, pn] = null_p.dims();
        let Some(inputs) = inputs else {
            return (null_r.expand([batch, rn]), null_p.expand([batch, pn]));
        };
        let [b, k] = inputs.scores.dims();
        assert_eq!(k, NUM_SCORES, "reward scores must be [B, {NUM_SCORES}]");
        assert_eq!(b, batch, "reward rows must match the batch");
        let r = timestep_embedding(
            inputs.scores.reshape([b * NUM_SCORES]),
            SCORE_EMBED_DIM,
            self.flip_sin_to_cos,
            self.freq_shift,
        )
        .reshape([b, NUM_SCORES * SCORE_EMBED_DIM]);
        let p = inputs.pooled_text.to_device(device);
        match inputs.null {
            None => (r, p),
            Some(mask) => {
                let m = mask.reshape([b, 1]);
                (
                    r.mask_where(m.clone().expand([b, rn]), null_r.expand([b, rn])),
                    p.mask_where(m.expand([b, pn]), null_p.expand([b, pn])),
                )
            }
        }
    }

    /// Step 4: what the reward adds to the time embedding.
    pub fn time_embedding(&self, r: Tensor<2>, p: Tensor<2>) -> Tensor<2> {
        self.add_embedding.forward(r) + self.text_linear2.forward(p)
    }

    /// Step 5: the reward cross-attention on the `conv_in` output `h` (residual).
    pub fn attend(&self, h: Tensor<4>, r: Tensor<2>, p: Tensor<2>) -> Tensor<4> {
        let [b, c, hh, ww] = h.dims();
        let d = &self.proj_deal;
        let tokens = map_to_tokens(conv2d(&d.proj_in, group_norm(&d.norm, h.clone())));
        let kv = Tensor::stack::<3>(vec![self.add_embedding2.forward(r), self.text_linear.forward(p)], 1);
        let tokens = self.ca.forward(tokens, kv);
        conv2d(&d.proj_out, tokens_to_map(tokens, [b, c, hh, ww])) + h
    }
}
