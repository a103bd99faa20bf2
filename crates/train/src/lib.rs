//! Teacher training of the reward-conditioned editor (issue 4): stage 1 (InstructPix2Pix) and
//! stage 2 (rewards as conditions), one straight-line loop ([`trainer`]) on any autodiff device,
//! with recipes, checkpoints that survive kills, resume, EMA and metrics.

pub mod batch;
pub mod checkpoint;
pub mod clip;
pub mod data;
pub mod distill;
pub mod dropout;
pub mod editor;
pub mod ema;
pub mod error;
pub mod export;
pub mod frozen;
pub mod lr;
pub mod metrics;
pub mod recipe;
pub mod region;
pub mod timesteps;
pub mod trainer;
pub mod validate;

pub use error::{Result, TrainError};
pub use recipe::{dry_run, Stage, TrainRecipe};
pub use trainer::{train, TrainEvent, TrainOptions, TrainOutcome};
