//! The student-editor recipe (`recipes/world-student.toml`): which teacher, what the student
//! removes, and the two phases — architecture compression, then progressive step distillation.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DataSource;
use crate::recipe::{load_file, parse_toml, DropoutConfig, OptimConfig, RunConfig, SamplingDefaults};
use crate::{Result, TrainError};

/// A whole distillation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillRecipe {
    /// The teacher: an editor folder (a trained world editor's `editor/`, or an SD editor
    /// folder, whose VAE and CLIP the student shares, frozen).
    pub teacher: PathBuf,
    /// The teacher's sampling steps (DDIM, trailing spacing); each progressive round halves
    /// them for the student.
    pub teacher_steps: usize,
    /// Training image side in pixels.
    pub resolution: u32,
    /// An earlier student's editor folder (e.g. a run's `compress/editor`) to continue from
    /// instead of the teacher-initialised student: its UNet must be the `[student]` one. For
    /// compressing longer without redoing the steps already done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student_init: Option<PathBuf>,
    /// An earlier student's editor folder of another shape (e.g. the committed student, when
    /// `[student]` removes some of its blocks, BK-SDM-style): every tensor it has at the same
    /// path and shape starts the new student, the teacher's where it has none. Removing blocks
    /// from a trained student then costs a short compression instead of one from the teacher.
    /// Not together with `student_init`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student_warm_start: Option<PathBuf>,
    /// The student UNet: the fields of diffusers' unet config that differ from the teacher's
    /// (e.g. `block_out_channels`); everything else is the teacher's. Where a tensor keeps the
    /// teacher's shape (the prompt encoder, time projections) it starts from the teacher's value.
    #[serde(default)]
    pub student: toml::Table,
    /// Phase 1: architecture compression (output + feature distillation + denoising).
    #[serde(default)]
    pub compress: CompressConfig,
    /// Phase 2: progressive distillation rounds.
    #[serde(default)]
    pub progressive: ProgressiveConfig,
    /// Training triplets (with rewards when the teacher has reward modules).
    pub data: DataSource,
    /// Shared optimiser settings; each phase sets its own steps and learning rate.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Conditioning dropout, as the teacher was trained: the student learns every guidance
    /// branch (no text, no image, null reward) the sampler will ask of it.
    #[serde(default)]
    pub dropout: DropoutConfig,
    /// Probability of the null reward per row (the teacher's `null_dropout`).
    #[serde(default = "d_null")]
    pub null_dropout: f64,
    /// Logging and checkpoint cadence (every phase).
    #[serde(default)]
    pub run: RunConfig,
    /// How the student samples (its validation grids and exported `editor.json`) where it should
    /// differ from the default: the teacher's guidance scales with DDIM, the sampler the rounds
    /// distil. Its steps are `teacher_steps / 2^rounds`; only a recipe without rounds sets them.
    #[serde(default)]
    pub sampling: SamplingDefaults,
}

fn d_null() -> f64 {
    0.1
}

/// Architecture compression: the student matches the teacher's prediction under the same
/// inputs and conditions (rewards included), its stage features (attention transfer, which
/// needs no projection between unequal widths), and the data's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressConfig {
    /// Optimiser steps (0 skips the phase: the student is then the teacher itself).
    pub steps: u64,
    pub lr: f64,
    /// Weight of the output distillation loss (MSE to the teacher's prediction).
    pub output: f64,
    /// Weight of the feature loss (attention transfer on the mid and up-block outputs).
    pub feature: f64,
    /// Weight of the ordinary denoising loss (MSE to the data's target).
    pub denoise: f64,
    /// Which timesteps the losses are taken at.
    #[serde(skip_serializing_if = "CompressTimesteps::is_uniform")]
    pub timesteps: CompressTimesteps,
}

impl Default for CompressConfig {
    fn default() -> Self {
        CompressConfig { steps: 1000, lr: 1e-3, output: 1.0, feature: 1.0, denoise: 0.5, timesteps: CompressTimesteps::Uniform }
    }
}

/// The timesteps compression trains the student at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressTimesteps {
    /// Every training timestep equally often: a student that samples well with any step count.
    #[default]
    Uniform,
    /// Only the timesteps the student's own sampler visits (its scheduler and steps, rounded to
    /// training timesteps): a small student spends all its capacity where it is used, and
    /// samples worse with other step counts. Only without progressive rounds, whose students
    /// sample on other timesteps.
    Sampler,
}

impl CompressTimesteps {
    fn is_uniform(&self) -> bool {
        *self == CompressTimesteps::Uniform
    }
}

