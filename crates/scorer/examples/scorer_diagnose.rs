//! Where a student scorer loses Spearman against the exact oracle, per axis:
//! `cargo run --release -p rewardedit-scorer --example scorer_diagnose -- RECIPE STUDENT [train]`
//! scores the recipe's held-out set (or, with `train`, the first 1,500 training edits) and
//! prints
//! - the confusion of "perfect" (score 5.00) between oracle and student;
//! - Spearman over all edits, and over the flawed ones only;
//! - Spearman if the perfect calls were exact (the student's regression kept), and if the
//!   regression were exact (the student's perfect calls kept): which half of the hurdle head
//!   costs more.
//!
//! With `SHOW=1`, also the flawed edits (oracle score < 3) the student calls perfect.

use std::path::PathBuf;

use rewardedit_core::Axis;
use rewardedit_scorer::student::agreement::spearman;
use rewardedit_scorer::student::distill::score_examples;
use rewardedit_scorer::student::{DistillRecipe, Precision};

fn quartiles(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: usize| v[(v.len() - 1) * q / 4];
    format!("{:.2} {:.2} {:.2} {:.2} {:.2}", at(0), at(1), at(2), at(3), at(4))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(recipe), Some(student)) = (args.first(), args.get(1)) else {
        return Err("usage: scorer_diagnose RECIPE STUDENT [train]".into());
    };
    let recipe = DistillRecipe::load(&PathBuf::from(recipe))?;
    let res = recipe.model.resolution;
    let data = if args.get(2).is_some_and(|a| a == "train") {
        let mut d = recipe.data.load(res, &mut |_, _| {})?;
        d.truncate(1500);
        d
    } else {
        recipe.heldout.load(res, &mut |_, _| {})?
    };
    let pred = score_examples(&PathBuf::from(student), Precision::Fp32, &data, 128)?;
    for axis in Axis::ALL {
        let t: Vec<f64> = data.iter().map(|e| e.exact.as_ref().unwrap_or(&e.teacher).axis(axis).score() as f64).collect();
        let p: Vec<f64> = pred.iter().map(|r| r.axis(axis).score() as f64).collect();
        let n = t.len();
        let perfect = |x: f64| x >= 5.0;
        let count = |a: bool, b: bool| (0..n).filter(|&i| perfect(t[i]) == a && perfect(p[i]) == b).count();
        let flawed: Vec<usize> = (0..n).filter(|&i| !perfect(t[i])).collect();
        let pick = |v: &[f64]| flawed.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let exact_hurdle: Vec<f64> = (0..n).map(|i| if perfect(t[i]) { 5.0 } else { p[i].min(4.99) }).collect();
        let exact_regression: Vec<f64> =
            (0..n).map(|i| if perfect(p[i]) { 5.0 } else if perfect(t[i]) { 4.99 } else { t[i] }).collect();
        let rho = |x: &[f64], y: &[f64]| spearman(x, y).map_or("-".into(), |r| format!("{r:.3}"));
        println!("{axis:?} ({n} edits)");
        println!(
            "  perfect: both {} | student only {} | oracle only {} | neither {}",
            count(true, true),
            count(false, true),
            count(true, false),
            count(false, false)
        );
        println!("  oracle score of the false perfects: {}", quartiles((0..n).filter(|&i| !perfect(t[i]) && perfect(p[i])).map(|i| t[i]).collect()));
        println!("  student score of the missed perfects: {}", quartiles((0..n).filter(|&i| perfect(t[i]) && !perfect(p[i])).map(|i| p[i]).collect()));
        println!(
            "  Spearman: all {} | flawed only {} | with exact perfect calls {} | with exact regression {}",
            rho(&p, &t),
            rho(&pick(&p), &pick(&t)),
            rho(&exact_hurdle, &t),
            rho(&exact_regression, &t)
        );
        if std::env::var_os("SHOW").is_some() {
            for i in (0..n).filter(|&i| t[i] < 3.0 && perfect(p[i])) {
                let e = &data[i];
                println!("    {} oracle {:.2} {:?}: {}", e.id, t[i], e.instruction, e.exact.as_ref().unwrap_or(&e.teacher).axis(axis).flaw());
            }
        }
    }
    Ok(())
}
