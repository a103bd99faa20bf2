//! diffusers' `UNet2DConditionModel` (SD 1.5 family), optionally with the authors' reward
//! conditioning (official-checkpoint.md, "Forward order").

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig};
use burn::prelude::*;

use super::blocks::{BlockSpec, DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D};
use super::config::{DownBlockType, UNet2DConditionConfig, UpBlockType};
use super::embeddings::{timestep_embedding, TimestepEmbedding};
use super::resnet::conv_same;
use super::reward::{RewardConditioning, RewardConditioningConfig, RewardInputs};
use crate::Result;
use crate::fused::{conv2d, group_norm_silu};

#[derive(Module, Debug)]
pub struct UNet2DConditionModel {
    pub conv_in: Conv2d,
    pub time_embedding: TimestepEmbedding,
    pub down_blocks: Vec<DownBlock2D>,
    pub mid_block: UNetMidBlock2DCrossAttn,
    pub up_blocks: Vec<UpBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
    /// The reward modules (absent in a plain InstructPix2Pix UNet).
    pub reward: Option<RewardConditioning>,
    /// Width of the timestep sinusoid (`block_out_channels[0]`).
    pub time_proj_dim: usize,
    pub flip_sin_to_cos: bool,
    pub freq_shift: f64,
    pub center_input_sample: bool,
}

impl UNet2DConditionModel {
    /// Builds the network of `config` with fresh weights; `reward` adds the reward modules.
    pub fn new(config: &UNet2DConditionConfig, reward: Option<&RewardConditioningConfig>, device: &Device) -> Result<Self> {
        config.validate()?;
        let c = &config.block_out_channels;
        let n = c.len();
        let temb = config.time_embed_dim();
        let spec = |i: usize, attention: bool, layers: usize| BlockSpec {
            layers,
            heads: config.heads(i),
            transformer_layers: config.transformer_layers_per_block.get(i),
            cross_dim: config.cross_attention_dim,
            temb,
            groups: config.norm_num_groups,
            eps: config.norm_eps,
            attention,
        };

        let down_blocks = (0..n)
            .map(|i| {
                let attention = config.down_block_types[i] == DownBlockType::CrossAttnDownBlock2D;
                let c_in = if i == 0 { c[0] } else { c[i - 1] };
                let down = (i + 1 < n).then_some(config.downsample_padding);
                DownBlock2D::new(spec(i, attention, config.layers_per_block.get(i)), c_in, c[i], down, device)
            })
            .collect();
        let mid_block = UNetMidBlock2DCrossAttn::new(spec(n - 1, true, 1), c[n - 1], config.mid_block_scale_factor, device);
        // Up block i mirrors down block n-1-i (diffusers reverses every per-block list).
        let up_blocks = (0..n)
            .map(|i| {
                let d = n - 1 - i;
                let attention = config.up_block_types[i] == UpBlockType::CrossAttnUpBlock2D;
                let c_prev = c[(d + 1).min(n - 1)];
                let c_skip_in = c[d.saturating_sub(1)];
                UpBlock2D::new(spec(d, attention, config.layers_per_block.get(d) + 1), c_skip_in, c[d], c_prev, i + 1 < n, device)
            })
            .collect();

        Ok(Self {
            conv_in: conv_same(config.in_channels, c[0], config.conv_in_kernel, device),
            time_embedding: TimestepEmbedding::new(c[0], temb, false, device),
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out: GroupNormConfig::new(config.norm_num_groups, c[0]).with_epsilon(config.norm_eps).init(device),
            conv_out: conv_same(c[0], config.out_channels, config.conv_out_kernel, device),
            reward: reward.map(|r| RewardConditioning::new(config, r, device)),
            time_proj_dim: c[0],
            flip_sin_to_cos: config.flip_sin_to_cos,
            freq_shift: config.freq_shift,
            center_input_sample: config.center_input_sample,
        })
    }

    /// Adds fresh reward modules to a (trained) UNet; with `zero_init` its output is unchanged
    /// until the reward modules are trained.
    pub fn attach_reward(self, config: &UNet2DConditionConfig, reward: &RewardConditioningConfig) -> Self {
        let device = self.conv_in.weight.val().device();
        Self { reward: Some(RewardConditioning::new(config, reward, &device)), ..self }
    }

    /// Predicts the noise `[B, out, H, W]` for `sample` `[B, in, H, W]` at `timestep` `[B]`,
    /// given text tokens `[B, T, cross_attention_dim]`.
    ///
    /// With reward modules, `reward = None` means the null reward for every row. A UNet without
    /// reward modules panics if given rewards (a wiring bug, not a user input).
    pub fn forward(&self, sample: Tensor<4>, timestep: Tensor<1>, encoder_hidden_states: Tensor<3>, reward: Option<RewardInputs>) -> Tensor<4> {
        self.forward_features(sample, timestep, encoder_hidden_states, reward).0
    }

    /// [`forward`](Self::forward), also returning the mid block's output and each up block's
    /// output (coarse to fine): the stage outputs feature distillation compares (BK-SDM).
    pub fn forward_features(
        &self,
        sample: Tensor<4>,
        timestep: Tensor<1>,
        encoder_hidden_states: Tensor<3>,
        reward: Option<RewardInputs>,
    ) -> (Tensor<4>, Vec<Tensor<4>>) {
        let device = sample.device();
        let [b, _, _, _] = sample.dims();
        let sample = if self.center_input_sample { sample * 2.0 - 1.0 } else { sample };
        let t = timestep_embedding(timestep, self.time_proj_dim, self.flip_sin_to_cos, self.freq_shift);
        let mut temb = self.time_embedding.forward(t);

        // official-checkpoint.md steps 2-4: rewards join the time embedding.
        let reward = match &self.reward {
            Some(module) => {
                let (r, p) = module.embed_inputs(reward, b, &device);
                temb = temb + module.time_embedding(r.clone(), p.clone());
                Some((module, r, p))
            }
            None => {
                assert!(reward.is_none(), "rewards given to a UNet built without reward modules");
                None
            }
        };

        let mut h = conv2d(&self.conv_in, sample);
        // Step 5: the reward cross-attention right after conv_in.
        if let Some((module, r, p)) = reward {
            h = module.attend(h, r, p);
        }

        let mut skips = vec![h.clone()];
        for block in &self.down_blocks {
            let (out, states) = block.forward(h, temb.clone(), encoder_hidden_states.clone());
            h = out;
            skips.extend(states);
        }
        h = self.mid_block.forward(h, temb.clone(), encoder_hidden_states.clone());
        let mut features = vec![h.clone()];
        for block in &self.up_blocks {
            // The size to upsample to is that of the skip the next block takes first.
            let remaining = skips.len() - block.resnets.len();
            let up_size = (remaining > 0).then(|| {
                let [_, _, hh, ww] = skips[remaining - 1].dims();
                [hh, ww]
            });
            h = block.forward(h, &mut skips, temb.clone(), encoder_hidden_states.clone(), up_size);
            features.push(h.clone());
        }
        (conv2d(&self.conv_out, group_norm_silu(&self.conv_norm_out, h)), features)
    }
}
