//! The speed-ups, timed afresh in every invocation: the teacher and the students edit the same
//! first items in alternating blocks (teacher, student, int8 student, then again), so load from
//! other processes falls on all of them alike, while each model runs warm inside its block as it
//! would serving edits (edit-by-edit interleaving penalised the small models with cold caches).
//! The runs' own edit times cannot serve: a resumed demo reuses runs timed in an earlier
//! invocation, under another load.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use rewardedit_eval::{EditInput, EditSettings, RewardRequest};

use super::jobs::Runner;
use super::models::Slot;
use super::summary::Timing;
use crate::commands::eval::from_eval;

/// Blocks per model, and timed edits per block (after one untimed edit that warms it up).
pub const BLOCKS: usize = 2;
pub const EDITS_PER_BLOCK: usize = 3;

/// Times `slots` on the benchmark's first items (at most `items`), in alternating blocks.
pub fn time_in_blocks(runner: &mut Runner, slots: &[Slot], items: usize, steps: Option<u32>) -> Result<BTreeMap<Slot, Timing>> {
    let items = runner.benchmark.items(Some(items.max(1))).map_err(from_eval)?;
    let settings = EditSettings { rewards: RewardRequest::Default, steps, ..EditSettings::default() };
    let sources = items.iter().map(|i| i.source.load().map_err(from_eval)).collect::<Result<Vec<_>>>()?;
    let mut seconds: BTreeMap<Slot, Vec<f64>> = slots.iter().map(|&s| (s, Vec::new())).collect();
    for _ in 0..BLOCKS {
        for &slot in slots {
            let editor = runner.editor(slot)?;
            for k in 0..=EDITS_PER_BLOCK {
                let at = k % items.len();
                let input = EditInput { source: &sources[at], instruction: &items[at].instruction, settings: &settings, seed: items[at].index };
                let started = Instant::now();
                editor.edit(&input).map_err(|e| anyhow::anyhow!("timing {}: {e}", slot.key()))?;
                if k > 0 {
                    seconds.get_mut(&slot).expect("every slot has a list").push(started.elapsed().as_secs_f64());
                }
            }
        }
    }
    Ok(seconds.into_iter().filter_map(|(s, t)| Timing::of_seconds(t).map(|t| (s, t))).collect())
}
