//! The `rewardedit` binary: clap subcommands over the library crates. Errors caused by the
//! user's input exit with code 2, other failures with 1.

mod backend;
mod commands;
mod config_file;
mod exit;
mod progress;
mod scorers;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use backend::BackendKind;

/// rewardedit: train a multi-reward-conditioned image editor, distil the judge and the editor
/// into small quantized students, and check on Real-Edit that they keep parity.
#[derive(Parser)]
#[command(name = "rewardedit", version, about, long_about = None)]
struct Cli {
    /// burn backend for model work.
    #[arg(long, global = true, value_enum, default_value = "flex", env = "REWARDEDIT_BACKEND")]
    backend: BackendKind,
    /// CUDA device index (with `--backend cuda` or `libtorch-cuda`).
    #[arg(long, global = true, default_value_t = 0)]
    gpu: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: every world model (baseline, teacher, students) evaluated, scored twice,
    /// held to parity, with guidance and slider sweeps; summary.json, report.html and a table.
    Demo(commands::demo::Args),
    /// The edit world: sample data sets with exact targets, masks and oracle rewards.
    #[command(subcommand)]
    World(commands::world::WorldCommand),
    /// Read data collections (manifest, RewardEdit-20K, image folder, Real-Edit).
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Score one edit on the three axes (following, preservation, quality).
    Score(commands::score::Args),
    /// Score every edit of a manifest, resumably; failures are recorded and retried on re-run.
    Label(commands::label::Args),
    /// Train the student scorer on teacher labels; export fp32 + int8 and report agreement.
    DistillScorer(commands::distill_scorer::Args),
    /// Evaluate an editor on a benchmark (Real-Edit or the world): edit, score, summarise, report.
    Eval(commands::eval::Args),
    /// Hold a student editor's run against its teacher's: PASS/FAIL per axis and type.
    Parity(commands::parity::Args),
    /// Hold a student scorer against its teacher on a run's edits: Spearman, MAE, verdicts.
    ParityScorer(commands::parity::ScorerArgs),
    /// Several evaluation runs side by side, with deltas against the first.
    Compare(commands::eval::CompareArgs),
    /// Distil a trained editor into a smaller, few-step student (compression + progressive
    /// distillation).
    DistillEditor(commands::distill_editor::Args),
    /// Train the editor: stage 1 (InstructPix2Pix) or stage 2 (reward-conditioned) from a recipe.
    Train(commands::train::Args),
    /// Write a run's checkpoint (its newest, or one named) as an editor folder, before the run ends.
    Export(commands::export::Args),
    /// Time the editor's UNet forward with random weights (for GPU and CPU benchmarks).
    BenchUnet(commands::bench_unet::Args),
    /// Time whole edits with an editor folder (warm-up, then the median of several).
    BenchEdit(commands::bench_edit::Args),
    /// Edit one image with an editor folder: instruction + requested rewards (or a template).
    Edit(commands::edit::Args),
    /// Quantize an editor folder's weights (int8 per channel, fp16, bf16) and measure the error.
    Quantize(commands::quantize::Args),
    /// Editor folders: inspect (architecture, parameters, tensor check) and init (random weights).
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Print the version and compiled backends, and check that the device computes.
    Info,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    backend::pin_default(cli.backend);
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args, cli.backend, cli.gpu),
        Command::World(cmd) => commands::world::run(cmd),
        Command::Data(cmd) => commands::data::run(cmd),
        Command::Score(args) => commands::score::run(args, cli.backend, cli.gpu),
        Command::Label(args) => commands::label::run(args, cli.backend, cli.gpu),
        Command::DistillScorer(args) => commands::distill_scorer::run(args, cli.backend, cli.gpu),
        Command::Eval(args) => commands::eval::run(args, cli.backend, cli.gpu),
        Command::Parity(args) => commands::parity::run(args),
        Command::ParityScorer(args) => commands::parity::run_scorer(args, cli.backend, cli.gpu),
        Command::Compare(args) => commands::eval::compare(args),
        Command::Train(args) => commands::train::run(args, cli.backend, cli.gpu),
        Command::Export(args) => commands::export::run(args, cli.backend, cli.gpu),
        Command::DistillEditor(args) => commands::distill_editor::run(args, cli.backend, cli.gpu),
        Command::BenchUnet(args) => commands::bench_unet::run(args, cli.backend, cli.gpu),
        Command::BenchEdit(args) => commands::bench_edit::run(args, cli.backend, cli.gpu),
        Command::Edit(args) => commands::edit::run(args, cli.backend, cli.gpu),
        Command::Quantize(args) => commands::quantize::run(args, cli.backend, cli.gpu),
        Command::Model(cmd) => commands::model::run(cmd, cli.backend, cli.gpu),
        Command::Info => commands::info::run(cli.backend, cli.gpu),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_for(&err) as u8)
        }
    }
}
