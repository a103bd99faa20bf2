//! What the train crate's test binaries share: the tiny noisy-world data block of their recipes,
//! and one-at-a-time model building.
#![allow(dead_code)]

use burn::prelude::*;

/// The `[data]` tables of every test recipe: 64 triplets of a 16 px noisy world (half flawed,
/// noisy-oracle labels). A macro so recipes stay `concat!`-built string constants.
macro_rules! world_data {
    () => {
        r#"
[data]
kind = "world"
seed = 3
n = 64
vocab_samples = 64
[data.world]
size = 16
clean_fraction = 0.5
[data.world.judge_noise]
score_sd = 0.5
flip_probability = 0.1
bias = [0.3, 0.0, -0.2]
"#
    };
}

/// burn's weight initialisers draw from the device's one global generator, which `device.seed`
/// resets: tests that build models run one at a time so their initial weights are reproducible.
static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The training device: Flex with autodiff.
pub fn device() -> Device {
    Device::flex().autodiff()
}
