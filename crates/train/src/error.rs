//! The one error type of teacher training.

use std::path::PathBuf;

/// Why a training run could not be configured, fed, run, saved or resumed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A recipe value that cannot be used (the message names the field).
    #[error("invalid training recipe: {0}")]
    Config(String),
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what training expects (JSON, TOML, tensors).
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    /// Training data could not be produced or read (world sampling, manifest, images).
    #[error("training data: {0}")]
    Data(String),
    /// A model could not be built or loaded.
    #[error("model: {0}")]
    Model(#[from] rewardedit_models::ModelError),
    /// No checkpoint in the run folder passed its checksum check.
    #[error("{}: no intact checkpoint there (a run folder keeps them in checkpoints/step-NNNNNNNN)", .0.display())]
    NoCheckpoint(PathBuf),
    /// An output folder that already holds files (nothing is overwritten).
    #[error("{}: already holds files: choose another output folder or remove it", .0.display())]
    OutputExists(PathBuf),
    /// Training stopped because a loss became NaN or infinite.
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged { step: u64, loss: f32 },
}

impl TrainError {
    /// Whether the fault is in what the user gave: the recipe's values, its data, the folders
    /// it names, a `--resume` with nothing to resume (not a failed write or a diverged run).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, TrainError::Config(_) | TrainError::Data(_) | TrainError::Model(_) | TrainError::NoCheckpoint(_) | TrainError::OutputExists(_))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        TrainError::Format { path: path.into(), reason: reason.to_string() }
    }
}

impl From<rewardedit_world::Error> for TrainError {
    fn from(e: rewardedit_world::Error) -> Self {
        TrainError::Data(e.to_string())
    }
}

impl From<rewardedit_core::Error> for TrainError {
    fn from(e: rewardedit_core::Error) -> Self {
        TrainError::Data(e.to_string())
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
