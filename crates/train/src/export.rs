//! The editor folder a run ends with (EMA weights, fp16 safetensors in diffusers' layout):
//! `unet/` (config.json, diffusion_pytorch_model.safetensors), `text_encoder/` (config.json,
//! model.safetensors), `vocab.json`, `scheduler/scheduler_config.json`.

use std::path::Path;

use rewardedit_models::import::diffusers::save_unet_dir;
use rewardedit_models::store::save_safetensors;

use crate::checkpoint::write_json;
use crate::editor::{Editor, EditorConfig};
use crate::{Result, TrainError};

/// Writes `editor` as an editor folder at `dir`.
pub fn save_editor(editor: &Editor, config: &EditorConfig, dir: &Path) -> Result<()> {
    save_unet_dir(&editor.unet, &config.unet, dir)?;
    let text_dir = dir.join("text_encoder");
    std::fs::create_dir_all(&text_dir).map_err(|e| TrainError::io(&text_dir, e))?;
    write_json(&text_dir.join("config.json"), &config.text)?;
    save_safetensors(&editor.text_encoder, text_dir.join("model.safetensors"))?;
    write_json(&dir.join("vocab.json"), &config.vocab)?;
    let sched = dir.join("scheduler");
    std::fs::create_dir_all(&sched).map_err(|e| TrainError::io(&sched, e))?;
    write_json(&sched.join("scheduler_config.json"), &config.noise)?;
    Ok(())
}
