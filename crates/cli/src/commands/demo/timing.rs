//! The speed-ups, timed afresh in every invocation: the teacher and the students edit the same
//! first items in turn (teacher, student, int8 student, teacher, ...), so load from other
//! processes falls on all of them alike. The runs' own edit times cannot serve: a resumed demo
//! reuses runs timed in an earlier invocation, under another load.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use rewardedit_eval::{EditInput, EditSettings, RewardRequest};

use super::jobs::Runner;
use super::models::Slot;
use super::summary::Timing;
use crate::commands::eval::from_eval;

/// Edits timed per model (each on its own item; medians over these).
pub const TIMED_EDITS: usize = 5;

/// Times `slots` on the benchmark's first `items` items, interleaved; one untimed edit each
/// first (weights paged in, buffers allocated).
pub fn time_interleaved(runner: &mut Runner, slots: &[Slot], items: usize, steps: Option<u32>) -> Result<BTreeMap<Slot, Timing>> {
    let items = runner.benchmark.items(Some(items.max(1))).map_err(from_eval)?;
    let settings = EditSettings { rewards: RewardRequest::Default, steps, max_side: None };
    let mut seconds: BTreeMap<Slot, Vec<f64>> = slots.iter().map(|&s| (s, Vec::new())).collect();
    for round in 0..=TIMED_EDITS {
        let item = &items[round % items.len()];
        let source = item.source.load().map_err(from_eval)?;
        for &slot in slots {
            let editor = runner.editor(slot)?;
            let input = EditInput { source: &source, instruction: &item.instruction, settings: &settings, seed: item.index };
            let started = Instant::now();
            editor.edit(&input).map_err(|e| anyhow::anyhow!("timing {}: {e}", slot.key()))?;
            if round > 0 {
                seconds.get_mut(&slot).expect("every slot has a list").push(started.elapsed().as_secs_f64());
            }
        }
    }
    Ok(seconds.into_iter().filter_map(|(s, t)| Timing::of_seconds(t).map(|t| (s, t))).collect())
}
