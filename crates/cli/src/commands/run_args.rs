//! The flags every training command takes (`train`, `distill-editor`, `distill-scorer`): one
//! definition, so the three behave alike and say the same in `--help`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;

use crate::exit::bad_input;

#[derive(ClapArgs, Debug, Clone)]
pub struct RunArgs {
    /// The recipe, a TOML file (e.g. recipes/world-teacher-stage1.toml).
    #[arg(long)]
    pub recipe: PathBuf,
    /// Run folder (default: runs/<recipe file name without .toml>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the run folder's newest intact checkpoint (same recipe required).
    #[arg(long)]
    pub resume: bool,
    /// Print the resolved recipe and exit without training.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many optimiser steps in this invocation (the schedule still spans the
    /// recipe's steps; continue later with --resume).
    #[arg(long)]
    pub stop_after: Option<u64>,
}

impl RunArgs {
    /// A fresh (or, with `resume`, a continued) run of `recipe` into `out`.
    pub fn new(recipe: PathBuf, out: PathBuf, resume: bool) -> Self {
        RunArgs { recipe, out: Some(out), resume, dry_run: false, stop_after: None }
    }

    /// `--out`, else `runs/<recipe stem>`.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let stem = self.recipe.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from("runs").join(stem)
        })
    }

    /// Rejects flag values no run can honour (exit code 2).
    pub fn check(&self) -> Result<()> {
        if self.stop_after == Some(0) {
            return Err(bad_input("--stop-after must be at least 1 (leave it out to run to the recipe's last step)"));
        }
        Ok(())
    }
}
