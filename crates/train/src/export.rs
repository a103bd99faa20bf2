//! The trained editor as the sampling pipeline's [`pipeline::Editor`]: in memory for validation
//! grids, and saved as an editor folder (`unet/`, `text_encoder/`, `tokenizer/`, `scheduler/`,
//! `editor.json`, and for an SD editor a copy of its frozen `vae/`) that `rewardedit edit
//! --model DIR` loads.

use std::path::Path;

use rewardedit_models::pipeline::{self, EditSettings, ImageSpace, PromptEncoder};
use rewardedit_models::schedulers::SchedulerKind;

use crate::editor::{Editor, EditorConfig, Encoders};
use crate::frozen::FrozenEncoders;
use crate::recipe::SamplingDefaults;
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
    let cfg = pipeline::EditorConfig { space: space.kind(), resolution_multiple: None, defaults };
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
