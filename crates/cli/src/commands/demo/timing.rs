//! The speed-ups, timed afresh in every invocation: the teacher and the students edit the same
//! first items in alternating blocks, so load from other processes falls on all of them alike,
//! while each model runs warm inside its block as it would serving edits (edit-by-edit
//! interleaving penalised the small models with cold caches). The order rotates from block to
//! block, so no model is always timed right after the same one: with a fixed order the int8
//! student, always timed last, came out up to a quarter slower than the fp32 student whose
//! arithmetic it repeats (its weights are dequantised at load).
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

/// Blocks per model (one per position in the rotation of three models), and the least timed
/// edits per block (after one untimed edit that warms it up).
pub const BLOCKS: usize = 3;
pub const EDITS_PER_BLOCK: usize = 4;
/// A block goes on past [`EDITS_PER_BLOCK`] until its timed edits add up to this: a student's
/// 0.1 s edits are otherwise too few to outlast the bursts of another job's load.
pub const MIN_BLOCK_SECONDS: f64 = 1.5;
/// The most timed edits per block, for editors that take next to no time.
pub const MAX_EDITS_PER_BLOCK: usize = 100;

/// Times `slots` on the benchmark's first items (at most `items`), in alternating blocks.
pub fn time_in_blocks(runner: &mut Runner, slots: &[Slot], items: usize, steps: Option<u32>) -> Result<BTreeMap<Slot, Timing>> {
    let items = runner.benchmark.items(Some(items.max(1))).map_err(from_eval)?;
    let settings = EditSettings { rewards: RewardRequest::Default, steps, ..EditSettings::default() };
    let sources = items.iter().map(|i| i.source.load().map_err(from_eval)).collect::<Result<Vec<_>>>()?;
    let mut seconds: BTreeMap<Slot, Vec<f64>> = slots.iter().map(|&s| (s, Vec::new())).collect();
    for block in 0..BLOCKS {
        for turn in 0..slots.len() {
            let slot = slots[(turn + block) % slots.len()];
            let editor = runner.editor(slot)?;
            let times = seconds.get_mut(&slot).expect("every slot has a list");
            let (mut k, mut block_seconds) = (0, 0.0);
            while k <= EDITS_PER_BLOCK || (block_seconds < MIN_BLOCK_SECONDS && k <= MAX_EDITS_PER_BLOCK) {
                let at = k % items.len();
                let input = EditInput { source: &sources[at], instruction: &items[at].instruction, settings: &settings, seed: items[at].index };
                let started = Instant::now();
                editor.edit(&input).map_err(|e| anyhow::anyhow!("timing {}: {e}", slot.key()))?;
                if k > 0 {
                    let took = started.elapsed().as_secs_f64();
                    times.push(took);
                    block_seconds += took;
                }
                k += 1;
            }
        }
    }
    Ok(seconds.into_iter().filter_map(|(s, t)| Timing::of_seconds(t).map(|t| (s, t))).collect())
}
