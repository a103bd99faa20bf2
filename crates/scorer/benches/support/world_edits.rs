//! World edits as score requests, for the benches: triplets of seed 4242 at the world's default
//! size (64 px), so resizing to a scorer's input is part of what is measured, as in real use.

use std::sync::Arc;

use rewardedit_scorer::ScoreRequest;
use rewardedit_world::{sample_triplet, WorldConfig};

/// Side of the images, px.
pub fn side() -> u32 {
    WorldConfig::default().size
}

/// The first `n` world edits of seed 4242.
pub fn world_requests(n: usize) -> Vec<ScoreRequest> {
    let world = WorldConfig::default();
    (0..n as u64)
        .map(|i| {
            let t = sample_triplet(&world, 4242, i).expect("world sampling");
            ScoreRequest {
                id: t.id,
                source: Arc::new(t.source),
                edited: Arc::new(t.edited),
                instruction: t.instruction.text,
                edit_type: None,
                provenance: serde_json::json!({}),
            }
        })
        .collect()
}
