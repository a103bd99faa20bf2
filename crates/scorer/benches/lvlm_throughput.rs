//! Labels per second of the LVLM teacher against the fake OpenAI-compatible server with a
//! fixed reply latency: presets `joint` and `paper` at concurrency 32, against the reference
//! implementation's pattern (three requests per edit, one at a time), in the same run.
//!
//! `cargo bench -p rewardedit-scorer --bench lvlm_throughput [-- LATENCY_MS]` (default 200).
//! Same client, same image encoding (512x512 PNG data URLs), cache off: only the request
//! pattern differs between the rows.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rewardedit_scorer::{LvlmConfig, LvlmScorer, Preset, ScoreRequest, Scorer};
use support::{axis_answer, config, joint_answer, test_image, FakeServer, Reply};

/// Distinct image pairs cycled through the edits, so encoding is redone per edit as in a real run.
const PAIRS: u8 = 8;

fn requests(n: usize) -> Vec<ScoreRequest> {
    let pairs: Vec<_> =
        (0..PAIRS).map(|i| (Arc::new(test_image(512, 512, i)), Arc::new(test_image(512, 512, 128 + i)))).collect();
    (0..n)
        .map(|i| {
            let (source, edited) = pairs[i % pairs.len()].clone();
            ScoreRequest {
                id: format!("e{i}"),
                source,
                edited,
                instruction: format!("make object {i} blue"),
                edit_type: None,
                provenance: serde_json::json!({}),
            }
        })
        .collect()
}

/// Labels/s for `n` edits with `concurrency` edits and HTTP requests in flight.
fn run(server: &FakeServer, preset: Preset, concurrency: usize, n: usize) -> (f64, usize) {
    let cfg = LvlmConfig { preset, concurrency, ..config(server, None) };
    let scorer = LvlmScorer::new(cfg).expect("a valid config");
    let reqs = requests(n);
    let before = server.count();
    let t = Instant::now();
    let results = scorer.score_batch(&reqs, concurrency);
    let secs = t.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "the fake server answers well; {failed} edits failed");
    (n as f64 / secs, server.count() - before)
}

fn main() {
    let latency_ms: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let latency = Duration::from_millis(latency_ms);
    let server = FakeServer::start_unrecorded(move |r, _| {
        let answer = if r.contains("three separate axes") { joint_answer([4.0, 3.5, 5.0]) } else { axis_answer("yes", 4.0, "None") };
        Reply::Slow(latency, Box::new(Reply::chat(answer)))
    });

    println!("LVLM teacher throughput, fake server latency {latency_ms} ms, 512x512 PNG images, cache off");
    let rows = [
        ("sequential paper (reference pattern)", Preset::Paper, 1, 10),
        ("paper, concurrency 32", Preset::Paper, 32, 320),
        ("joint, concurrency 32", Preset::Joint, 32, 960),
    ];
    let mut baseline = None;
    for (name, preset, concurrency, n) in rows {
        let (rate, sent) = run(&server, preset, concurrency, n);
        let base = *baseline.get_or_insert(rate);
        println!("{name:<38} {n:>4} edits {sent:>5} requests {rate:>8.2} labels/s  {:>6.1}x", rate / base);
    }
}
