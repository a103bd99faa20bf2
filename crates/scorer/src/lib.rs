//! Scorers measure an edit on the three reward axes (following, preservation, quality).
//!
//! - [`Scorer`]: the extension point; a [`ScoreRequest`] in, a [`Reward`](rewardedit_core::Reward)
//!   out, or a typed [`ScoreError`] — never an invented score.
//! - [`lvlm::LvlmScorer`]: the teacher, any OpenAI-compatible vision-language endpoint.
//! - [`OracleScorer`]: the edit world's exact oracle (optionally noisy), for world items.
//! - [`label::label`]: the resumable labelling job over a manifest.
//! - [`student`]: the distilled, quantizable student scorer and its agreement figures.

pub mod error;
pub mod label;
pub mod lvlm;
pub mod oracle;
pub mod request;
pub mod scorer;
pub mod student;

pub use error::ScoreError;
pub use label::{label, LabelError, LabelOptions, LabelProgress, LabelSummary};
pub use lvlm::{LvlmConfig, LvlmScorer, Preset};
pub use oracle::OracleScorer;
pub use request::{image_hash, ScoreRequest};
pub use scorer::Scorer;
pub use student::{Precision, StudentScorer};
