//! The student network (config version 2): a residual CNN over (source, edited,
//! |edited - source|) with GroupNorm, whose blocks are modulated by the instruction (FiLM, Perez
//! et al. 2018), then cross-attention from the instruction's words to the image features
//! (Vaswani et al. 2017, section 3.2), and a head giving, per axis, a score, a verdict logit and
//! a "perfect" logit.
//!
//! The teacher's scores are a point mass at 5.00 (79-83% of the held-out edits on each axis)
//! plus a spread below it, and Spearman over such ties is decided by putting exactly the
//! teacher's 5.00s at 5.00: a student that orders the flawed edits perfectly but leaves the
//! clean ones at 4.9-5.0 reaches only ~0.65, one that ties the clean ones at 5.00 and orders the
//! flawed ones at random ~0.98. So the score is a hurdle model (Cragg 1971): a classifier of
//! "the teacher gives 5.00" and a regression for the rest (`StudentOutput::scores`).
//!
//! Following depends on which object and attribute the instruction names, so the words look up
//! the image positions they are about (cross-attention), rather than only rescaling channels
//! (FiLM); with `block_attention`, every residual block's positions also look up the words
//! about them, at every resolution. With `fusion_layers`, a transformer over the last stage's
//! positions and the words together lets positions compare themselves with each other, which
//! whole-image edits (background, light, tint, style) need and pooling does not give: the
//! committed student's worst errors on every axis are on those. Quality artefacts (noise,
//! blur, 8x8 blocking, ghosts, banding) are seen at full resolution by the stem and the first
//! residual block.

use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, silu};
use rewardedit_core::MAX_SCORE;

use super::config::StudentConfig;
use super::tokenizer::PAD;
use rewardedit_models::fused::{group_norm, group_norm_silu};

/// Input channels: source RGB, edited RGB, |edited - source| RGB.
pub const IN_CHANNELS: usize = 9;

/// Highest score of an edit the student does not call perfect: one step of the two-decimal
/// reporting below 5, so it never ties with the perfect ones.
pub const PERFECT_CEILING: f32 = MAX_SCORE - 0.01;

fn conv3x3(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// A pre-activation residual block (He et al. 2016, "Identity mappings", fig. 4e) whose second
/// normalisation is FiLM-modulated by the instruction: `h + conv2(silu(film(norm2(conv1(silu(norm1(h)))))))`,
/// then, with `block_attention`, a cross-attention from its positions to the words.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub norm1: GroupNorm,
    pub conv1: Conv2d,
    pub norm2: GroupNorm,
    /// Instruction -> (scale, shift) of the block's channels.
    pub film: Linear,
    pub conv2: Conv2d,
    pub attention: Option<BlockAttention>,
}

impl ResBlock {
    fn new(channels: usize, config: &StudentConfig, device: &Device) -> Self {
        let (groups, text_dim) = (config.groups, config.text_dim);
        ResBlock {
            norm1: GroupNormConfig::new(groups, channels).init(device),
            conv1: conv3x3(channels, channels, 1, device),
            norm2: GroupNormConfig::new(groups, channels).init(device),
            film: LinearConfig::new(text_dim, 2 * channels).init(device),
            conv2: conv3x3(channels, channels, 1, device),
            attention: config.block_attention.then(|| BlockAttention::new(channels, config, device)),
        }
    }

    fn forward(&self, h: Tensor<4>, text: &EncodedText) -> Tensor<4> {
        let [b, c, _, _] = h.dims();
        let x = group_norm(&self.norm2, self.conv1.forward(group_norm_silu(&self.norm1, h.clone())));
        let gb = self.film.forward(text.pooled.clone());
        let gamma = gb.clone().narrow(1, 0, c).reshape([b, c, 1, 1]);
        let beta = gb.narrow(1, c, c).reshape([b, c, 1, 1]);
        let h = h + self.conv2.forward(silu(x * (gamma + 1.0) + beta));
        match &self.attention {
            Some(attention) => attention.forward(h, text),
            None => h,
        }
    }
}

