//! `rewardedit model`: inspect an editor folder (architecture, parameters per part, tensor
//! check; exit 2 on any missing, unexpected or mis-shaped tensor) and initialise one with random
//! weights (tests, benchmarks, a starting point for training).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use rewardedit_core::Vocab;
use rewardedit_models::import::{check_editor_dir, PartCheck, TextEncoderKind};
use rewardedit_models::int8::describe_format;
use rewardedit_models::pipeline::presets::{sd15_editor, world_editor, world_tiny_unet};
use rewardedit_models::unet::{RewardConditioningConfig, UNet2DConditionConfig};

use crate::backend::{self, BackendKind};
use crate::exit::{bad_input, InputContext};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Print an editor folder's architecture, parameters per part and tensor check (exit 2 if
    /// any tensor is missing, unexpected or mis-shaped).
    Inspect {
        /// The editor folder.
        dir: PathBuf,
    },
    /// Write an editor with random weights: a pixel-space world editor, or (`--preset sd15`) an
    /// SD 1.5 InstructPix2Pix-size latent editor for timing on a GPU.
    Init(InitArgs),
}

#[derive(ClapArgs)]
pub struct InitArgs {
    /// A diffusers `unet/config.json` (6 input, 3 output channels for pixel space).
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// A built-in size: world-tiny (blocks 16/32, cross-attention 32), or sd15 (SD 1.5
    /// InstructPix2Pix UNet, CLIP ViT-L/14 and VAE: 1.07 billion parameters, 4.3 GB in f32).
    #[arg(long)]
    pub preset: Option<String>,
    /// The CLIP tokenizer folder (vocab.json, merges.txt) of the sd15 preset.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Text file whose words make the world vocabulary (default: a few edit words).
    #[arg(long)]
    pub vocab_from: Option<PathBuf>,
    /// Leave out the reward modules (a plain InstructPix2Pix-style editor).
    #[arg(long)]
    pub no_reward: bool,
    /// Zero-initialise the reward modules' output projections (reward modules start inert).
    #[arg(long)]
    pub zero_init: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Words of the default vocabulary of `model init`.
const DEFAULT_WORDS: &str = "make turn change add remove replace put the a an it into to with on of in and \
    red green blue yellow white black circle square star triangle background bigger smaller left right \
    none no negative aspects unintended changes noticeable issues";

pub fn run(cmd: ModelCommand, kind: BackendKind, gpu: usize) -> Result<()> {
    match cmd {
        ModelCommand::Inspect { dir } => inspect(dir),
        ModelCommand::Init(args) => init(args, kind, gpu),
    }
}

fn init(args: InitArgs, kind: BackendKind, gpu: usize) -> Result<()> {
    let reward = RewardConditioningConfig { zero_init: args.zero_init, null_dropout: 0.0 };
    let reward = (!args.no_reward).then_some(&reward);
    let unet = match (&args.config, args.preset.as_deref()) {
        (Some(path), _) => UNet2DConditionConfig::from_file(path).bad_input()?,
        (None, Some("world-tiny") | None) => world_tiny_unet(),
        (None, Some("sd15")) => return init_sd15(&args, reward, kind, gpu),
        (None, Some(other)) => return Err(bad_input(format!("unknown preset {other:?}: expected world-tiny or sd15"))),
    };
    if args.tokenizer.is_some() {
        return Err(bad_input("--tokenizer goes with --preset sd15 (world editors have a word vocabulary: --vocab-from)"));
    }
    let words = match &args.vocab_from {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display())).bad_input()?,
        None => DEFAULT_WORDS.to_string(),
    };
    let vocab = Vocab::build([words.as_str()]);
    let device = backend::device(kind, gpu)?;
    let editor = world_editor(unet, vocab, reward, &device).bad_input()?;
    editor.save(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {} (pixel-space world editor, random weights, reward modules: {})", args.out.display(), if args.no_reward { "no" } else { "yes" });
    Ok(())
}

