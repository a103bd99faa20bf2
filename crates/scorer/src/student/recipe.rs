//! The distillation recipe (`recipes/world-scorer.toml`): network shape, teacher data, held-out
//! data and optimisation. Every run writes its resolved recipe (defaults filled in) beside its
//! outputs; [`DistillRecipe::resolved_toml`] is also what `--dry-run` prints.

use std::path::{Path, PathBuf};

use rewardedit_train::lr::LrSchedule;
use serde::{Deserialize, Serialize};

use super::config::{is_zero, NetworkShape};
use super::data::DataSource;
use super::loss::LossConfig;
use super::StudentError;

/// A whole distillation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillRecipe {
    /// Network shape (the vocabulary comes from the training instructions).
    #[serde(default)]
    pub model: NetworkShape,
    /// Optimisation.
    #[serde(default)]
    pub train: TrainConfig,
    /// Loss weights.
    #[serde(default)]
    pub loss: LossConfig,
    /// Teacher-labelled training edits.
    pub data: DataSource,
    /// More teacher-labelled training edits (`[[extra_data]]` tables), appended to `data`: e.g.
    /// the manifests of eval runs, so the student also learns real editors' outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_data: Vec<DataSource>,
    /// Held-out edits for the agreement report (disjoint seed, ideally held-out phrasings).
    pub heldout: DataSource,
}

/// Optimisation settings: AdamW with linear warm-up then cosine decay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed of the initial weights and of the batch draws (batch `t` is a function of seed and t).
    pub seed: u64,
    /// Optimiser steps.
    pub steps: u64,
    /// Edits per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// Final learning rate of the cosine decay, as a fraction of `lr`.
    pub min_lr_fraction: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Steps between checkpoints (the last step always checkpoints).
    pub checkpoint_every: u64,
    /// Steps between metrics.jsonl lines.
    pub log_every: u64,
    /// Edits per forward pass when scoring the held-out set.
    pub eval_batch_size: usize,
    /// Start from this student folder's fp32 weights and vocabulary instead of random weights,
    /// with a fresh optimiser and this recipe's schedule: a longer or second schedule for a
    /// student, or fine-tuning it on new teacher labels. `[model]` must describe its network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// Probability that a word of a training instruction is read as the unknown token (word
    /// dropout), so that unseen wordings do not throw the student; 0 = off.
    #[serde(skip_serializing_if = "is_zero")]
    pub word_dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            steps: 3000,
            batch_size: 64,
            lr: 2e-3,
            warmup_steps: 100,
            min_lr_fraction: 0.05,
            weight_decay: 1e-4,
            checkpoint_every: 250,
            log_every: 10,
            eval_batch_size: 128,
            init: None,
            word_dropout: 0.0,
        }
    }
}

impl TrainConfig {
    /// Learning rate at `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        LrSchedule::Cosine.lr_at(step, self.lr, self.warmup_steps, self.steps, self.min_lr_fraction)
    }
}

impl DistillRecipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Self, StudentError> {
        let text = std::fs::read_to_string(path).map_err(|e| StudentError::io(path, e))?;
        let recipe: DistillRecipe = toml::from_str(&text).map_err(|e| StudentError::format(path, e))?;
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn validate(&self) -> Result<(), StudentError> {
        let t = &self.train;
        if t.steps == 0 || t.batch_size < 2 || t.checkpoint_every == 0 || t.log_every == 0 || t.eval_batch_size == 0 {
            return Err(StudentError::Config(
                "steps, checkpoint_every, log_every and eval_batch_size must be positive and batch_size at least 2".into(),
            ));
        }
        if !t.lr.is_finite() || t.lr <= 0.0 || !(0.0..=1.0).contains(&t.min_lr_fraction) {
            return Err(StudentError::Config(format!("lr {} must be positive, min_lr_fraction in [0, 1]", t.lr)));
        }
        if !(0.0..1.0).contains(&t.word_dropout) {
            return Err(StudentError::Config(format!("word_dropout {} must be in [0, 1)", t.word_dropout)));
        }
        if let DataSource::Manifest { path, repeat } = &self.heldout
            && *repeat != 1
        {
            return Err(StudentError::Config(format!("[heldout] {}: repeat counts each held-out edit {repeat} times; leave it out", path.display())));
        }
        for d in self.training_sources().chain([&self.heldout]) {
            if let DataSource::Manifest { path, repeat: 0 } = d {
                return Err(StudentError::Config(format!("{}: repeat must be at least 1", path.display())));
            }
            if let DataSource::World { world, n, .. } = d {
                world.validate()?;
                if *n == 0 {
                    return Err(StudentError::Config("a world data source needs n > 0".into()));
                }
            }
        }
        for d in self.training_sources() {
            if let (DataSource::World { seed: a, world: wa, .. }, DataSource::World { seed: b, world: wb, .. }) = (d, &self.heldout)
                && a == b
                && wa == wb
            {
                return Err(StudentError::Config(format!("the held-out set uses the training seed {a} and world: it would not be held out")));
            }
        }
        Ok(())
    }

    /// `data`, then every `extra_data` source, in the order their edits are numbered.
    pub fn training_sources(&self) -> impl Iterator<Item = &DataSource> {
        std::iter::once(&self.data).chain(&self.extra_data)
    }

    /// The recipe with every default filled in, as TOML (written to the run folder; `--dry-run`).
    pub fn resolved_toml(&self) -> Result<String, StudentError> {
        toml::to_string_pretty(self).map_err(|e| StudentError::Config(format!("cannot write the recipe as TOML: {e}")))
    }
}

/// Reads, validates and resolves a recipe without training: what `--dry-run` prints.
pub fn dry_run(path: &Path) -> Result<String, StudentError> {
    DistillRecipe::load(path)?.resolved_toml()
}
