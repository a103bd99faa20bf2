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
    /// An entry of a JSON object file (RewardEdit-20K, Real-Edit `instructions.json`) is
    /// malformed; `key` names the entry (the object key, or `key#n` for its n-th element).
    #[error("{} entry {key:?}: {reason}", path.display())]
    Entry { path: PathBuf, key: String, reason: String },
    /// A `FORMAT:PATH` data-set specification that cannot be understood.
    #[error("invalid data set {spec:?}: {reason}")]
    Spec { spec: String, reason: String },
    /// An item of a data set is unusable and bad items were not to be skipped.
    #[error("bad item {location}: {reason}\n(fix or remove it, or skip bad items (--skip-bad) to list them all)")]
    BadItem { location: String, reason: String },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
