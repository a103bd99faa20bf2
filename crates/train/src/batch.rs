//! One micro-batch made ready for the UNet: the data's edited image noised at per-row
//! timesteps, its source, and the conditions with their dropout draws. Teacher training and
//! every distillation loss build on it, so a teacher and its student see identical inputs.
//! For an SD editor the images become latents and the texts CLIP embeddings here, through the
//! frozen encoders; a world editor encodes its prompts itself, in [`Editor::predict`].

use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rewardedit_models::schedulers::NoiseSchedule;

use crate::data::{images_tensor, TrainExample};
use crate::dropout::{self, DropDraws};
use crate::editor::{dropped_prompts, Editor, EditorConfig};
use crate::frozen::FrozenEncoders;
use crate::recipe::DropoutConfig;
use crate::{Result, TrainError};

/// The conditions of a batch (shared by every model that reads it).
#[derive(Debug, Clone)]
pub struct Conditions {
    pub prompts: Vec<String>,
    pub drops: DropDraws,
    /// Scores and joined flaw text per row, for editors with reward modules.
    pub rewards: Option<(Vec<[f32; 3]>, Vec<String>)>,
    /// The image condition: source images `[B, 3, H, W]` in [-1, 1], or their latents.
    pub source: Tensor<4>,
    /// The texts encoded by an SD editor's frozen CLIP (text dropout applied); `None` for world
    /// editors.
    pub encoded: Option<EncodedTexts>,
}

/// Prompts and reward texts as CLIP embeddings.
#[derive(Debug, Clone)]
pub struct EncodedTexts {
    /// The prompts' token states `[B, T, D]` (dropped rows: the empty prompt's).
    pub hidden: Tensor<3>,
    /// The reward texts' pooled embeddings `[B, D]`, when the batch has rewards.
    pub reward_pooled: Option<Tensor<2>>,
}

impl Conditions {
    /// The same conditions off the autodiff graph (for a frozen teacher).
    pub fn without_autodiff(&self) -> Self {
        Conditions { source: self.source.clone().without_autodiff(), ..self.clone() }
    }
}

/// Standard normal noise of shape `dims` from `rng`.
pub fn standard_normal(dims: [usize; 4], rng: &mut ChaCha8Rng, device: &Device) -> Tensor<4> {
    let n: usize = dims.iter().product();
    let noise: Vec<f32> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    Tensor::<4>::from_data(TensorData::new(noise, dims), device)
}

/// A noised micro-batch.
#[derive(Debug, Clone)]
pub struct NoisedBatch {
    /// The clean diffusion target (the data's edited image, or its latents).
    pub edited: Tensor<4>,
    /// The Gaussian noise added.
    pub noise: Tensor<4>,
    /// `sqrt(a_t) edited + sqrt(1 - a_t) noise`.
    pub noisy: Tensor<4>,
    /// One training timestep per row.
    pub timesteps: Vec<usize>,
    pub conditions: Conditions,
}

impl NoisedBatch {
    /// Draws, in this order, (SD editors) the noise of the target's VAE posterior, the
    /// timesteps (`pick_t(rng)` per row), the noise and the dropout from `rng`; `with_rewards`
    /// requires a reward on every example. `frozen`: an SD editor's encoders.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        batch: &[TrainExample],
        schedule: &NoiseSchedule,
        dropout: &DropoutConfig,
        with_rewards: bool,
        frozen: Option<&FrozenEncoders>,
        pick_t: &mut dyn FnMut(&mut ChaCha8Rng) -> usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self> {
        let b = batch.len();
        let edited = images_tensor(&batch.iter().map(|e| &e.edited).collect::<Vec<_>>(), device);
        let source = images_tensor(&batch.iter().map(|e| &e.source).collect::<Vec<_>>(), device);
        let (edited, source) = match frozen {
            Some(f) => (f.target_latents(edited, rng), f.condition(source)),
            None => (edited, source),
        };
        let timesteps: Vec<usize> = (0..b).map(|_| pick_t(rng)).collect();
        let noise = standard_normal(edited.dims(), rng, &edited.device());
        let drops = dropout::draw(dropout, b, rng);
        let rewards = if with_rewards {
            let rewards = batch
                .iter()
                .map(|e| e.reward.as_ref().ok_or_else(|| TrainError::Data("a reward editor needs rewards on every example".into())))
                .collect::<Result<Vec<_>>>()?;
            Some((rewards.iter().map(|r| r.scores()).collect(), rewards.iter().map(|r| r.joined_text()).collect()))
        } else {
            None
        };
        let noisy = schedule.add_noise(edited.clone(), noise.clone(), &timesteps);
        let prompts: Vec<String> = batch.iter().map(|e| e.instruction.clone()).collect();
        let encoded = frozen.map(|f| encode_texts(f, &prompts, &drops.text, rewards.as_ref().map(|(_, t)| t))).transpose()?;
        Ok(NoisedBatch { edited, noise, noisy, timesteps, conditions: Conditions { prompts, drops, rewards, source, encoded } })
    }
}

/// The CLIP embeddings of a batch's prompts (dropped rows: the empty prompt) and reward texts.
fn encode_texts(frozen: &FrozenEncoders, prompts: &[String], drop: &[bool], reward_texts: Option<&Vec<String>>) -> Result<EncodedTexts> {
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let hidden = frozen.encode(&dropped_prompts(&prompts, drop))?.hidden;
    let reward_pooled = match reward_texts {
        Some(texts) => Some(frozen.encode(&texts.iter().map(String::as_str).collect::<Vec<_>>())?.pooled),
        None => None,
    };
    Ok(EncodedTexts { hidden, reward_pooled })
}

impl Editor {
    /// The UNet's output (and its stage features) for `noisy` at `timesteps` under
    /// `conditions`: a world editor encodes the texts with its own prompt encoder, an SD editor
    /// reads them as the frozen CLIP encoded them ([`Conditions::encoded`]).
    pub fn predict(&self, config: &EditorConfig, conditions: &Conditions, noisy: Tensor<4>, timesteps: &[f32], device: &Device) -> Result<(Tensor<4>, Vec<Tensor<4>>)> {
        let c = conditions;
        let (hidden, reward_pooled) = match (&self.text_encoder, config.vocab(), &c.encoded) {
            (Some(encoder), Some(vocab), _) => {
                let prompts: Vec<&str> = c.prompts.iter().map(String::as_str).collect();
                let hidden = Editor::encode_prompts(encoder, vocab, &prompts, &c.drops.text, device).hidden;
                let pooled = c.rewards.as_ref().map(|(_, texts)| {
                    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                    encoder.encode(vocab, &texts, device).pooled
                });
                (hidden, pooled)
            }
            (None, None, Some(e)) => (e.hidden.clone(), e.reward_pooled.clone()),
            _ => return Err(TrainError::Config("an SD editor's batch must be drawn with its frozen encoders (NoisedBatch::draw)".into())),
        };
        let input = Editor::unet_input(noisy, c.source.clone(), &c.drops.image);
        let reward = c.rewards.as_ref().zip(reward_pooled).and_then(|((scores, _), pooled)| self.reward_inputs(scores, pooled, &c.drops.reward_uniforms, device));
        let t = Tensor::<1>::from_data(TensorData::new(timesteps.to_vec(), [timesteps.len()]), device);
        Ok(self.unet.forward_features(input, t, hidden, reward))
    }
}

/// Timesteps as the UNet reads them.
pub fn timestep_values(ts: &[usize]) -> Vec<f32> {
    ts.iter().map(|&t| t as f32).collect()
}

/// Mean squared error.
pub fn mse(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    let d = a - b;
    (d.clone() * d).mean()
}
