//! Exports a distillation run's latest checkpoint and prints its held-out agreement, while the
//! run goes on:
//! `cargo run --release -p rewardedit-scorer --example student_checkpoint_eval -- RECIPE RUN`.
//! A checkpoint without `config.json` (older runs) gets one rebuilt from the recipe's data.

use std::path::PathBuf;

use rewardedit_scorer::student::distill::{evaluate, export_checkpoint, student_config, CHECKPOINT_DIR};
use rewardedit_scorer::student::store::CONFIG_FILE;
use rewardedit_scorer::student::{agreement_table, DistillRecipe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [recipe_path, run] = args.as_slice() else {
        return Err("usage: student_checkpoint_eval RECIPE RUN".into());
    };
    let recipe = DistillRecipe::load(recipe_path)?;
    let ckpt = run.join(CHECKPOINT_DIR);
    if !ckpt.join(CONFIG_FILE).exists() {
        let train = recipe.data.load(recipe.model.resolution, &mut |_, _| {})?;
        std::fs::write(ckpt.join(CONFIG_FILE), serde_json::to_string_pretty(&student_config(&recipe, &train)?)?)?;
    }
    let out = run.join("student-checkpoint");
    let step = export_checkpoint(run, &out)?;
    let heldout = recipe.heldout.load(recipe.model.resolution, &mut |_, _| {})?;
    let r = evaluate(&out, &heldout, recipe.train.eval_batch_size, 0)?;
    let mut rows = vec![("fp32 vs teacher", &r.fp32_vs_teacher), ("int8 vs teacher", &r.int8_vs_teacher)];
    if let (Some(f), Some(i)) = (&r.fp32_vs_exact, &r.int8_vs_exact) {
        rows.extend([("fp32 vs exact oracle", f), ("int8 vs exact oracle", i)]);
    }
    println!("checkpoint step {step}, {} held-out edits:\n{}", r.n, agreement_table(&rows));
    println!("max |fp32 - int8| score {:.4}", r.max_fp32_int8_score_gap);
    Ok(())
}
