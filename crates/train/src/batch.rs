//! One micro-batch made ready for the UNet: the data's edited image noised at per-row
//! timesteps, its source, and the conditions with their dropout draws. Teacher training and
//! every distillation loss build on it, so a teacher and its student see identical inputs.

use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rewardedit_models::schedulers::NoiseSchedule;

use crate::data::{images_tensor, TrainExample};
use crate::dropout::{self, DropDraws};
use crate::editor::{Editor, EditorConfig};
use crate::recipe::DropoutConfig;
use crate::{Result, TrainError};

/// The conditions of a batch (shared by every model that reads it).
#[derive(Debug, Clone)]
pub struct Conditions {
    pub prompts: Vec<String>,
    pub drops: DropDraws,
    /// Scores and joined flaw text per row, for editors with reward modules.
    pub rewards: Option<(Vec<[f32; 3]>, Vec<String>)>,
    /// The source images `[B, 3, H, W]` in [-1, 1].
    pub source: Tensor<4>,
}

impl Conditions {
    /// The same conditions off the autodiff graph (for a frozen teacher).
    pub fn without_autodiff(&self) -> Self {
        Conditions { source: self.source.clone().without_autodiff(), ..self.clone() }
    }
}

/// A noised micro-batch.
#[derive(Debug, Clone)]
pub struct NoisedBatch {
    /// The clean diffusion target `[B, 3, H, W]` (the data's edited image).
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
    /// Draws, in this order, the timesteps (`pick_t(rng)` per row), the noise and the dropout
    /// from `rng`; `with_rewards` requires a reward on every example.
    pub fn draw(
        batch: &[TrainExample],
        schedule: &NoiseSchedule,
        dropout: &DropoutConfig,
        with_rewards: bool,
        pick_t: &mut dyn FnMut(&mut ChaCha8Rng) -> usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self> {
        let b = batch.len();
        let edited = images_tensor(&batch.iter().map(|e| &e.edited).collect::<Vec<_>>(), device);
        let source = images_tensor(&batch.iter().map(|e| &e.source).collect::<Vec<_>>(), device);
        let dims = edited.dims();
        let timesteps: Vec<usize> = (0..b).map(|_| pick_t(rng)).collect();
        let n: usize = dims.iter().product();
        let noise: Vec<f32> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let noise = Tensor::<4>::from_data(TensorData::new(noise, dims), device);
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
        let prompts = batch.iter().map(|e| e.instruction.clone()).collect();
        Ok(NoisedBatch { edited, noise, noisy, timesteps, conditions: Conditions { prompts, drops, rewards, source } })
    }

    /// Timesteps uniform over the training schedule.
    pub fn uniform_t(schedule: &NoiseSchedule) -> impl FnMut(&mut ChaCha8Rng) -> usize + use<> {
        let n = schedule.num_train_timesteps();
        move |rng: &mut ChaCha8Rng| rng.random_range(0..n)
    }
}

impl Editor {
    /// The UNet's output (and its stage features) for `noisy` at `timesteps` under
    /// `conditions`, each condition encoded by this editor's own embedders.
    pub fn predict(&self, config: &EditorConfig, conditions: &Conditions, noisy: Tensor<4>, timesteps: &[f32], device: &Device) -> (Tensor<4>, Vec<Tensor<4>>) {
        let c = conditions;
        let prompts: Vec<&str> = c.prompts.iter().map(String::as_str).collect();
        let text = self.encode_prompts(&config.vocab, &prompts, &c.drops.text, device);
        let input = Editor::unet_input(noisy, c.source.clone(), &c.drops.image);
        let reward = c.rewards.as_ref().and_then(|(scores, texts)| {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            self.reward_inputs(&config.vocab, scores, &texts, &c.drops.reward_uniforms, device)
        });
        let t = Tensor::<1>::from_data(TensorData::new(timesteps.to_vec(), [timesteps.len()]), device);
        self.unet.forward_features(input, t, text.hidden, reward)
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
