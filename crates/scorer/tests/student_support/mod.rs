//! Tiny students and world data shared by the student tests.
#![allow(dead_code)]

use rewardedit_scorer::student::data::{DataSource, TeacherExample};
use rewardedit_scorer::student::{DistillRecipe, NetworkShape, StudentConfig, TrainConfig, Vocab};
use rewardedit_world::WorldConfig;

/// A 16 px world (the smallest the world renders).
pub fn tiny_world() -> WorldConfig {
    WorldConfig { size: 16, ..WorldConfig::default() }
}

/// A network a few thousand parameters big.
pub fn tiny_shape() -> NetworkShape {
    NetworkShape { resolution: 16, channels: vec![8, 16], blocks: 1, groups: 4, text_dim: 16, text_layers: 1, text_heads: 2, max_tokens: 12, hidden: 16, score_margin: 0.25, mask_head: false, mask_pool: true, block_attention: false, fusion_layers: 0 }
}

/// `n` world examples of `seed` at 16 px.
pub fn world_examples(seed: u64, n: u64) -> Vec<TeacherExample> {
    DataSource::World { seed, n, world: tiny_world() }.load(16, &mut |_, _| {}).expect("world data")
}

pub fn tiny_config(examples: &[TeacherExample]) -> StudentConfig {
    tiny_shape().with_vocab(Vocab::build(examples.iter().map(|e| e.instruction.as_str()))).expect("valid config")
}

/// A recipe over a tiny world: `steps` steps of batch 8.
pub fn tiny_recipe(steps: u64) -> DistillRecipe {
    DistillRecipe {
        model: tiny_shape(),
        train: TrainConfig { seed: 3, steps, batch_size: 8, warmup_steps: 2, checkpoint_every: 2, log_every: 1, eval_batch_size: 16, ..TrainConfig::default() },
        loss: Default::default(),
        data: DataSource::World { seed: 11, n: 48, world: tiny_world() },
        extra_data: vec![],
        heldout: DataSource::World { seed: 12, n: 21, world: tiny_world() },
    }
}

/// burn's weight initialisers draw from the device's one global generator, which `device.seed`
/// resets (and parameters are initialised lazily, at their first use): tests that build and run
/// students take this lock so their initial weights are reproducible.
static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}
