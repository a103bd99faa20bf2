//! The student network: a small CNN over (source, edited, |edited - source|) whose features are
//! modulated by the instruction (FiLM, Perez et al. 2018), and a head giving three scores in
//! [0, 5] and three verdict logits. Following needs the instruction (which object, which
//! attribute, changed to what), so every stage is conditioned on it, not just the head.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use rewardedit_core::MAX_SCORE;

use super::config::StudentConfig;
use super::tokenizer::PAD;

/// Input channels: source RGB, edited RGB, |edited - source| RGB.
pub const IN_CHANNELS: usize = 9;

/// The student scorer network; build it with [`StudentNet::new`].
#[derive(Module, Debug)]
pub struct StudentNet {
    /// 3x3 convolutions; all but the first have stride 2.
    pub convs: Vec<Conv2d>,
    /// Per stage, instruction -> (scale, shift) of the stage's channels.
    pub films: Vec<Linear>,
    /// Word embeddings (row 0 = padding, 1 = unknown).
    pub token_embedding: Embedding,
    /// Learned position embeddings: word order tells "make the red circle blue" from
    /// "make the blue circle red".
    pub position_embedding: Embedding,
    /// Self-attention over the instruction's words.
    pub text_encoder: TransformerEncoder,
    /// Pooled image features (mean and max) + instruction -> hidden.
    pub head_hidden: Linear,
    /// Hidden -> three score logits and three verdict logits.
    pub head_out: Linear,
    /// See `StudentConfig::score_margin`.
    pub score_margin: f32,
}

/// What the network says about a batch.
#[derive(Debug, Clone)]
pub struct StudentOutput {
    /// `[batch, 3]` scores in [0, 5], axes in `Axis::ALL` order.
    pub scores: Tensor<2>,
    /// `[batch, 3]` scores before the clamp to [0, 5] (what the loss trains; see
    /// `StudentConfig::score_margin`).
    pub raw_scores: Tensor<2>,
    /// `[batch, 3]` verdict logits (positive = "yes").
    pub verdict_logits: Tensor<2>,
}

impl StudentNet {
    pub fn new(config: &StudentConfig, device: &Device) -> Self {
        let mut convs = Vec::new();
        let mut films = Vec::new();
        let mut c_in = IN_CHANNELS;
        for (i, &c) in config.channels.iter().enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            convs.push(
                Conv2dConfig::new([c_in, c], [3, 3])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            films.push(LinearConfig::new(config.text_dim, 2 * c).init(device));
            c_in = c;
        }
        let d = config.text_dim;
        StudentNet {
            convs,
            films,
            token_embedding: EmbeddingConfig::new(config.vocab.size(), d).init(device),
            position_embedding: EmbeddingConfig::new(config.max_tokens, d).init(device),
            text_encoder: TransformerEncoderConfig::new(d, 2 * d, config.text_heads, config.text_layers)
                .with_dropout(0.0)
                .with_norm_first(true)
                .init(device),
            head_hidden: LinearConfig::new(2 * c_in + d, config.hidden).init(device),
            head_out: LinearConfig::new(config.hidden, 6).init(device),
            score_margin: config.score_margin,
        }
    }

    /// The instruction vector `[batch, text_dim]`: encoder outputs averaged over real words.
    pub fn encode_text(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [b, l] = tokens.dims();
        let device = tokens.device();
        let pad = tokens.clone().equal_elem(PAD as i64);
        let positions = Tensor::<1, Int>::arange(0..l as i64, &device).unsqueeze_dim::<2>(0).repeat_dim(0, b);
        let x = self.token_embedding.forward(tokens) + self.position_embedding.forward(positions);
        let h = self.text_encoder.forward(TransformerEncoderInput::new(x).mask_pad(pad.clone()));
        let keep = pad.bool_not().float().unsqueeze_dim::<3>(2); // [b, l, 1]
        let count = keep.clone().sum_dim(1).clamp_min(1.0); // [b, 1, 1]
        (h * keep).sum_dim(1).div(count).reshape([b, self.token_embedding.weight.dims()[1]])
    }

    /// Scores a batch: `images` `[batch, 9, res, res]` (see `batch::image_tensor`), `tokens`
    /// `[batch, max_tokens]`.
    pub fn forward(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> StudentOutput {
        let text = self.encode_text(tokens);
        let [b, _] = text.dims();
        let mut h = images;
        for (conv, film) in self.convs.iter().zip(&self.films) {
            h = relu(conv.forward(h));
            let c = h.dims()[1];
            let gb = film.forward(text.clone());
            let gamma = gb.clone().narrow(1, 0, c).reshape([b, c, 1, 1]);
            let beta = gb.narrow(1, c, c).reshape([b, c, 1, 1]);
            h = h.clone() * (gamma + 1.0) + beta;
        }
        let c = h.dims()[1];
        let mean = h.clone().mean_dim(3).mean_dim(2).reshape([b, c]);
        let max = h.max_dim(3).max_dim(2).reshape([b, c]);
        let features = Tensor::cat(vec![mean, max, text], 1);
        let out = self.head_out.forward(relu(self.head_hidden.forward(features)));
        let m = self.score_margin;
        let raw_scores = sigmoid(out.clone().narrow(1, 0, 3)) * (MAX_SCORE + 2.0 * m) - m;
        StudentOutput {
            scores: raw_scores.clone().clamp(0.0, MAX_SCORE),
            raw_scores,
            verdict_logits: out.narrow(1, 3, 3),
        }
    }
}
