//! Typed errors of the models crate (architecture.md rule 6).

use thiserror::Error;

/// Everything that can go wrong building, loading or saving a model, or stepping a scheduler.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A config (ours or diffusers' `config.json`) asks for something this code cannot build.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// A config file could not be read or parsed.
    #[error("cannot read config {path}: {message}")]
    ConfigFile { path: String, message: String },
    /// Weights did not match the module one-to-one. Every list names the tensors (file keys).
    #[error("{}", describe_mismatch(.missing, .unexpected, .mismatched))]
    WeightMismatch {
        /// Tensors the module needs that the file does not have.
        missing: Vec<String>,
        /// Tensors in the file the module has no place for.
        unexpected: Vec<String>,
        /// Tensors present on both sides whose shape or dtype differ (with the reason).
        mismatched: Vec<String>,
    },
    /// The safetensors store failed (I/O, format).
    #[error("safetensors {path}: {message}")]
    Store { path: String, message: String },
    /// An edit request the pipeline cannot run (empty instruction, bad scores, sizes).
    #[error("{0}")]
    InvalidInput(String),
    /// A scheduler was used out of order or without what it needs.
    #[error("scheduler: {0}")]
    Scheduler(String),
}

fn describe_mismatch(missing: &[String], unexpected: &[String], mismatched: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing tensors: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected tensors: {}", unexpected.join(", ")));
    }
    if !mismatched.is_empty() {
        parts.push(format!("mis-shaped tensors: {}", mismatched.join("; ")));
    }
    format!("weights do not match the model: {}", parts.join("; "))
}

pub type Result<T> = std::result::Result<T, ModelError>;
