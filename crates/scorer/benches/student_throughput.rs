//! Scores per second of the student scorer on this CPU (burn Flex), fp32 and int8, one edit per
//! call (`Scorer::score`) and batched (`StudentScorer::score_many`).
//!
//! `cargo bench -p rewardedit-scorer --bench student_throughput [-- DIR [N]]`: DIR is a student
//! folder (default `checkpoints/student-scorer`), N the edits per row (default 512). The inputs
//! are world triplets at the world's default size (64 px), so the resize to the network's
//! resolution is part of the measured time, as in real use.

#[path = "support/batched_rate.rs"]
mod batched_rate;
#[path = "support/world_edits.rs"]
mod world_edits;

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use rewardedit_scorer::{Precision, Scorer, StudentScorer};
use batched_rate::batched_rate;
use world_edits::{side, world_requests};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = args.first().map_or_else(|| root.join("checkpoints/student-scorer"), PathBuf::from);
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(512);
    let requests = world_requests(n);
    let device = Device::flex();
    println!("student {} on {n} edits ({} px world images), burn Flex, {} threads", dir.display(), side(), std::thread::available_parallelism().map_or(1, |p| p.get()));
    println!("{:<8}{:>14}{:>14}", "weights", "batch 1 /s", "batch 64 /s");
    for precision in [Precision::Fp32, Precision::Int8] {
        let scorer = StudentScorer::load(&dir, precision, &device).expect("load the student");
        // Warm-up: first calls allocate and plan.
        let _ = scorer.score_many(&requests[..64.min(n)], 64);
        let t = Instant::now();
        let singles = n.min(128);
        for r in &requests[..singles] {
            scorer.score(r).expect("score");
        }
        let one = singles as f64 / t.elapsed().as_secs_f64();
        let many = batched_rate(&scorer, &requests);
        println!("{:<8}{one:>14.1}{many:>14.1}", format!("{precision:?}").to_lowercase());
    }
}