/// Progressive distillation (Salimans & Ho 2022): in each round the student, initialised from
/// the round's teacher, learns to take in one DDIM step what the teacher takes in two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProgressiveConfig {
    /// Rounds; the student samples with `teacher_steps / 2^rounds` steps.
    pub rounds: u32,
    /// Optimiser steps per round.
    pub steps: u64,
    pub lr: f64,
}

impl Default for ProgressiveConfig {
    fn default() -> Self {
        ProgressiveConfig { rounds: 2, steps: 500, lr: 5e-4 }
    }
}

impl DistillRecipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Self> {
        load_file(path, Self::from_toml)
    }

    /// Parses and validates recipe text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let recipe: DistillRecipe = parse_toml(text)?;
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        let steps = self.teacher_steps;
        let halvings = 1usize << self.progressive.rounds;
        if steps == 0 || !steps.is_multiple_of(halvings) {
            return bad(format!(
                "teacher_steps = {steps} must be a positive multiple of 2^rounds = {halvings} (each round halves the steps)"
            ));
        }
        if self.student_init.is_some() && self.student_warm_start.is_some() {
            return bad("student_init continues a student of the recipe's shape, student_warm_start starts one of another shape: set one of them".into());
        }
        if self.student_warm_start.is_some() && self.compress.steps == 0 {
            return bad("student_warm_start starts the compression phase: compress.steps must be positive".into());
        }
        if self.compress.steps == 0 && self.progressive.rounds == 0 {
            return bad("nothing to do: compress.steps = 0 and progressive.rounds = 0".into());
        }
        if self.progressive.rounds > 0 && self.progressive.steps == 0 {
            return bad("progressive.steps must be positive when progressive.rounds > 0".into());
        }
        let c = &self.compress;
        if [c.output, c.feature, c.denoise].iter().any(|w| !(w.is_finite() && *w >= 0.0)) || c.output + c.feature + c.denoise == 0.0 {
            return bad("compress: the loss weights output, feature, denoise must be >= 0 and not all 0".into());
        }
        if c.timesteps == CompressTimesteps::Sampler && self.progressive.rounds > 0 {
            return bad("compress.timesteps = \"sampler\" trains the student at the timesteps it samples with, and progressive rounds change them: set progressive.rounds = 0, or compress.timesteps = \"uniform\"".into());
        }
        if !(0.0..=1.0).contains(&self.null_dropout) {
            return bad(format!("null_dropout = {} must be in [0, 1]", self.null_dropout));
        }
        match self.sampling.steps {
            Some(n) if self.progressive.rounds > 0 => {
                return bad(format!(
                    "sampling.steps = {n}: a step-distilled student samples with teacher_steps / 2^rounds = {} steps; leave sampling.steps out (or set progressive.rounds = 0 to sample a compressed student with fewer steps than its teacher)",
                    self.student_steps()
                ));
            }
            Some(0) => return bad("sampling.steps must be positive".into()),
            _ => {}
        }
        if self.resolution < 8 {
            return bad(format!("resolution {} is too small", self.resolution));
        }
        for (name, lr) in [("compress.lr", c.lr), ("progressive.lr", self.progressive.lr)] {
            if !(lr > 0.0 && lr.is_finite()) {
                return bad(format!("{name} = {lr} must be positive"));
            }
        }
        let o = &self.optim;
        if o.batch_size == 0 || o.grad_accum == 0 {
            return bad("optim.batch_size and optim.grad_accum must be positive".into());
        }
        let r = &self.run;
        if r.log_every == 0 || r.checkpoint_every == 0 || r.keep_checkpoints < 2 {
            return bad("run.log_every and run.checkpoint_every must be positive, run.keep_checkpoints at least 2".into());
        }
        self.data.validate()
    }

    /// The recipe with every default filled in, as TOML (written into each phase's folder).
    pub fn resolved_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(format!("cannot write the recipe as TOML: {e}")))
    }

    /// Sampling steps of the final student: `teacher_steps / 2^rounds`; without rounds,
    /// `sampling.steps` where set (a compressed student sampled with fewer steps than its
    /// teacher, not distilled to them).
    pub fn student_steps(&self) -> usize {
        match self.sampling.steps {
            Some(n) if self.progressive.rounds == 0 => n,
            _ => self.teacher_steps >> self.progressive.rounds,
        }
    }

    /// The optimiser settings of a phase of `steps` steps at peak `lr`.
    pub fn phase_optim(&self, steps: u64, lr: f64) -> OptimConfig {
        OptimConfig { steps, lr, ..self.optim.clone() }
    }
}
