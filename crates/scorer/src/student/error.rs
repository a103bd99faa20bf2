//! The one error type of the student scorer: training, storage and inference.

use std::path::PathBuf;

/// Why the student could not be built, trained, saved, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum StudentError {
    /// A recipe or network configuration value that cannot be used.
    #[error("invalid student configuration: {0}")]
    Config(String),
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what the student expects (JSON, TOML, tensors).
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    /// The teacher data could not be produced or read (world sampling, manifest, images).
    #[error("teacher data: {0}")]
    Data(String),
    /// Training stopped because a loss became NaN or infinite.
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged { step: u64, loss: f32 },
    /// A shared training utility failed (metrics file, learning-rate schedule).
    #[error(transparent)]
    Train(#[from] rewardedit_train::TrainError),
}

impl StudentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StudentError::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        StudentError::Format { path: path.into(), reason: reason.to_string() }
    }
}

impl From<rewardedit_world::Error> for StudentError {
    fn from(e: rewardedit_world::Error) -> Self {
        StudentError::Data(e.to_string())
    }
}

impl From<rewardedit_core::Error> for StudentError {
    fn from(e: rewardedit_core::Error) -> Self {
        StudentError::Data(e.to_string())
    }
}