/// Cross-attention from every image position to the instruction's words, as in a text-to-image
/// UNet's transformer block (Rombach et al. 2022): `h + out(attend(in(norm(h)), words))`. A
/// position inside "the red circle" can pick up "red" and "circle" and tell the head whether
/// this is where change was asked for.
#[derive(Module, Debug)]
pub struct BlockAttention {
    pub norm: GroupNorm,
    /// Channels -> attention width (the queries).
    pub proj_in: Linear,
    pub attention: MultiHeadAttention,
    /// Attention width -> channels.
    pub proj_out: Linear,
}

impl BlockAttention {
    fn new(channels: usize, config: &StudentConfig, device: &Device) -> Self {
        let d = config.text_dim;
        BlockAttention {
            norm: GroupNormConfig::new(config.groups, channels).init(device),
            proj_in: LinearConfig::new(channels, d).init(device),
            attention: MultiHeadAttentionConfig::new(d, config.text_heads).with_dropout(0.0).init(device),
            proj_out: LinearConfig::new(d, channels).init(device),
        }
    }

    fn forward(&self, h: Tensor<4>, text: &EncodedText) -> Tensor<4> {
        let [b, c, hh, ww] = h.dims();
        let x = group_norm(&self.norm, h.clone()).reshape([b, c, hh * ww]).swap_dims(1, 2);
        let input = MhaInput::new(self.proj_in.forward(x), text.words.clone(), text.words.clone()).mask_pad(text.pad.clone());
        let out = self.proj_out.forward(self.attention.forward(input).context);
        h + out.swap_dims(1, 2).reshape([b, c, hh, ww])
    }
}

/// One resolution of the CNN: a stride-2 convolution (all stages but the first) and residual
/// blocks.
#[derive(Module, Debug)]
pub struct Stage {
    pub down: Option<Conv2d>,
    pub blocks: Vec<ResBlock>,
}

/// The student scorer network; build it with [`StudentNet::new`].
#[derive(Module, Debug)]
pub struct StudentNet {
    /// 3x3 convolution from the 9 input channels, full resolution.
    pub stem: Conv2d,
    pub stages: Vec<Stage>,
    /// Normalisation of the last stage's features before pooling and attention.
    pub out_norm: GroupNorm,
    /// Word embeddings (row 0 = padding, 1 = unknown).
    pub token_embedding: Embedding,
    /// Learned position embeddings: word order tells "make the red circle blue" from
    /// "make the blue circle red".
    pub position_embedding: Embedding,
    /// Self-attention over the instruction's words.
    pub text_encoder: TransformerEncoder,
    /// Last-stage features -> attention width (keys and values of the cross-attention).
    pub image_proj: Linear,
    /// Learned embedding of each last-stage position ("left", "top" are positions).
    pub image_position: Embedding,
    /// Self-attention over the positions and the words together (`fusion_layers`).
    pub fusion: Option<TransformerEncoder>,
    /// Cross-attention: queries are the instruction's words, keys and values the image positions.
    pub cross_attention: MultiHeadAttention,
    /// Last-stage features -> logit of "the instruction allows change here" (`mask_head`).
    pub mask_proj: Option<Linear>,
    /// Whether the head reads the features pooled inside and outside the predicted region.
    pub mask_pool: bool,
    /// Pooled image features (mean and max; with the mask head also the means inside and
    /// outside the predicted region), attended features and instruction -> hidden.
    pub head_hidden: Linear,
    /// Hidden -> three score logits, three verdict logits, three "perfect" logits.
    pub head_out: Linear,
    /// See `StudentConfig::score_margin`.
    pub score_margin: f32,
}

