//! `rewardedit distill-scorer --recipe FILE [--out RUN] [--resume] [--dry-run] [--stop-after N]`: trains the
//! student scorer on teacher labels, exports fp32 and int8 weights, and prints the held-out
//! agreement table (also written to RUN/agreement.json).

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::Args as ClapArgs;
use indicatif::ProgressBar;
use rewardedit_scorer::student::{agreement_table, distill, dry_run, DistillEvent, DistillOptions, DistillRecipe};

use super::run_args::RunArgs;
use crate::backend::{self, BackendKind};
use crate::exit::InputContext;
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
    let recipe = DistillRecipe::load(&args.recipe).bad_input()?;
    let out = args.out_dir();
    let device: Device = backend::device(kind, gpu)?.autodiff();
    let mut bar: Option<ProgressBar> = None;
    let outcome = distill(&recipe, &out, &DistillOptions { resume: args.resume, stop_after: args.stop_after, skip_eval: false }, &device, &mut |event| match event {
        DistillEvent::Data(what, done, total) => {
            let b = bar.get_or_insert_with(|| progress::bar(total, what));
            b.set_position(done);
            if done == total {
                b.finish_and_clear();
                bar = None;
            }
        }
        DistillEvent::Start { start, steps, params } => {
            eprintln!("training the student ({params} parameters) from step {start} to {steps} into {}", out.display());
            let b = progress::bar(steps, "distill");
            b.set_position(start);
            b.reset_eta();
            bar = Some(b);
        }
        DistillEvent::Step { step, loss, .. } => {
            if let Some(b) = &bar {
                b.set_position(step);
                b.set_message(format!("loss {loss:.4}"));
            }
        }
        DistillEvent::Evaluating => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("scoring the held-out set with the fp32 and int8 students");
        }
    })
    .with_context(|| format!("distilling the student scorer into {}", out.display()))?;
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    println!("student: {} (step {})", outcome.student_dir.display(), outcome.step);
    if outcome.step < recipe.train.steps {
        println!("stopped at step {} of {}; continue with --resume", outcome.step, recipe.train.steps);
    }
    if let Some(r) = outcome.report {
        let mut rows = vec![("fp32 vs teacher", &r.fp32_vs_teacher), ("int8 vs teacher", &r.int8_vs_teacher)];
        if let (Some(f), Some(i), Some(t)) = (&r.fp32_vs_exact, &r.int8_vs_exact, &r.teacher_vs_exact) {
            rows.extend([("fp32 vs exact oracle", f), ("int8 vs exact oracle", i), ("teacher vs exact", t)]);
        }
        println!("held-out agreement ({} edits):\n{}", r.n, agreement_table(&rows));
        println!(
            "weights: fp32 {} bytes, int8 {} bytes ({:.2}x smaller); max |fp32 - int8| score {:.4}; {} parameters",
            r.fp32_bytes,
            r.int8_bytes,
            r.fp32_bytes as f64 / r.int8_bytes.max(1) as f64,
            r.max_fp32_int8_score_gap,
            r.params
        );
        println!("written: {}", out.join(rewardedit_scorer::student::distill::AGREEMENT_FILE).display());
    }
    Ok(())
}
