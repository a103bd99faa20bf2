//! The one error type of the eval crate (architecture.md rule 6). Per-item failures (an edit
//! or a score that failed) are not errors of the run: they are recorded in `items.jsonl` and
//! counted. These are the failures that stop a run or a comparison.

use std::path::PathBuf;

/// Why a benchmark, a run or a comparison could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A benchmark spec, thresholds file or run setting is unusable.
    #[error("{0}")]
    Config(String),
    /// The benchmark's data could not be read (missing folder, malformed instructions).
    #[error("benchmark data: {0}")]
    Data(String),
    /// A run folder is not what the command needs (missing items, a line that is not a record,
    /// settings different from the ones the folder was started with).
    #[error("run {}: {reason}", dir.display())]
    Run { dir: PathBuf, reason: String },
    /// An image could not be loaded or written.
    #[error("image: {0}")]
    Image(String),
    /// The editor could not be set up.
    #[error(transparent)]
    Editor(#[from] crate::editor::EditError),
}

impl EvalError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvalError::Io { path: path.into(), source }
    }

    pub(crate) fn run(dir: &std::path::Path, reason: impl Into<String>) -> Self {
        EvalError::Run { dir: dir.to_path_buf(), reason: reason.into() }
    }

    /// Whether the error is caused by what the user gave (a path, a file, a setting) rather
    /// than by the machine: the CLI exits 2 for these.
    pub fn is_bad_input(&self) -> bool {
        match self {
            EvalError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            EvalError::Config(_) | EvalError::Data(_) | EvalError::Run { .. } | EvalError::Image(_) => true,
            EvalError::Editor(e) => e.is_bad_input(),
        }
    }
}

impl From<rewardedit_core::Error> for EvalError {
    fn from(e: rewardedit_core::Error) -> Self {
        match e {
            rewardedit_core::Error::Io { path, source } => EvalError::Io { path, source },
            rewardedit_core::Error::Image { path, reason } => {
                EvalError::Image(format!("{}: {reason}", path.display()))
            }
            other => EvalError::Data(other.to_string()),
        }
    }
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
