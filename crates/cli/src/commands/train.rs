//! `rewardedit train --recipe FILE [--out RUN] [--resume] [--dry-run] [--stop-after N]`: trains the editor
//! (stage 1 or 2, as the recipe says) into a run folder with checkpoints, metrics.jsonl and,
//! at the end, the EMA editor folder.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use clap::Args as ClapArgs;
use indicatif::ProgressBar;
use rewardedit_train::{dry_run, train, TrainError, TrainEvent, TrainOptions, TrainRecipe};

use super::run_args::RunArgs;
use crate::backend::{self, BackendKind};
use crate::exit::{bad_input, InputContext};
use crate::progress;

#[derive(ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    let args = args.run;
    args.check()?;
    if args.dry_run {
        print!("{}", dry_run(&args.recipe).bad_input()?);
        return Ok(());
    }
    let recipe = TrainRecipe::load(&args.recipe).bad_input()?;
    let out = args.out_dir();
    let device: Device = backend::device(kind, gpu)?.autodiff();
    let options = TrainOptions { resume: args.resume, stop_after: args.stop_after };
    let mut view = TrainView::new(format!("{:?}", recipe.stage), out.clone());
    let outcome = train(&recipe, &out, &options, &device, &mut |event| view.show(event))
        .map_err(|e| run_failure(e, format!("training into {}", out.display())))?;
    view.finish();
    let last = outcome.losses.last().map_or("-".into(), |l| format!("{l:.4}"));
    println!("step {} of {}, last loss {last}", outcome.step, recipe.optim.steps);
    if let Some(dir) = outcome.editor_dir {
        println!("editor: {}", dir.display());
    }
    Ok(())
}

/// A failed run as the CLI reports it, after `what`: a fault in what the user gave (the
/// recipe, its data, the folders it names) exits 2, anything else 1.
pub fn run_failure(e: TrainError, what: String) -> anyhow::Error {
    if e.is_bad_input() {
        bad_input(format!("{what}: {e}"))
    } else {
        anyhow::Error::new(e).context(what)
    }
}

/// A training run's events on the terminal: messages on stderr, a progress bar over the steps
/// with loss and throughput.
pub struct TrainView {
    what: String,
    out: PathBuf,
    bar: Option<ProgressBar>,
}

impl TrainView {
    /// `what` names the run in the start line; `out` is its folder.
    pub fn new(what: String, out: PathBuf) -> Self {
        TrainView { what, out, bar: None }
    }

    pub fn show(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Preparing(what) => eprintln!("{what}"),
            TrainEvent::SkippedCheckpoint(why) => eprintln!("skipping a damaged checkpoint: {why}"),
            TrainEvent::Start { start, steps, params, effective_batch } => {
                self.finish();
                eprintln!(
                    "training {} ({params} parameters, {effective_batch} examples per step) from step {start} to {steps} into {}",
                    self.what,
                    self.out.display()
                );
                let b = progress::bar(steps, "train");
                b.set_position(start);
                b.reset_eta();
                self.bar = Some(b);
            }
            TrainEvent::Step { step, loss, samples_per_s, .. } => {
                if let Some(b) = &self.bar {
                    b.set_position(step);
                    b.set_message(format!("loss {loss:.4} {samples_per_s:.1} samples/s"));
                }
            }
            TrainEvent::Validation { step, path } => self.println(format!("step {step}: validation grid {}", path.display())),
            TrainEvent::Checkpoint { step, path } => self.println(format!("step {step}: checkpoint {}", path.display())),
        }
    }

    /// A line above the bar (or on stderr when there is none).
    pub fn println(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar of the run that ended.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Points later start lines at another run (a phase of a multi-run job).
    pub fn retarget(&mut self, what: String, out: PathBuf) {
        self.what = what;
        self.out = out;
    }
}
