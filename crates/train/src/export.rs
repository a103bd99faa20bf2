//! The trained editor as the sampling pipeline's [`pipeline::Editor`]: in memory for validation
//! grids, and saved as an editor folder (`unet/`, `text_encoder/`, `tokenizer/`, `scheduler/`,
//! `editor.json`, and for an SD editor a copy of its frozen `vae/`) that `rewardedit edit
//! --model DIR` loads: at the end of a run, or from any checkpoint ([`export_checkpoint`]).

use std::path::Path;

use rewardedit_core::Reward;
use rewardedit_models::pipeline::{self, EditSettings, ImageSpace, PromptEncoder};
use rewardedit_models::schedulers::SchedulerKind;

use burn::tensor::Device;

use crate::checkpoint;
use crate::editor::{Editor, EditorConfig, Encoders};
use crate::frozen::FrozenEncoders;
use crate::recipe::{SamplingDefaults, WeightsKind};
use crate::trainer::{frozen_encoders, TrainEvent};
use crate::{Result, TrainError};

/// The pipeline's editor made of (a copy of) `editor`'s weights; an SD editor takes its text
/// encoder and VAE from `frozen`.
pub fn to_pipeline(editor: &Editor, config: &EditorConfig, frozen: Option<&FrozenEncoders>) -> Result<pipeline::Editor> {
    let editor = editor.clone();
    // Only DDIM reads `clip_sample`; an editor trained with it samples with DDIM.
    let mut defaults = EditSettings::default();
    if config.noise.clip_sample {
        defaults.scheduler = SchedulerKind::Ddim;
    }
    let (text, space) = match (&config.encoders, editor.text_encoder, frozen) {
        (Encoders::World { vocab, .. }, Some(encoder), _) => (PromptEncoder::World { encoder, vocab: vocab.clone() }, ImageSpace::Pixel),
        (Encoders::Frozen { .. }, None, Some(f)) => f.pipeline_parts(),
        _ => return Err(TrainError::Config("an SD editor needs its frozen encoders to sample or be saved".into())),
    };
    // A world word encoder learns only the words of world data, whose reward texts say "no
    // flaw" with the paper figure's sentences, never "None".
    let world_reward = matches!(config.encoders, Encoders::World { .. }) && config.reward.is_some();
    let reward_text = world_reward.then(|| Reward::perfect().joined_text());
    let cfg = pipeline::EditorConfig { space: space.kind(), resolution_multiple: None, defaults, reward_text };
    Ok(pipeline::Editor::new(editor.unet, config.unet.clone(), text, space, config.noise.clone(), cfg)?)
}

/// Writes world editor `editor` as an editor folder at `dir`.
pub fn save_editor(editor: &Editor, config: &EditorConfig, dir: &Path) -> Result<()> {
    save_editor_with(editor, config, None, &SamplingDefaults::default(), dir)
}

/// Writes `editor` (an SD editor with its `frozen` encoders) as an editor folder at `dir` with
/// the sampling defaults `sampling`.
pub fn save_editor_with(editor: &Editor, config: &EditorConfig, frozen: Option<&FrozenEncoders>, sampling: &SamplingDefaults, dir: &Path) -> Result<()> {
    let mut editor = to_pipeline(editor, config, frozen)?;
    editor.config.defaults = sampling.apply(editor.config.defaults.clone());
    editor.save(dir)?;
    Ok(())
}

/// Writes the editor of the checkpoint `path` names (a checkpoint folder, or a run folder: its
/// newest intact checkpoint) as an editor folder at `out`, with its `weights` (EMA or raw), so
/// that a run can be evaluated or used before it ends. Returns the checkpoint's step. `out` must
/// not hold files already.
pub fn export_checkpoint(path: &Path, weights: WeightsKind, out: &Path, device: &Device, events: &mut dyn FnMut(TrainEvent)) -> Result<u64> {
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(TrainError::OutputExists(out.to_path_buf()));
    }
    let dir = checkpoint::resolve(path)?; // verified against its manifest
    let step = checkpoint::read_json::<checkpoint::CheckpointState>(&dir.join(checkpoint::STATE))?.step;
    let which = match weights {
        WeightsKind::Ema => "EMA",
        WeightsKind::Raw => "raw",
    };
    events(TrainEvent::Preparing(format!("exporting step {step} ({which} weights) from {}", dir.display())));
    let (config, editor) = Editor::open_checkpoint(&dir, weights, device)?;
    let sampling = checkpoint_sampling(&dir, events)?;
    let frozen = frozen_encoders(&config, device, events)?;
    save_editor_with(&editor, &config, frozen.as_ref(), &sampling, out)?;
    Ok(step)
}

/// The sampling defaults a checkpoint was trained with: its own record, else (checkpoints
/// written before it was kept) the `[sampling]` table of its run's `recipe.toml`, else none.
fn checkpoint_sampling(dir: &Path, events: &mut dyn FnMut(TrainEvent)) -> Result<SamplingDefaults> {
    let own = dir.join(checkpoint::SAMPLING);
    if own.exists() {
        return checkpoint::read_json(&own);
    }
    let recipe = dir.parent().and_then(Path::parent).map(|run| run.join("recipe.toml"));
    let table = recipe.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).and_then(|text| text.parse::<toml::Table>().ok()).and_then(|mut t| t.remove("sampling"));
    match table {
        Some(table) => table.try_into().map_err(|e| TrainError::Config(format!("{}: [sampling]: {e}", recipe.unwrap_or_default().display()))),
        None => {
            events(TrainEvent::Preparing("the checkpoint records no sampling defaults: the editor gets the pipeline's".into()));
            Ok(SamplingDefaults::default())
        }
    }
}