/// What the network says about a batch.
#[derive(Debug, Clone)]
pub struct StudentOutput {
    /// `[batch, 3]` scores in [0, 5], axes in `Axis::ALL` order: exactly 5 where the perfect
    /// logit is positive, else the regression clamped to [0, 4.99] (`PERFECT_CEILING`).
    pub scores: Tensor<2>,
    /// `[batch, 3]` regression scores before any clamp (what the regression and ranking losses
    /// train; see `StudentConfig::score_margin`).
    pub raw_scores: Tensor<2>,
    /// `[batch, 3]` verdict logits (positive = "yes").
    pub verdict_logits: Tensor<2>,
    /// `[batch, 3]` logits of "the teacher's score is 5.00" (positive = perfect).
    pub perfect_logits: Tensor<2>,
    /// `[batch, side * side]` logits of the edit region at the last stage's positions (row-major),
    /// with the mask head.
    pub mask_logits: Option<Tensor<2>>,
}

/// The instruction as the network reads it.
struct EncodedText {
    /// `[batch, max_tokens, text_dim]` per-word states.
    words: Tensor<3>,
    /// `[batch, max_tokens, 1]`: 1 for real words, 0 for padding.
    keep: Tensor<3>,
    /// `[batch, max_tokens]`: true for padding.
    pad: Tensor<2, Bool>,
    /// `[batch, text_dim]` mean over real words.
    pooled: Tensor<2>,
}

impl StudentNet {
    pub fn new(config: &StudentConfig, device: &Device) -> Self {
        let d = config.text_dim;
        let g = config.groups;
        let mut stages = Vec::new();
        let mut c_in = config.channels[0];
        for (i, &c) in config.channels.iter().enumerate() {
            stages.push(Stage {
                down: (i > 0).then(|| conv3x3(c_in, c, 2, device)),
                blocks: (0..config.blocks).map(|_| ResBlock::new(c, config, device)).collect(),
            });
            c_in = c;
        }
        let side = config.resolution as usize >> (config.channels.len() - 1);
        StudentNet {
            stem: conv3x3(IN_CHANNELS, config.channels[0], 1, device),
            stages,
            out_norm: GroupNormConfig::new(g, c_in).init(device),
            token_embedding: EmbeddingConfig::new(config.vocab.size(), d).init(device),
            position_embedding: EmbeddingConfig::new(config.max_tokens, d).init(device),
            text_encoder: TransformerEncoderConfig::new(d, 2 * d, config.text_heads, config.text_layers)
                .with_dropout(0.0)
                .with_norm_first(true)
                .init(device),
            image_proj: LinearConfig::new(c_in, d).init(device),
            image_position: EmbeddingConfig::new(side * side, d).init(device),
            fusion: (config.fusion_layers > 0).then(|| {
                TransformerEncoderConfig::new(d, 2 * d, config.text_heads, config.fusion_layers)
                    .with_dropout(0.0)
                    .with_norm_first(true)
                    .init(device)
            }),
            cross_attention: MultiHeadAttentionConfig::new(d, config.text_heads).with_dropout(0.0).init(device),
            mask_proj: config.mask_head.then(|| LinearConfig::new(c_in, 1).init(device)),
            mask_pool: config.mask_pool,
            head_hidden: LinearConfig::new(
                if config.mask_head && config.mask_pool { 4 } else { 2 } * c_in + if config.fusion_layers > 0 { 4 } else { 2 } * d,
                config.hidden,
            )
            .init(device),
            head_out: LinearConfig::new(config.hidden, 9).init(device),
            score_margin: config.score_margin,
        }
    }

    fn encode_text(&self, tokens: Tensor<2, Int>) -> EncodedText {
        let [b, l] = tokens.dims();
        let device = tokens.device();
        let pad = tokens.clone().equal_elem(PAD as i64);
        let positions = Tensor::<1, Int>::arange(0..l as i64, &device).unsqueeze_dim::<2>(0).repeat_dim(0, b);
        let x = self.token_embedding.forward(tokens) + self.position_embedding.forward(positions);
        let words = self.text_encoder.forward(TransformerEncoderInput::new(x).mask_pad(pad.clone()));
        let keep = pad.clone().bool_not().float().unsqueeze_dim::<3>(2);
        let pooled = masked_mean(words.clone(), keep.clone());
        EncodedText { words, keep, pad, pooled }
    }

