//! The one error type of the world crate.

use std::path::PathBuf;

/// Errors from building, scoring and writing world data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A candidate image whose size is not the size the case was rendered at.
    #[error("candidate image is {got_w}x{got_h}, expected {expected}x{expected}")]
    WrongSize { expected: u32, got_w: u32, got_h: u32 },
    /// A configuration value that cannot be used (size too small, empty mixture...).
    #[error("invalid world config: {0}")]
    InvalidConfig(String),
    /// An edit that does not fit its scene (missing object, taken cell).
    #[error("edit does not fit the scene: {0}")]
    BadOp(String),
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reward, manifest and image I/O errors from the core crate.
    #[error(transparent)]
    Core(#[from] rewardedit_core::Error),
}
