//! Evaluation (issue 6): the [`Editor`] trait, the two benchmarks (Real-Edit and the world
//! benchmark), resumable runs that edit, score and record every item, summaries with bootstrap
//! confidence intervals, reports, parity verdicts and side-by-side comparisons.
//!
//! - [`editor`]: [`Editor`], [`NoopEditor`], [`open_editor_dir`] (the pipeline's plug).
//! - [`benchmark`]: [`Benchmark`], [`WorldSpec`] (`eval/world-benchmark.toml`).
//! - [`run`]: [`run_eval`] writes `RUN/items.jsonl` ([`record`]), `summary.json` ([`summary`]),
//!   `report.md` and `report.html` ([`report`]), and `manifest.jsonl`: the scored edits as a
//!   labelled manifest ([`manifest`]).
//! - [`parity`]: [`run_parity`] and [`scorer_parity`] against `eval/parity.toml`.
//! - [`rescore`]: a run's edits scored again by another scorer ([`rescore_run`]).
//! - [`compare`]: several runs side by side.
//! - [`quantization`]: how far a quantized editor drifts from its source on a calibration set.

pub mod benchmark;
pub mod compare;
pub mod diffusion;
pub mod editor;
pub mod error;
pub mod manifest;
pub mod parity;
pub mod quantization;
pub mod record;
pub mod report;
pub mod rescore;
pub mod run;
pub mod stats;
pub mod summary;

pub use benchmark::{Benchmark, BenchmarkItem, WorldSpec};
pub use editor::{open_editor_dir, EditError, EditInput, EditSettings, Editor, NoopEditor, RewardRequest};
pub use error::{EvalError, Result};
pub use parity::{run_parity, scorer_parity, ParityReport, Thresholds};
pub use record::{read_records, ItemRecord};
pub use rescore::{rescore_requests, rescore_run};
pub use run::{run_eval, RunOptions, RunOutcome, RunProgress};
pub use stats::Bootstrap;
pub use summary::RunSummary;
