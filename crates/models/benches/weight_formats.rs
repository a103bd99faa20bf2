//! Size, load time and per-edit CPU time of one editor saved as fp32, fp16 and int8
//! (`Editor::save_as`), on this CPU (burn Flex). Default: the tiny world editor preset
//! (`model init --preset world-tiny`: UNet 16/32, reward modules, random weights);
//! `REWARDEDIT_EDITOR=DIR` times that editor folder instead (e.g. a trained world teacher).
//!
//! `cargo bench --workspace --bench weight_formats [-- STEPS RUNS SIDE]` (default 20 steps,
//! 9 runs per format, a 32x32 image). The three formats alternate edit by edit, so load from
//! other processes hits all alike. Every format is dequantised / cast to f32 at load, so the
//! edits do the same arithmetic: no speed difference is expected, only size (and load time).

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use image::RgbImage;
use rewardedit_core::{RewardCondition, Vocab};
use rewardedit_models::pipeline::presets::{world_editor, world_tiny_unet};
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings, Editor};
use rewardedit_models::store::WeightFormat;
use rewardedit_models::unet::RewardConditioningConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Bytes of every file under `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| {
            let path = e.expect("entry").path();
            if path.is_dir() { folder_bytes(&path) } else { std::fs::metadata(&path).expect("file").len() }
        })
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let arg = |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (steps, runs, side) = (arg(0, 20), arg(1, 9), arg(2, 32) as u32);
    let device = Device::flex();
    let (source, what) = match std::env::var("REWARDEDIT_EDITOR") {
        Ok(dir) => (Editor::load(&dir, &device).expect("REWARDEDIT_EDITOR is an editor folder"), dir),
        Err(_) => {
            let vocab = Vocab::build(["make the red circle blue none no unintended changes"]);
            let reward = RewardConditioningConfig::default();
            (world_editor(world_tiny_unet(), vocab, Some(&reward), &device).expect("builds"), "world-tiny preset (random weights)".into())
        }
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let formats = [WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8];
    let mut editors = Vec::new();
    for format in formats {
        let dir = tmp.path().join(format.name());
        source.save_as(&dir, format).expect("saves");
        let t = Instant::now();
        let editor = Editor::load(&dir, &device).expect("loads");
        editors.push((format, folder_bytes(&dir), t.elapsed().as_secs_f64(), editor));
    }

    let image = RgbImage::from_fn(side, side, |x, y| image::Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
    let reward = if source.has_reward() { RewardCondition::paper_default() } else { RewardCondition::Null };
    let request = [EditRequest { image, instruction: "make the red circle blue".into(), reward }];
    let settings = EditSettings { steps, ..source.config.defaults.clone() };
    let time = |editor: &Editor| {
        let t = Instant::now();
        edit(editor, &request, &settings, &mut |_, _| {}).expect("edits");
        t.elapsed().as_secs_f64()
    };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); editors.len()];
    for (_, _, _, e) in &editors {
        time(e);
    }
    for _ in 0..runs {
        for (i, (_, _, _, e)) in editors.iter().enumerate() {
            times[i].push(time(e));
        }
    }
    println!(
        "{what}: edit of {side}x{side}, {steps} steps {}, text cfg {}, image cfg {}, {runs} runs each (median), burn Flex",
        settings.scheduler.name(),
        settings.text_cfg,
        settings.image_cfg
    );
    let base = median(times[0].clone());
    println!("{:<6} {:>12} {:>8} {:>10} {:>12} {:>9}", "format", "folder bytes", "ratio", "load ms", "edit ms", "vs f32");
    for ((format, bytes, load, _), t) in editors.iter().zip(times) {
        let m = median(t);
        println!(
            "{:<6} {bytes:>12} {:>7.2}x {:>10.1} {:>12.1} {:>+8.1}%",
            format.name(),
            editors[0].1 as f64 / *bytes as f64,
            load * 1e3,
            m * 1e3,
            (m / base - 1.0) * 100.0
        );
    }
}
