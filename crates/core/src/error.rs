//! The one error type of the core crate; every variant names what was wrong and where.

use std::path::PathBuf;

/// Errors from reading, validating and writing rewardedit data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A score, verdict or flaw that breaks the reward contract (range, NaN, missing field).
    #[error("invalid reward: {0}")]
    InvalidReward(String),
    /// An instruction that is empty, too long, or otherwise unusable.
    #[error("invalid instruction: {0}")]
    InvalidInstruction(String),
    /// An edit type name that is not one of the seven Real-Edit types.
    #[error("unknown edit type {0:?}: expected one of Local, Remove, Add, Texture, Background, Global, Style")]
    UnknownEditType(String),
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not an image we can use.
    #[error("{}: {reason}", path.display())]
    Image { path: PathBuf, reason: String },
    /// A record in a data file (manifest line, JSON entry) is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    Record {
        path: PathBuf,
        /// 1-based line (JSONL) or entry number (JSON); 0 when the whole file is at fault.
        line: usize,
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
