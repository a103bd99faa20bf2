//! The trained editor as the sampling pipeline's [`pipeline::Editor`]: in memory for validation
//! grids, and saved as an editor folder (`unet/`, `text_encoder/`, `tokenizer/world_vocab.json`,
//! `scheduler/`, `editor.json`) that `rewardedit edit --model DIR` loads.

use std::path::Path;

use rewardedit_models::pipeline::{self, EditSettings, ImageSpace, PromptEncoder, SpaceKind};
use rewardedit_models::schedulers::SchedulerKind;

use crate::editor::{Editor, EditorConfig};
use crate::recipe::SamplingDefaults;
use crate::Result;

/// The pipeline's editor made of (a copy of) `editor`'s weights.
pub fn to_pipeline(editor: &Editor, config: &EditorConfig) -> Result<pipeline::Editor> {
    let editor = editor.clone();
    // Only DDIM reads `clip_sample`; a pixel-space editor trained with it samples with DDIM.
    let mut defaults = EditSettings::default();
    if config.noise.clip_sample {
        defaults.scheduler = SchedulerKind::Ddim;
    }
    let cfg = pipeline::EditorConfig { space: SpaceKind::Pixel, resolution_multiple: None, defaults };
    Ok(pipeline::Editor::new(
        editor.unet,
        config.unet.clone(),
        PromptEncoder::World { encoder: editor.text_encoder, vocab: config.vocab.clone() },
        ImageSpace::Pixel,
        config.noise.clone(),
        cfg,
    )?)
}

/// Writes `editor` as an editor folder at `dir`.
pub fn save_editor(editor: &Editor, config: &EditorConfig, dir: &Path) -> Result<()> {
    save_editor_with(editor, config, &SamplingDefaults::default(), dir)
}

/// Writes `editor` as an editor folder at `dir` with the sampling defaults `sampling`.
pub fn save_editor_with(editor: &Editor, config: &EditorConfig, sampling: &SamplingDefaults, dir: &Path) -> Result<()> {
    let mut editor = to_pipeline(editor, config)?;
    editor.config.defaults = sampling.apply(editor.config.defaults.clone());
    editor.save(dir)?;
    Ok(())
}
