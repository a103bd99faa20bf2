//! `rewardedit label --in DIR --scorer NAME --out DIR2`: score every edit of a manifest,
//! resumably (a re-run skips what is done and retries what failed).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;
use indicatif::ProgressBar;
use rewardedit_core::Reward;
use rewardedit_scorer::{label, LabelError, LabelOptions, LabelProgress, LvlmScorer, ScoreError};

use crate::backend::BackendKind;
use crate::exit::bad_input;
use crate::progress;
use crate::scorers::{self, Built, LvlmArgs, ScorerChoice};

#[derive(ClapArgs)]
pub struct Args {
    /// Input manifest (a file, or a folder holding manifest.jsonl).
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Which scorer: `lvlm` (the teacher), `oracle` (world items only; `oracle:noisy` or
    /// `oracle:noisy=SD,FLIP,BIAS_F,BIAS_P,BIAS_Q` adds judge noise, an LVLM stand-in),
    /// `student:DIR`, `student-int8:DIR`.
    #[arg(long)]
    pub scorer: ScorerChoice,
    /// Output folder: manifest.jsonl with rewards, failures.jsonl with what failed.
    #[arg(long)]
    pub out: PathBuf,
    /// Edits scored at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    #[command(flatten)]
    pub lvlm: LvlmArgs,
}

/// Draws the run on an indicatif bar: rate, ETA, failures, and for the teacher cache hits and cost.
struct Bar<'a> {
    bar: Option<ProgressBar>,
    lvlm: Option<&'a LvlmScorer>,
    failed: usize,
}

impl LabelProgress for Bar<'_> {
    fn start(&mut self, total: usize, already: usize, to_do: usize) {
        if already > 0 {
            eprintln!("resuming: {already} of {total} edits already labelled, {to_do} to do");
        }
        self.bar = Some(progress::bar(to_do as u64, "labelling"));
    }

    fn item(&mut self, _id: &str, result: Result<&Reward, &ScoreError>) {
        self.failed += usize::from(result.is_err());
        if let Some(bar) = &self.bar {
            let mut msg = format!("failed {}", self.failed);
            if let Some(s) = self.lvlm {
                let u = s.usage();
                msg += &format!(" cache hits {} cost ${:.4}", u.cache_hits, u.cost_usd);
            }
            bar.set_message(msg);
            bar.inc(1);
        }
    }
}

pub fn run(args: Args, backend: BackendKind, gpu: usize) -> Result<()> {
    if args.concurrency == 0 {
        return Err(bad_input("--concurrency must be at least 1"));
    }
    let device = crate::backend::device(backend, gpu)?;
    let built = scorers::build(&args.scorer, &args.lvlm, &device)?;
    let mut bar = Bar { bar: None, lvlm: if let Built::Lvlm(s) = &built { Some(s) } else { None }, failed: 0 };
    let options = LabelOptions { concurrency: args.concurrency };
    // Only a wrong input is the user's to fix (exit 2); failing to write the output is exit 1.
    let summary = label(&args.input, &args.out, built.scorer(), &options, &mut bar).map_err(|e| match e {
        LabelError::Input(_) | LabelError::DuplicateId { .. } | LabelError::SameManifest(_) => bad_input(e.to_string()),
        LabelError::Output(_) => anyhow::Error::new(e),
    })?;
    if let Some(b) = &bar.bar {
        b.finish_and_clear();
    }
    println!(
        "{}: {} edits, {} already labelled, {} labelled now, {} failed",
        built.scorer().describe(),
        summary.total,
        summary.already_labelled,
        summary.labelled,
        summary.failed
    );
    if let Some(s) = bar.lvlm {
        let u = s.usage();
        println!(
            "requests {}, retries {}, cache hits {}, tokens {} in / {} out, estimated cost ${:.4}",
            u.requests, u.retries, u.cache_hits, u.prompt_tokens, u.completion_tokens, u.cost_usd
        );
    }
    if summary.failed > 0 {
        anyhow::bail!(
            "{} edits failed (see {}); run the same command again to retry them",
            summary.failed,
            args.out.join(rewardedit_scorer::label::FAILURES_FILE).display()
        );
    }
    Ok(())
}
