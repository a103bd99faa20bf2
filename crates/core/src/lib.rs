//! Shared vocabulary of rewardedit: the three-axis [`Reward`], the seven [`EditType`]s,
//! [`EditExample`] and its JSONL manifest, the data-set formats, and image I/O.

pub mod classify;
pub mod edit_type;
pub mod error;
pub mod example;
pub mod formats;
pub mod image_io;
mod jsonl;
pub mod manifest;
pub mod reward;
pub mod summary;
pub mod template;
pub mod vocab;

pub use classify::classify_instruction;
pub use edit_type::EditType;
pub use error::{Error, Result};
pub use example::{validate_instruction, EditExample, MAX_INSTRUCTION_CHARS};
pub use reward::{parse_scores, Axis, AxisScore, Reward, RewardCondition, MAX_SCORE};
pub use summary::{AxisStats, GroupStats, RewardSummary};
pub use template::{Template, UnknownTemplate};
pub use vocab::Vocab;
