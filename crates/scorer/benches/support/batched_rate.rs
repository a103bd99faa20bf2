//! The student scorer's batched rate, as both student benches measure it.

use rewardedit_scorer::{ScoreRequest, StudentScorer};
use std::time::Instant;

/// Scores per second over `requests` in batches of 64, after a warm-up batch (first calls
/// allocate and plan); every edit must score.
pub fn batched_rate(scorer: &StudentScorer, requests: &[ScoreRequest]) -> f64 {
    let _ = scorer.score_many(&requests[..64.min(requests.len())], 64);
    let t = Instant::now();
    let ok = scorer.score_many(requests, 64).into_iter().filter(Result::is_ok).count();
    assert_eq!(ok, requests.len(), "every edit scores");
    requests.len() as f64 / t.elapsed().as_secs_f64()
}
