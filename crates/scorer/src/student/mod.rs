//! The student scorer (issue 5 section 2): a small burn network distilled from teacher labels,
//! with an int8 variant and agreement figures against the teacher.
//!
//! - [`network`]: residual CNN over source, edited and their difference, FiLM-conditioned on a
//!   self-attention instruction encoder ([`tokenizer`]), with cross-attention from the
//!   instruction's words to the image; [`config`] its shape (and layout version).
//! - [`distill`]: the training loop ([`loss`], [`recipe`], [`data`]).
//! - [`store`]: the student folder (fp32 and int8 safetensors + config.json; the int8 format is
//!   `rewardedit_models::int8`, per tensor).
//! - [`scorer`]: [`StudentScorer`], the network behind the [`Scorer`](crate::Scorer) trait.
//! - [`agreement`]: Spearman, Pearson, MAE, verdict agreement, pairwise accuracy.

pub mod agreement;
pub mod batch;
pub mod config;
pub mod data;
pub mod distill;
pub mod error;
pub mod loss;
pub mod network;
pub mod recipe;
pub mod scorer;
pub mod store;
pub mod tokenizer;

pub use agreement::{agreement, agreement_table, Agreement, AxisAgreement};
pub use config::{NetworkShape, StudentConfig};
pub use data::{DataSource, TeacherExample};
pub use distill::{distill, AgreementReport, DistillEvent, DistillOptions, DistillOutcome, StepMetrics};
pub use error::StudentError;
pub use network::{StudentNet, StudentOutput};
pub use recipe::{dry_run, DistillRecipe, TrainConfig};
pub use scorer::StudentScorer;
pub use store::{load_student, save_student, Precision};
pub use tokenizer::Vocab;