/// `--preset sd15`: the SD 1.5-size latent editor with random weights.
fn init_sd15(args: &InitArgs, reward: Option<&RewardConditioningConfig>, kind: BackendKind, gpu: usize) -> Result<()> {
    let tokenizer = args
        .tokenizer
        .as_ref()
        .ok_or_else(|| bad_input("--preset sd15 needs --tokenizer DIR: a CLIP tokenizer folder (vocab.json, merges.txt), e.g. tests/golden/ip2p_tiny/tokenizer"))?;
    if args.vocab_from.is_some() {
        return Err(bad_input("--vocab-from is for world editors; the sd15 preset reads its words from --tokenizer"));
    }
    let device = backend::device(kind, gpu)?;
    let editor = sd15_editor(tokenizer, reward, &device).bad_input()?;
    editor.save(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {} (SD 1.5-size latent editor, random weights, reward modules: {})", args.out.display(), if reward.is_some() { "yes" } else { "no" });
    Ok(())
}

fn inspect(dir: PathBuf) -> Result<()> {
    if !dir.is_dir() {
        return Err(bad_input(format!("{}: not a folder", dir.display())));
    }
    let check = check_editor_dir(&dir).bad_input()?;
    let u = &check.unet;
    println!("editor {}", dir.display());
    println!("  space          {}", check.config.space.name());
    println!(
        "  unet           in {} / out {} channels, blocks {:?}, cross-attention {}, time embedding {}",
        u.in_channels,
        u.out_channels,
        u.block_out_channels,
        u.cross_attention_dim,
        u.time_embed_dim()
    );
    let has_reward = check.parts.iter().any(|p| p.name == "reward modules");
    println!("  reward         {}", if has_reward { "three scores + reward text (official-checkpoint.md modules)" } else { "none (plain InstructPix2Pix)" });
    println!(
        "  text encoder   {}",
        match check.text {
            TextEncoderKind::World => "world (word-level)",
            TextEncoderKind::Clip => "CLIP (BPE)",
        }
    );
    println!("  scheduler      {} train steps, {:?} betas", check.schedule.num_train_timesteps, check.schedule.beta_schedule);
    let d = &check.config.defaults;
    println!(
        "  defaults       {} steps {}, text cfg {}, image cfg {}, reward cfg {}",
        d.steps,
        d.scheduler.name(),
        d.text_cfg,
        d.image_cfg,
        d.reward_cfg
    );
    println!();
    println!("{:<16} {:>8} {:>12}  {:<16} check", "part", "tensors", "parameters", "dtypes");
    let mut total = 0;
    for part in &check.parts {
        total += part.params;
        let dtypes = part.dtypes.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",");
        println!("{:<16} {:>8} {:>12}  {:<16} {}", part.name, part.tensors, part.params, dtypes, if part.ok() { "ok" } else { "FAILED" });
        for note in &part.notes {
            println!("    note: {note}");
        }
        print_problems(part);
    }
    if check.config.space.name() == "pixel" {
        println!("{:<16} {:>8} {:>12}  {:<16} -", "vae", "absent", 0, "");
    }
    println!("{:<16} {:>8} {:>12}", "total", "", total);
    // The UNet and the reward modules share a file: each file's format is said once.
    let mut said = Vec::new();
    for part in &check.parts {
        if said.contains(&&part.file) {
            continue;
        }
        said.push(&part.file);
        if let Some(format) = &part.format {
            let what = describe_format(format).unwrap_or("a format this build does not read");
            println!("format           {}: {format} ({what})", part.file.strip_prefix(&dir).unwrap_or(&part.file).display());
        }
    }
    if check.ok() {
        println!("tensor check: ok");
        Ok(())
    } else {
        let count = |f: fn(&PartCheck) -> usize| check.parts.iter().map(f).sum::<usize>();
        Err(bad_input(format!(
            "{}: tensor check failed: {} missing, {} unexpected, {} mis-shaped (listed above)",
            dir.display(),
            count(|p| p.missing.len()),
            count(|p| p.unexpected.len()),
            count(|p| p.mismatched.len())
        )))
    }
}

fn print_problems(part: &PartCheck) {
    for k in &part.missing {
        println!("    missing     {k}");
    }
    for k in &part.unexpected {
        println!("    unexpected  {k}");
    }
    for k in &part.mismatched {
        println!("    mis-shaped  {k}");
    }
}
