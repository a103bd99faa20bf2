//! `rewardedit quantize --model DIR --scheme int8|fp16|bf16 [--calib world|MANIFEST] --out DIR2`:
//! post-training weight quantization of an editor folder (issue 7). int8 is our per-output-
//! channel format (`rewardedit_models::int8`); fp16/bf16 halve every weight. The result is an
//! ordinary editor folder (`Editor::load`, `edit --model`, `eval --editor` open it unchanged),
//! plus `quantize.json`: sizes before and after, and the error measured on the calibration set
//! (`rewardedit_eval::quantization`). The folder is written under a temporary name and renamed
//! when complete, so a killed run leaves no half-written `--out`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use rewardedit_eval::quantization::{measure_drift, CalibrationSet, Drift};
use rewardedit_models::import::check_editor_dir;
use rewardedit_models::int8::FORMAT_V2;
use rewardedit_models::pipeline::Editor;
use rewardedit_models::store::WeightFormat;
use serde::Serialize;

use crate::backend::{self, BackendKind};
use crate::commands::eval::{from_eval, world_spec};
use crate::exit::{bad_input, InputContext};
use crate::progress;

/// The report written beside the quantized weights.
pub const REPORT_FILE: &str = "quantize.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    /// Symmetric int8 weights, one scale per output channel (rank >= 2); biases and norms kept.
    Int8,
    /// Every weight in IEEE half precision.
    Fp16,
    /// Every weight in bfloat16.
    Bf16,
}

impl Scheme {
    fn weight_format(self) -> WeightFormat {
        match self {
            Scheme::Int8 => WeightFormat::Int8,
            Scheme::Fp16 => WeightFormat::F16,
            Scheme::Bf16 => WeightFormat::Bf16,
        }
    }

    /// What the weights files hold.
    fn file_format(self) -> &'static str {
        match self {
            Scheme::Int8 => FORMAT_V2,
            Scheme::Fp16 => "safetensors F16",
            Scheme::Bf16 => "safetensors BF16",
        }
    }
}

#[derive(ClapArgs)]
pub struct Args {
    /// The editor folder to quantize (weights in fp32, fp16 or bf16).
    #[arg(long)]
    pub model: PathBuf,
    /// int8 (per output channel; 3.3-3.7x smaller on the world editors), fp16 or bf16 (2x smaller).
    #[arg(long, value_enum)]
    pub scheme: Scheme,
    /// Items the error is measured on: `world` (the world benchmark) or a manifest (its folder,
    /// its .jsonl file, or FORMAT:PATH such as imagefolder:DIR).
    #[arg(long, default_value = "world")]
    pub calib: String,
    /// How many calibration items (the first ones).
    #[arg(long, default_value_t = 4)]
    pub calib_items: usize,
    /// Sampling steps of the calibration edits (default: the editor's own).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Longest side the calibration edits work at, px (default: the editor's own).
    #[arg(long)]
    pub max_side: Option<u32>,
    /// Seed of the calibration edits (item i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The world benchmark spec (default: eval/world-benchmark.toml, or the built-in copy).
    #[arg(long)]
    pub world_spec: Option<PathBuf>,
    /// Output folder; must not exist yet, or be empty.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct Report {
    source: String,
    scheme: String,
    format: &'static str,
    /// Bytes of each weights file by part (`unet` includes the reward modules).
    bytes_before: BTreeMap<String, u64>,
    bytes_after: BTreeMap<String, u64>,
    total_bytes_before: u64,
    total_bytes_after: u64,
    calibration: Calibration,
    error: Drift,
}

#[derive(Serialize)]
struct Calibration {
    set: String,
    items: usize,
    steps: usize,
    scheduler: &'static str,
    seed: u64,
    max_side: Option<u32>,
}

