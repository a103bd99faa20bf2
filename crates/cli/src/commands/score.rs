//! `rewardedit score SOURCE EDITED "instruction"`: one edit's three scores, verdicts and flaws.
//! On any failure it prints no score and exits non-zero.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args as ClapArgs;
use rewardedit_core::image_io::load_rgb;
use rewardedit_core::{validate_instruction, Axis};
use rewardedit_scorer::ScoreRequest;

use crate::backend::BackendKind;
use crate::exit::InputContext;
use crate::scorers::{self, LvlmArgs, ScorerChoice};

#[derive(ClapArgs)]
pub struct Args {
    /// The image before the edit.
    pub source: PathBuf,
    /// The image after the edit.
    pub edited: PathBuf,
    /// The edit instruction.
    pub instruction: String,
    /// Which scorer: `lvlm` (the teacher), `student:DIR` or `student-int8:DIR`.
    #[arg(long, default_value = "lvlm")]
    pub scorer: ScorerChoice,
    /// Print the reward as JSON (the manifest's `rewards` form).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lvlm: LvlmArgs,
}

pub fn run(args: Args, backend: BackendKind, gpu: usize) -> Result<()> {
    validate_instruction(&args.instruction).bad_input()?;
    if matches!(args.scorer, ScorerChoice::Oracle { .. }) {
        return Err(crate::exit::bad_input(
            "the oracle scores edit-world items only (it needs the scene): use `rewardedit label --scorer oracle` on a world manifest",
        ));
    }
    let request = ScoreRequest {
        id: args.edited.display().to_string(),
        source: Arc::new(load_rgb(&args.source).bad_input()?),
        edited: Arc::new(load_rgb(&args.edited).bad_input()?),
        instruction: args.instruction.clone(),
        edit_type: None,
        provenance: serde_json::json!({}),
    };
    let device = crate::backend::device(backend, gpu)?;
    let built = scorers::build(&args.scorer, &args.lvlm, &device)?;
    let reward = built.scorer().score(&request)?;
    if args.json {
        println!("{}", serde_json::to_string(&reward)?);
    } else {
        for axis in Axis::ALL {
            let a = reward.axis(axis);
            let verdict = if a.verdict() { "yes" } else { "no" };
            println!("{:<13} {:.2}  {verdict:<3}  {}", axis.name(), a.score(), a.flaw());
        }
    }
    Ok(())
}
