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
//! - on world data, the same confusion per injected flaw kind (and "clean"): which flaws the
//!   student misses, and which flaws of another axis the oracle also counts against this one.
//!
//! With `SHOW=1`, also the flawed edits (oracle score < 3) the student calls perfect.

use std::path::PathBuf;

use rewardedit_core::Axis;
use rewardedit_scorer::student::agreement::spearman;
use rewardedit_scorer::student::distill::score_examples;
use rewardedit_scorer::student::{DataSource, DistillRecipe, Precision};
use rewardedit_world::sample_triplet;

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
    let train = args.get(2).is_some_and(|a| a == "train");
    let source = if train { &recipe.data } else { &recipe.heldout };
    let mut data = source.load(res, &mut |_, _| {})?;
    if train {
        data.truncate(1500);
    }
    // The injected flaw of each world edit (the loader keeps only the images and labels).
    let kinds: Option<Vec<String>> = match source {
        DataSource::World { seed, world, .. } => Some(
            (0..data.len() as u64)
                .map(|i| sample_triplet(world, *seed, i).map(|t| t.flaws.first().map_or("clean".to_string(), |f| format!("{:?}", f.kind))))
                .collect::<Result<_, _>>()?,
        ),
        DataSource::Manifest { .. } => None,
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
        if let Some(kinds) = &kinds {
            let mut names: Vec<&String> = kinds.iter().collect();
            names.sort();
            names.dedup();
            println!("  by injected flaw: agree | student only perfect | oracle only perfect");
            for name in names {
                let of = |a: bool, b: bool| (0..n).filter(|&i| &kinds[i] == name && perfect(t[i]) == a && perfect(p[i]) == b).count();
                println!("    {name:<16} {:>5} | {:>4} | {:>4}", of(true, true) + of(false, false), of(false, true), of(true, false));
            }
        }
        if std::env::var_os("SHOW").is_some() {
            for i in (0..n).filter(|&i| t[i] < 3.0 && perfect(p[i])) {
                let e = &data[i];
                println!("    {} oracle {:.2} {:?}: {}", e.id, t[i], e.instruction, e.exact.as_ref().unwrap_or(&e.teacher).axis(axis).flaw());
            }
        }
    }
    Ok(())
}
