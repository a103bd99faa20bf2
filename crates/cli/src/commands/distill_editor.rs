//! `rewardedit distill-editor --recipe FILE [--out DIR] [--resume] [--dry-run] [--stop-after N]`:
//! the student editor — the teacher compressed into a smaller UNet, then progressive
//! distillation rounds that halve its sampling steps (issue 7). Each phase is a resumable run
//! folder under `--out`; the final student is `--out/editor`.

use anyhow::Result;
use burn::tensor::Device;
use clap::Args as ClapArgs;
use rewardedit_train::distill::{distill, DistillEvent, DistillRecipe};
use rewardedit_train::TrainOptions;

use super::run_args::RunArgs;
use super::train::{run_failure, TrainView};
use crate::backend::{self, BackendKind};
use crate::exit::InputContext;

#[derive(ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    let args = args.run;
    args.check()?;
    let recipe = DistillRecipe::load(&args.recipe).bad_input()?;
    if args.dry_run {
        print!("{}", recipe.resolved_toml()?);
        return Ok(());
    }
    let out = args.out_dir();
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
    .map_err(|e| run_failure(e, format!("distilling into {}", out.display())))?;
    view.finish();
    match outcome.editor_dir {
        Some(dir) => println!("student editor ({} steps): {}", outcome.student_steps, dir.display()),
        None => println!("stopped before the last phase finished; continue with --resume"),
    }
    Ok(())
}
