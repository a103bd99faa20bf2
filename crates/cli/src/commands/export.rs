//! `rewardedit export RUN --out DIR [--weights ema|raw]`: a training or distillation run's
//! checkpoint as an editor folder, so that a run can be evaluated or used before it ends (a run
//! writes its `editor/` only at its last step). RUN is a run folder (its newest intact
//! checkpoint) or one checkpoint folder.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use clap::{Args as ClapArgs, ValueEnum};
use rewardedit_train::export::export_checkpoint;
use rewardedit_train::recipe::WeightsKind;
use rewardedit_train::TrainEvent;

use super::train::run_failure;
use crate::backend::{self, BackendKind};

#[derive(ClapArgs)]
pub struct Args {
    /// A run folder (`train --out`, or a distillation phase such as RUN/compress) or one of its
    /// checkpoint folders (RUN/checkpoints/step-NNNNNNNN).
    pub run: PathBuf,
    /// Which weights: the EMA (what the run exports at its end) or the raw optimiser weights.
    #[arg(long, value_enum, default_value = "ema")]
    pub weights: Weights,
    /// The editor folder to write (must not hold files).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Weights {
    Ema,
    Raw,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    let device: Device = backend::device(kind, gpu)?;
    let weights = match args.weights {
        Weights::Ema => WeightsKind::Ema,
        Weights::Raw => WeightsKind::Raw,
    };
    let mut events = |event: TrainEvent| {
        if let TrainEvent::Preparing(what) = event {
            eprintln!("{what}");
        }
    };
    let step = export_checkpoint(&args.run, weights, &args.out, &device, &mut events)
        .map_err(|e| run_failure(e, format!("exporting {}", args.run.display())))?;
    println!("editor (step {step}): {}", args.out.display());
    Ok(())
}
