//! Validation grids: a fixed set of held-back triplets edited by the current EMA weights with
//! the sampling pipeline ([`pipeline::edit`]), one row per triplet:
//! source | target (the data's edited image) | edit without rewards (the null reward; for a
//! stage-1 editor, its only edit) | edit at rewards 5,5,5 with the editor's reward text (stage 2).
//! They sample as the exported editor will ([`settings`]), so a grid shows what users get.

use std::path::Path;

use rewardedit_core::image_io::save_png;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings};

use crate::data::TrainExample;
use crate::editor::{Editor, EditorConfig};
use crate::recipe::SamplingDefaults;
use crate::export::to_pipeline;
use crate::frozen::FrozenEncoders;
use crate::{Result, TrainError};

/// Denoising steps of a validation edit when the run names none (the paper's 100 would make
/// every grid five times slower for little).
pub const VALIDATION_STEPS: usize = 20;

/// The settings of a validation edit: the run's sampling defaults (those it exports), else
/// Euler-Ancestral with the paper's guidance at [`VALIDATION_STEPS`] steps.
pub fn settings(sampling: &SamplingDefaults) -> EditSettings {
    sampling.apply(EditSettings { steps: VALIDATION_STEPS, ..EditSettings::default() })
}

/// Edits `examples` with `settings` and writes the grid PNG to `path` (`frozen`: an SD
/// editor's encoders).
pub fn write_grid(editor: &Editor, config: &EditorConfig, frozen: Option<&FrozenEncoders>, examples: &[TrainExample], settings: &EditSettings, path: &Path) -> Result<()> {
    let editor = to_pipeline(editor, config, frozen)?;
    let requests = |reward: RewardCondition| -> Vec<EditRequest> {
        examples.iter().map(|e| EditRequest { image: e.source.clone(), instruction: e.instruction.clone(), reward: reward.clone() }).collect()
    };
    let plain = edit(&editor, &requests(RewardCondition::Null), settings, &mut |_, _| {})?;
    let rewarded = if editor.has_reward() {
        Some(edit(&editor, &requests(editor.default_condition()), settings, &mut |_, _| {})?)
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
