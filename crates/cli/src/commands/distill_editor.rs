//! `rewardedit distill-editor --recipe FILE [--out DIR] [--resume] [--dry-run] [--stop-after N]`:
//! the student editor — the teacher compressed into a smaller UNet, then progressive
//! distillation rounds that halve its sampling steps (issue 7). Each phase is a resumable run
//! folder under `--out`; the final student is `--out/editor`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::Args as ClapArgs;
use rewardedit_train::distill::{distill, DistillEvent, DistillRecipe};
use rewardedit_train::TrainOptions;

use super::train::TrainView;
use crate::backend::{self, BackendKind};
use crate::exit::{bad_input, InputContext};

#[derive(ClapArgs)]
pub struct Args {
    /// The distillation recipe (e.g. recipes/world-student.toml).
    #[arg(long)]
    pub recipe: PathBuf,
    /// Output folder (default: runs/<recipe name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the unfinished phase from its newest intact checkpoint (same recipe required).
    #[arg(long)]
    pub resume: bool,
    /// Print the resolved recipe and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many optimiser steps in this invocation (continue with --resume).
    #[arg(long)]
    pub stop_after: Option<u64>,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    let recipe = DistillRecipe::load(&args.recipe).bad_input()?;
    if args.dry_run {
        print!("{}", recipe.resolved_toml()?);
        return Ok(());
    }
    if args.stop_after == Some(0) {
        return Err(bad_input("--stop-after must be at least 1"));
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("runs").join(args.recipe.file_stem().map_or("student".into(), |s| s.to_string_lossy().into_owned()))
    });
    let device: Device = backend::device(kind, gpu)?.autodiff();
    let options = TrainOptions { resume: args.resume, stop_after: args.stop_after };
    let mut view = TrainView::new("student".into(), out.clone());
    let outcome = distill(&recipe, &out, &options, &device, &mut |event| match event {
        DistillEvent::Phase { name, done, detail } => {
            view.finish();
            eprintln!("{name}: {detail}");
            if !done {
                view.retarget(name.clone(), out.join(&name));
            }
        }
        DistillEvent::Train(e) => view.show(e),
    })
    .with_context(|| format!("distilling into {}", out.display()))?;
    view.finish();
    match outcome.editor_dir {
        Some(dir) => println!("student editor ({} steps): {}", outcome.student_steps, dir.display()),
        None => println!("stopped before the last phase finished; continue with --resume"),
    }
    Ok(())
}
