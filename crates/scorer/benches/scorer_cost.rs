//! Cost per 1,000 scored edits: the LVLM teacher (GPT-4o prices, both presets) against the
//! student scorer on this CPU (fp32 and int8), in one run.
//!
//! `cargo bench -p rewardedit-scorer --bench scorer_cost [-- DIR [N] [--cpu-price-per-hour P]]`:
//! DIR is a student folder (default `checkpoints/student-scorer`), N the edits (default 512), P
//! the price of this machine per hour in dollars (default 0.08925: an AWS c7i.large, 2 vCPU,
//! on-demand, us-east-1, the nearest rented match to the 2-core machine the benches run on).
//!
//! The teacher's cost comes from the scorer's own usage accounting (`LvlmScorer::usage`, at the
//! configured GPT-4o list prices) against the fake server, which bills every request as OpenAI
//! counts GPT-4o tokens: the text parts in o200k_base tokens (tiktoken-rs), 7 tokens of message
//! framing, each image 85 tokens at low detail or 85 + 170 per 512 px tile at high detail
//! (after fitting into 2048 px and scaling the shortest side to at most 768 px), and the answer
//! in o200k_base tokens. The answers are of the length the prompts ask for, with a flaw sentence.
//! Images are sent at the scorer's `max_image_side` (512), so a Real-Edit photo costs the same
//! one tile as a 64 px world image.

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "support/batched_rate.rs"]
mod batched_rate;
#[path = "support/world_edits.rs"]
mod world_edits;

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use rewardedit_scorer::{LvlmConfig, LvlmScorer, Precision, Preset, ScoreRequest, Scorer, StudentScorer};
use serde_json::json;
use batched_rate::batched_rate;
use support::{config, FakeServer, Reply, Request};
use world_edits::{side, world_requests};

/// The detail level OpenAI bills an image at (the request leaves it to "auto").
#[derive(Clone, Copy)]
enum Detail {
    Low,
    High,
}

/// GPT-4o image tokens for a `w` x `h` image.
fn image_tokens(w: u32, h: u32, detail: Detail) -> u64 {
    if let Detail::Low = detail {
        return 85;
    }
    let (mut w, mut h) = (w as f64, h as f64);
    let fit = (2048.0 / w.max(h)).min(1.0);
    (w, h) = (w * fit, h * fit);
    let short = (768.0 / w.min(h)).min(1.0);
    (w, h) = (w * short, h * short);
    85 + 170 * ((w / 512.0).ceil() * (h / 512.0).ceil()) as u64
}

/// A well-formed answer of typical length for the request (joint: all three axes).
fn answer(request: &Request) -> String {
    let axis = |flaw: &str| json!({"verdict": "no", "score": 3, "flaw": flaw});
    if request.contains("three separate axes") {
        json!({
            "following": axis("the hexagon is still red, so the recolour was only half done"),
            "preservation": axis("the circle in the top left also changed colour"),
            "quality": axis("the edited region shows faint blocky compression artefacts"),
        })
        .to_string()
    } else {
        axis("the hexagon is still red, so the recolour was only half done").to_string()
    }
}

/// A fake server that bills like GPT-4o at `detail`.
fn billing_server(detail: Detail) -> FakeServer {
    let bpe = Arc::new(tiktoken_rs::o200k_base().expect("the o200k_base encoding ships with tiktoken-rs"));
    FakeServer::start_unrecorded(move |request, _| {
        let count = |text: &str| bpe.encode_with_special_tokens(text).len() as u64;
        let images: u64 = request.images().iter().map(|i| image_tokens(i.width(), i.height(), detail)).sum();
        let content = answer(request);
        Reply::Billed { prompt_tokens: 7 + count(&request.text()) + images, completion_tokens: count(&content), content }
    })
}

struct TeacherCost {
    requests_per_edit: f64,
    prompt_per_edit: f64,
    completion_per_edit: f64,
    dollars_per_1000: f64,
}

fn teacher_cost(server: &FakeServer, preset: Preset, requests: &[ScoreRequest]) -> TeacherCost {
    let scorer = LvlmScorer::new(LvlmConfig { preset, concurrency: 8, ..config(server, None) }).expect("a valid config");
    let failed = scorer.score_batch(requests, 8).iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "the billing server answers well");
    let u = scorer.usage();
    let n = requests.len() as f64;
    TeacherCost {
        requests_per_edit: u.requests as f64 / n,
        prompt_per_edit: u.prompt_tokens as f64 / n,
        completion_per_edit: u.completion_tokens as f64 / n,
        dollars_per_1000: u.cost_usd / n * 1000.0,
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut cpu_price = 0.08925;
    if let Some(i) = args.iter().position(|a| a == "--cpu-price-per-hour") {
        cpu_price = args.get(i + 1).and_then(|p| p.parse().ok()).expect("--cpu-price-per-hour takes dollars, e.g. 0.08925");
        args.drain(i..i + 2);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = args.first().map_or_else(|| root.join("checkpoints/student-scorer"), PathBuf::from);
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(512);
    let requests = world_requests(n);
    let prices = LvlmConfig::default();
    println!(
        "{n} world edits ({} px); teacher at ${}/M input and ${}/M output tokens (GPT-4o list prices); this CPU at ${cpu_price}/h",
        side(),
        prices.price_input_per_m,
        prices.price_output_per_m
    );
    println!("{:<36}{:>10}{:>12}{:>12}{:>16}", "scorer", "req/edit", "tokens in", "tokens out", "$ per 1,000");
    let mut teacher_low = f64::INFINITY;
    for (detail, name) in [(Detail::Low, "low"), (Detail::High, "high")] {
        let server = billing_server(detail);
        for preset in [Preset::Joint, Preset::Paper] {
            let c = teacher_cost(&server, preset, &requests);
            teacher_low = teacher_low.min(c.dollars_per_1000);
            let label = format!("GPT-4o {}, {name} detail", preset.name());
            println!(
                "{label:<36}{:>10.0}{:>12.0}{:>12.0}{:>16.4}",
                c.requests_per_edit, c.prompt_per_edit, c.completion_per_edit, c.dollars_per_1000
            );
        }
    }
    for precision in [Precision::Fp32, Precision::Int8] {
        let scorer = StudentScorer::load(&dir, precision, &Device::flex()).expect("load the student");
        let secs = 1.0 / batched_rate(&scorer, &requests);
        let dollars = secs * 1000.0 * cpu_price / 3600.0;
        let label = format!("student {}, {:.0} scores/s", format!("{precision:?}").to_lowercase(), 1.0 / secs);
        println!("{label:<36}{:>10}{:>12}{:>12}{dollars:>16.6}   {:.0}x cheaper than the cheapest teacher row", "-", "-", "-", teacher_low / dollars);
    }
}
