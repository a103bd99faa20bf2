//! One file per subcommand.

pub mod bench_edit;
pub mod bench_timing;
pub mod bench_unet;
pub mod data;
pub mod demo;
pub mod distill_editor;
pub mod distill_scorer;
pub mod edit;
pub mod eval;
pub mod export;
pub mod info;
pub mod label;
pub mod model;
pub mod parity;
pub mod quantize;
pub mod run_args;
pub mod sampler_args;
pub mod score;
pub mod train;
pub mod world;