    /// Scores a batch: `images` `[batch, 9, res, res]` (see `batch::image_tensor`), `tokens`
    /// `[batch, max_tokens]`.
    pub fn forward(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> StudentOutput {
        let text = self.encode_text(tokens);
        let mut h = self.stem.forward(images);
        for stage in &self.stages {
            if let Some(down) = &stage.down {
                h = down.forward(h);
            }
            for block in &stage.blocks {
                h = block.forward(h, &text);
            }
        }
        let h = group_norm_silu(&self.out_norm, h);
        let [b, c, hh, ww] = h.dims();
        let mean = h.clone().mean_dim(3).mean_dim(2).reshape([b, c]);
        let max = h.clone().max_dim(3).max_dim(2).reshape([b, c]);

        // Cross-attention: every word gathers the image positions it is about.
        let positions = Tensor::<1, Int>::arange(0..(hh * ww) as i64, &h.device()).unsqueeze_dim::<2>(0);
        let flat = h.reshape([b, c, hh * ww]).swap_dims(1, 2);
        let keys = self.image_proj.forward(flat.clone())
            + self.image_position.forward(positions);
        let n = hh * ww;
        let (keys, words, fused) = match &self.fusion {
            Some(fusion) => {
                let [_, l, d] = text.words.dims();
                let pad = Tensor::cat(vec![Tensor::<2, Bool>::full([b, n], false, &keys.device()), text.pad.clone()], 1);
                let x = fusion.forward(TransformerEncoderInput::new(Tensor::cat(vec![keys, text.words.clone()], 1)).mask_pad(pad));
                let (keys, words) = (x.clone().narrow(1, 0, n), x.narrow(1, n, l));
                let fused = [keys.clone().mean_dim(1).reshape([b, d]), keys.clone().max_dim(1).reshape([b, d])];
                (keys, words, Some(fused))
            }
            None => (keys, text.words.clone(), None),
        };
        let attended = self.cross_attention.forward(MhaInput::new(words, keys.clone(), keys)).context;
        let attended = masked_mean(attended, text.keep);

        let mut features = vec![mean, max, attended, text.pooled];
        features.extend(fused.into_iter().flatten());
        let mask_logits = self.mask_proj.as_ref().map(|proj| {
            // Features averaged over the predicted region and over the rest.
            let logits = proj.forward(flat.clone()).reshape([b, hh * ww]);
            if self.mask_pool {
                let inside = sigmoid(logits.clone()).reshape([b, hh * ww, 1]);
                let outside = inside.clone().neg() + 1.0;
                features.push(masked_mean(flat.clone(), inside));
                features.push(masked_mean(flat, outside));
            }
            logits
        });
        let features = Tensor::cat(features, 1);
        let out = self.head_out.forward(relu(self.head_hidden.forward(features)));
        let m = self.score_margin;
        let raw_scores = sigmoid(out.clone().narrow(1, 0, 3)) * (MAX_SCORE + 2.0 * m) - m;
        let perfect_logits = out.clone().narrow(1, 6, 3);
        let perfect = perfect_logits.clone().greater_elem(0.0);
        StudentOutput {
            scores: raw_scores.clone().clamp(0.0, PERFECT_CEILING).mask_fill(perfect, MAX_SCORE),
            raw_scores,
            verdict_logits: out.narrow(1, 3, 3),
            perfect_logits,
            mask_logits,
        }
    }
}

/// Mean of `x` `[b, l, d]` weighted by `keep` `[b, l, 1]` (1 = counts, 0 = ignored; soft
/// weights in between); at least a weight of 1e-3 in total, so an empty region gives ~0.
fn masked_mean(x: Tensor<3>, keep: Tensor<3>) -> Tensor<2> {
    let [b, _, d] = x.dims();
    let count = keep.clone().sum_dim(1).clamp_min(1e-3);
    (x * keep).sum_dim(1).div(count).reshape([b, d])
}
