//! `rewardedit demo`: the toolchain on the built-in edit world. It samples a world data set with
//! flawed triplets, scores every triplet with the exact oracle, prints the per-type and per-flaw
//! tables, and writes `summary.json` and a PNG grid.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use rewardedit_core::image_io::save_png;
use rewardedit_core::{EditType, RewardSummary};
use rewardedit_world::grid::gray_to_rgb;
use rewardedit_world::{grid, sample_triplet, Triplet, WorldConfig};
use serde_json::json;

use crate::exit::bad_input;
use crate::{progress, table};

#[derive(ClapArgs)]
pub struct Args {
    /// Number of world triplets (edit types balanced).
    #[arg(long, default_value_t = 350)]
    pub n: u64,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of clean triplets; the rest carry one injected flaw.
    #[arg(long, default_value_t = 0.5)]
    pub clean_fraction: f32,
    /// Output folder for summary.json and grid.png.
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
}

/// Grid rows per edit type: enough to see each kind of flaw, small enough to look at.
const GRID_ROWS_PER_TYPE: usize = 2;

/// The flaw family of a triplet, or "clean".
fn flaw_group(t: &Triplet) -> &'static str {
    t.flaws.first().map_or("clean", |f| f.kind.family().name())
}

pub fn run(args: Args) -> Result<()> {
    if args.n == 0 {
        return Err(bad_input("--n must be at least 1"));
    }
    let cfg = WorldConfig { size: args.size, clean_fraction: args.clean_fraction, ..WorldConfig::default() };
    cfg.validate().map_err(|e| bad_input(format!("invalid demo settings: {e}")))?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    let mut by_type: RewardSummary<EditType> = RewardSummary::default();
    let mut by_flaw: RewardSummary<&str> = RewardSummary::default();
    let mut rows = Vec::new();
    let mut shown = [0usize; 7];
    let bar = progress::bar(args.n, "world");
    for index in 0..args.n {
        let t = sample_triplet(&cfg, args.seed, index).context("sampling a world triplet")?;
        // The oracle's reward of the edited image (exact: the demo's world has no judge noise).
        by_type.add(t.instruction.edit_type, &t.reward);
        by_flaw.add(flaw_group(&t), &t.reward);
        let k = t.instruction.edit_type as usize;
        if shown[k] < GRID_ROWS_PER_TYPE {
            shown[k] += 1;
            rows.push(vec![t.source.clone(), t.edited.clone(), t.target.clone(), gray_to_rgb(&t.mask)]);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let overall = by_type.overall().context("no triplets were scored")?;
    let types = by_type.by_group();
    let flaws = by_flaw.by_group();
    println!(
        "rewardedit demo: {} world triplets, {} px, seed {}, {:.0}% clean, scored by the exact oracle\n",
        args.n,
        args.size,
        args.seed,
        args.clean_fraction * 100.0
    );
    let mut type_rows: Vec<_> = types.iter().map(|(t, s)| (t.to_string(), s)).collect();
    type_rows.push(("all".into(), &overall));
    println!("{}", table::axis_table("edit type", type_rows));
    println!("{}", table::axis_table("flaw family", flaws.iter().map(|(f, s)| (f.to_string(), s))));

    let grid_path = args.out.join("grid.png");
    save_png(&grid_path, &grid(&rows))?;
    let summary = json!({
        "benchmark": "world",
        "scorer": "oracle",
        "n": args.n,
        "size": args.size,
        "seed": args.seed,
        "clean_fraction": args.clean_fraction,
        "overall": overall,
        "by_type": types,
        "by_flaw": flaws,
    });
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", summary_path.display()))?;
    println!("wrote {} and {} (source | edited | target | mask)", summary_path.display(), grid_path.display());
    Ok(())
}