/// Bytes of each weights file of an editor folder, by part.
fn weight_bytes(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let check = check_editor_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut bytes = BTreeMap::new();
    let mut seen = Vec::new();
    for part in &check.parts {
        // The reward modules live in the UNet's file: counted once, under `unet`.
        if seen.contains(&part.file) {
            continue;
        }
        let len = std::fs::metadata(&part.file).with_context(|| format!("reading {}", part.file.display()))?.len();
        bytes.insert(part.name.replace(' ', "_"), len);
        seen.push(part.file.clone());
    }
    Ok(bytes)
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    // Everything the user typed is checked before any model is read.
    if !args.model.is_dir() {
        return Err(bad_input(format!("--model {}: not a folder; give an editor folder (see `rewardedit model init`)", args.model.display())));
    }
    if args.out.exists() && !is_empty_dir(&args.out) {
        return Err(bad_input(format!("--out {} exists and is not empty: choose a new folder, or remove it first", args.out.display())));
    }
    if args.calib_items == 0 {
        return Err(bad_input("--calib-items must be at least 1"));
    }
    let calib: CalibrationSet = args.calib.parse().map_err(from_eval)?;
    let check = check_editor_dir(&args.model)
        .map_err(|e| bad_input(format!("{} is not an editor folder: {e}", args.model.display())))?;
    if !check.ok() {
        return Err(bad_input(format!(
            "{}: its weights do not match its configs; `rewardedit model inspect {}` lists them",
            args.model.display(),
            args.model.display()
        )));
    }
    let spec = world_spec(args.world_spec.as_deref())?;
    let items = calib.items(&spec, args.calib_items).map_err(from_eval)?;

    let device = backend::device(kind, gpu)?;
    let reference = Editor::load(&args.model, &device)
        .map_err(|e| bad_input(format!("cannot load the editor {}: {e}", args.model.display())))?;
    let mut settings = reference.config.defaults.clone();
    settings.steps = args.steps.unwrap_or(settings.steps);
    settings.max_side = args.max_side.or(settings.max_side);
    settings.seed = args.seed;
    settings.validate().bad_input()?;

    let name = args.out.file_name().map_or_else(|| "quantized".into(), |n| n.to_string_lossy().into_owned());
    let partial = args.out.with_file_name(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).with_context(|| format!("removing the leftover {}", partial.display()))?;
    }
    reference
        .save_as(&partial, args.scheme.weight_format())
        .with_context(|| format!("writing {}", partial.display()))?;
    let quantized = Editor::load(&partial, &device).with_context(|| format!("reading back {}", partial.display()))?;

    let bar = progress::bar(items.len() as u64, "calibrating");
    let error = measure_drift(&reference, &quantized, &items, &settings, &mut |done| bar.set_position(done as u64)).map_err(from_eval)?;
    bar.finish_and_clear();

    let (bytes_before, bytes_after) = (weight_bytes(&args.model)?, weight_bytes(&partial)?);
    let report = Report {
        source: args.model.display().to_string(),
        scheme: args.scheme.to_possible_value().map_or_else(String::new, |v| v.get_name().to_string()),
        format: args.scheme.file_format(),
        total_bytes_before: bytes_before.values().sum(),
        total_bytes_after: bytes_after.values().sum(),
        bytes_before,
        bytes_after,
        calibration: Calibration {
            set: calib.to_string(),
            items: items.len(),
            steps: settings.steps,
            scheduler: settings.scheduler.name(),
            seed: settings.seed,
            max_side: settings.max_side,
        },
        error,
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    std::fs::write(partial.join(REPORT_FILE), json).with_context(|| format!("writing {}", partial.join(REPORT_FILE).display()))?;
    if args.out.exists() {
        std::fs::remove_dir(&args.out).with_context(|| format!("replacing the empty {}", args.out.display()))?;
    }
    std::fs::rename(&partial, &args.out).with_context(|| format!("renaming {} to {}", partial.display(), args.out.display()))?;
    print_summary(&report, &args.out);
    Ok(())
}

fn print_summary(r: &Report, out: &Path) {
    println!("quantized {} -> {} ({}, {})", r.source, out.display(), r.scheme, r.format);
    let parts = r.bytes_before.iter().map(|(p, &b)| (p.as_str(), b, r.bytes_after.get(p).copied().unwrap_or(0)));
    for (part, before, after) in parts.chain([("total", r.total_bytes_before, r.total_bytes_after)]) {
        println!("  {part:<14} {before:>12} -> {after:>12} bytes ({:.2}x smaller)", before as f64 / after.max(1) as f64);
    }
    let c = &r.calibration;
    let e = &r.error;
    println!("calibration: {}, {} items, {} steps {}, seed {}", c.set, c.items, c.steps, c.scheduler, c.seed);
    println!("  UNet output relative error   mean {:.2e}, max {:.2e}", e.unet_relative_error_mean, e.unet_relative_error_max);
    println!("  edit PSNR vs the source      mean {:.1} dB, min {:.1} dB", e.psnr_db_mean, e.psnr_db_min);
    println!("wrote {}", out.join(REPORT_FILE).display());
}
