//! Validation grids: a fixed set of held-back triplets edited by the current EMA weights with
//! the sampling pipeline ([`pipeline::edit`]), one row per triplet:
//! source | target (the data's edited image) | edit without rewards (the null reward; for a
//! stage-1 editor, its only edit) | edit at rewards 5,5,5 with "None; None; None" (stage 2).

use std::path::Path;

use rewardedit_core::image_io::save_png;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings};

use crate::data::TrainExample;
use crate::editor::{Editor, EditorConfig};
use crate::export::to_pipeline;
use crate::{Result, TrainError};

/// Denoising steps of a validation edit (Euler-Ancestral, the paper's guidance).
pub const VALIDATION_STEPS: usize = 20;

/// Edits `examples` and writes the grid PNG to `path`.
pub fn write_grid(editor: &Editor, config: &EditorConfig, examples: &[TrainExample], path: &Path) -> Result<()> {
    let editor = to_pipeline(editor, config)?;
    let settings = EditSettings { steps: VALIDATION_STEPS, ..EditSettings::default() };
    let requests = |reward: RewardCondition| -> Vec<EditRequest> {
        examples.iter().map(|e| EditRequest { image: e.source.clone(), instruction: e.instruction.clone(), reward: reward.clone() }).collect()
    };
    let plain = edit(&editor, &requests(RewardCondition::Null), &settings, &mut |_, _| {})?;
    let rewarded = if editor.has_reward() {
        Some(edit(&editor, &requests(RewardCondition::paper_default()), &settings, &mut |_, _| {})?)
    } else {
        None
    };
    let rows: Vec<Vec<image::RgbImage>> = examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut row = vec![e.source.clone(), e.edited.clone(), plain[i].clone()];
            if let Some(r) = &rewarded {
                row.push(r[i].clone());
            }
            row
        })
        .collect();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    }
    save_png(path, &rewardedit_world::grid(&rows))?;
    Ok(())
}
