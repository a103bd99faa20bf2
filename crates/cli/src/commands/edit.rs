//! `rewardedit edit`: one reward-conditioned edit of one image with an editor folder
//! (`crates/models` pipeline). Rewards come from `--rewards F,P,Q` or a named `--template`;
//! unset settings take the folder's `editor.json` defaults (the paper's, if it has none).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use rewardedit_core::image_io::{load_rgb, save_png};
use rewardedit_core::{parse_scores, validate_instruction, RewardCondition, Template, MAX_SCORE};
use rewardedit_models::pipeline::{edit, EditRequest, Editor};

use crate::backend::{self, BackendKind};
use crate::exit::{bad_input, InputContext};
use crate::progress;

use super::sampler_args::SamplerArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// The image to edit (PNG, JPEG, ...; EXIF orientation applied). The output has its size.
    pub image: PathBuf,
    /// What to change, in words.
    pub instruction: String,
    /// Editor folder (diffusers layout: unet/, text_encoder/, tokenizer/, scheduler/, optional
    /// vae/ and editor.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Requested rewards following,preservation,quality, each in [0, 5] (default 5,5,5).
    #[arg(long, conflicts_with = "template")]
    pub rewards: Option<String>,
    /// A named reward condition: default, catalogue, creative, clean.
    #[arg(long)]
    pub template: Option<String>,
    /// Reward (flaw) text; default: the template's, else the editor's own (`editor.json`
    /// `reward_text`; the paper's "None; None; None" if it has none).
    #[arg(long)]
    pub reward_text: Option<String>,
    /// Denoising steps.
    #[arg(long)]
    pub steps: Option<usize>,
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Seed of the noise.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest side the model edits at, px: a larger image is scaled down for the edit and the
    /// result back to the input's size (default: the model's own, else the image's size).
    #[arg(long)]
    pub max_side: Option<u32>,
    /// Where to write the edited image (PNG).
    #[arg(long)]
    pub out: PathBuf,
}

/// What the reward flags ask for, checked: scores and reward text, each `None` where left to the
/// editor (5, 5, 5 and its own text); `None` when the user asked for nothing reward-related.
type Requested = Option<(Option<[f32; 3]>, Option<String>)>;

fn requested_reward(args: &Args) -> Result<Requested> {
    let (scores, text) = match (&args.rewards, &args.template) {
        (Some(r), _) => (Some(parse_scores(r).bad_input()?), None),
        (None, Some(t)) => match t.parse::<Template>().bad_input()?.condition() {
            RewardCondition::Given { scores, text } => (Some(scores), Some(text)),
            RewardCondition::Null => unreachable!("templates give rewards"),
        },
        (None, None) => (None, None),
    };
    let text = args.reward_text.clone().or(text);
    Ok((scores.is_some() || text.is_some()).then_some((scores, text)))
}

pub fn run(args: Args, kind: BackendKind, gpu: usize) -> Result<()> {
    // Everything the user typed is checked before the model is read.
    validate_instruction(&args.instruction).bad_input()?;
    let requested = requested_reward(&args)?;
    args.sampler.scheduler()?;
    let image = load_rgb(&args.image).bad_input()?;
    if args.model.as_os_str().is_empty() || !args.model.is_dir() {
        return Err(bad_input(format!("--model {}: not a folder", args.model.display())));
    }

    let device = backend::device(kind, gpu)?;
    let t0 = Instant::now();
    let editor = Editor::load(&args.model, &device)
        .map_err(|e| bad_input(format!("cannot load the editor {}: {e}", args.model.display())))?;
    let load_s = t0.elapsed().as_secs_f64();

    let mut settings = editor.config.defaults.clone();
    settings.steps = args.steps.unwrap_or(settings.steps);
    settings.seed = args.seed.unwrap_or(settings.seed);
    settings.max_side = args.max_side.or(settings.max_side);
    let settings = args.sampler.apply(&settings)?;

    let reward = match (editor.has_reward(), requested) {
        (true, None) => editor.default_condition(),
        (true, Some((scores, text))) => {
            RewardCondition::Given { scores: scores.unwrap_or([MAX_SCORE; 3]), text: text.unwrap_or_else(|| editor.reward_text()) }
        }
        (false, None) if args.sampler.reward_cfg.is_none() => RewardCondition::Null,
        (false, _) => {
            return Err(bad_input(format!(
                "{} has no reward modules (a plain InstructPix2Pix UNet): drop --rewards, --template, --reward-text and --reward-cfg",
                args.model.display()
            )));
        }
    };

    let (w, h) = image.dimensions();
    let bar = progress::bar(settings.steps as u64, "edit");
    let t1 = Instant::now();
    let request = EditRequest { image, instruction: args.instruction.clone(), reward };
    let mut edited = edit(&editor, std::slice::from_ref(&request), &settings, &mut |done, _| bar.set_position(done as u64))
        .map_err(|e| match e {
            rewardedit_models::ModelError::InvalidInput(m) => bad_input(m),
            other => anyhow::Error::from(other),
        })?;
    bar.finish_and_clear();
    let edit_s = t1.elapsed().as_secs_f64();
    let out = edited.pop().context("the pipeline returned no image")?;
    save_png(&args.out, &out).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({w}x{h}; model size multiple {}, {} steps {}, load {load_s:.2} s, edit {edit_s:.2} s)",
        args.out.display(),
        editor.resolution_multiple(),
        settings.steps,
        settings.scheduler.name()
    );
    Ok(())
}
