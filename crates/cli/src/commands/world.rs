//! `rewardedit world sample|show`: sampled world data sets and their contact sheets.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use rewardedit_core::image_io::save_png;
use rewardedit_world::{write_dataset, PhrasingSet, WorldConfig};

use crate::exit::{bad_input, InputContext};
use crate::{config_file, progress};

#[derive(Subcommand)]
pub enum WorldCommand {
    /// Write a world data set: source, edited, target and mask PNGs, oracle rewards and
    /// DIR/manifest.jsonl. The same arguments give the same bytes.
    Sample(SampleArgs),
    /// Draw a sampled folder as a grid: source | edited | target | mask, one example per row.
    Show {
        /// A folder written by `world sample`.
        dir: PathBuf,
        /// Where to write the PNG grid.
        #[arg(long)]
        out: PathBuf,
        /// How many examples (rows) to draw.
        #[arg(long, default_value_t = 14)]
        rows: usize,
    },
}

#[derive(ClapArgs)]
pub struct SampleArgs {
    /// Number of triplets; edit types are balanced (index modulo 7).
    #[arg(long)]
    pub n: u64,
    /// Image side in pixels (32, 64 or 128 are the usual sizes).
    #[arg(long)]
    pub size: Option<u32>,
    /// Random seed: the data set is a pure function of the seed and the config.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of clean triplets, 0-1; the others carry one injected flaw.
    #[arg(long)]
    pub clean_fraction: Option<f32>,
    /// Use the held-out instruction phrasings (for testing generalisation).
    #[arg(long)]
    pub held_out: bool,
    /// A world config (TOML, the fields of `WorldConfig`, e.g. recipes/world-data.toml);
    /// flags given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

impl SampleArgs {
    /// The config file (or the defaults) with the command-line overrides applied.
    pub fn resolve(&self) -> Result<WorldConfig> {
        let mut cfg: WorldConfig = config_file::load_or_default(self.config.as_deref(), "world config")?;
        if let Some(size) = self.size {
            cfg.size = size;
        }
        if let Some(f) = self.clean_fraction {
            cfg.clean_fraction = f;
        }
        if self.held_out {
            cfg.phrasing = PhrasingSet::HeldOut;
        }
        cfg.validate().map_err(|e| bad_input(format!("invalid world config: {e}")))?;
        Ok(cfg)
    }
}

pub fn run(cmd: WorldCommand) -> Result<()> {
    match cmd {
        WorldCommand::Sample(args) => sample(&args),
        WorldCommand::Show { dir, out, rows } => {
            let sheet = rewardedit_world::show(&dir, rows).bad_input()?;
            save_png(&out, &sheet)?;
            println!("wrote {} ({} rows: source | edited | target | mask)", out.display(), rows);
            Ok(())
        }
    }
}

fn sample(args: &SampleArgs) -> Result<()> {
    if args.n == 0 {
        return Err(bad_input("--n must be at least 1"));
    }
    let cfg = args.resolve()?;
    let bar = progress::bar(args.n, "sampling");
    write_dataset(&args.out, &cfg, args.n, args.seed, |done, _| bar.set_position(done))
        .with_context(|| format!("writing the world data set to {}", args.out.display()))?;
    bar.finish_and_clear();
    println!(
        "wrote {} triplets ({} px, seed {}, {:.0}% clean) to {}",
        args.n,
        cfg.size,
        args.seed,
        cfg.clean_fraction * 100.0,
        args.out.join(rewardedit_core::manifest::MANIFEST_FILE).display()
    );
    Ok(())
}
