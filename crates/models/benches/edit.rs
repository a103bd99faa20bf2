//! One whole edit of the tiny golden InstructPix2Pix folder (tests/golden/ip2p_tiny/: UNet
//! 16/32, tiny VAE and CLIP) on this CPU (burn Flex): without and with reward conditioning
//! (the authors' modules attached, reward 5,5,5 + "None; None; None", no reward guidance), and
//! the same edit with diffusers (scripts/bench_ip2p_cpu.py, torch threads = 2) in the same run.
//!
//! `cargo bench --workspace --bench edit [-- STEPS RUNS]` (default 20 steps, 15 runs per row).
//! The two burn rows alternate edit by edit, so load from other processes hits both alike.
//! Python: `$REWARDEDIT_PYTHON`, else `scripts/.venv/bin/python`; the ratio row is skipped if
//! neither exists.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::tensor::Device;
use image::RgbImage;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings, Editor};
use rewardedit_models::schedulers::SchedulerKind;
use rewardedit_models::unet::RewardConditioningConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let steps: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(20);
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let folder = root.join("tests/golden/ip2p_tiny");
    let device = Device::flex();

    let plain = Editor::load(&folder, &device).expect("the golden folder loads");
    let Editor { unet, unet_config, text, space, schedule, config } = Editor::load(&folder, &device).expect("loads");
    let unet = unet.attach_reward(&unet_config, &RewardConditioningConfig::default());
    let rewarded = Editor::new(unet, unet_config, text, space, schedule, config).expect("fits");

    let image = RgbImage::from_fn(32, 32, |x, y| image::Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
    let request = |reward| [EditRequest { image: image.clone(), instruction: "make the sky blue".into(), reward }];
    let settings = EditSettings { steps, scheduler: SchedulerKind::EulerA, ..EditSettings::default() };
    let time = |editor: &Editor, reward: RewardCondition| {
        let t = Instant::now();
        edit(editor, &request(reward), &settings, &mut |_, _| {}).expect("edits");
        t.elapsed().as_secs_f64()
    };
    time(&plain, RewardCondition::Null);
    time(&rewarded, RewardCondition::paper_default());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(time(&plain, RewardCondition::Null));
        b.push(time(&rewarded, RewardCondition::paper_default()));
    }
    let (ma, mb) = (median(a), median(b));
    println!("edit of tests/golden/ip2p_tiny, 32x32, {steps} steps Euler-A, text cfg 7.5, image cfg 1.5, {runs} runs each (median)");
    println!("burn flex, plain InstructPix2Pix        {:8.1} ms", ma * 1e3);
    println!("burn flex, + reward conditioning         {:8.1} ms   overhead {:+.1} %", mb * 1e3, (mb / ma - 1.0) * 100.0);

    let python = std::env::var_os("REWARDEDIT_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join("scripts/.venv/bin/python"));
    if !python.exists() {
        println!("diffusers: skipped ({} not found; set REWARDEDIT_PYTHON)", python.display());
        return;
    }
    let out = Command::new(&python)
        .arg(root.join("scripts/bench_ip2p_cpu.py"))
        .args(["--steps", &steps.to_string(), "--runs", &runs.to_string(), "--size", "32", "--threads", "2"])
        .output()
        .expect("python runs");
    let line = String::from_utf8_lossy(&out.stdout);
    let parsed: Option<f64> = serde_json::from_str::<serde_json::Value>(line.trim()).ok().and_then(|v| v["median_s"].as_f64());
    match parsed {
        Some(md) => {
            println!("diffusers (torch, 2 threads), plain     {:8.1} ms   {}", md * 1e3, line.trim());
            println!("ratio burn/diffusers: plain {:.2}x, reward {:.2}x", ma / md, mb / md);
        }
        None => println!("diffusers: failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")),
    }
}
