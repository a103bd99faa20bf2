//! End-to-end tests of the `rewardedit` binary: what a user runs from the README.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rewardedit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewardedit")).args(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = rewardedit(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must be refused as bad input: exit code 2 and a one-line reason.
fn bad_input(args: &[&str]) -> String {
    let out = rewardedit(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2; stderr: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are utf-8")
}

fn real_edit() -> PathBuf {
    rewardedit_eval::benchmark::locate_real_edit(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("Real-Edit not found: set REWARDEDIT_REAL_EDIT to its folder")
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("file exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn world_sample_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    for (out, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        ok(&["world", "sample", "--n", "14", "--size", "32", "--seed", seed, "--out", p(out)]);
    }
    let manifest = |d: &Path| std::fs::read(d.join("manifest.jsonl")).unwrap();
    assert_eq!(manifest(&a), manifest(&b));
    assert_ne!(manifest(&a), manifest(&c));
    let lines = read_lines(&a.join("manifest.jsonl"));
    assert_eq!(lines.len(), 14);
    for line in &lines {
        for key in ["source", "edited", "target", "mask"] {
            let rel = line[key].as_str().unwrap();
            assert_eq!(std::fs::read(a.join(rel)).unwrap(), std::fs::read(b.join(rel)).unwrap(), "{rel}");
        }
        assert!(line["rewards"]["following"]["score"].is_number());
    }
    let types: std::collections::BTreeSet<_> = lines.iter().map(|l| l["edit_type"].as_str().unwrap()).collect();
    assert_eq!(types.len(), 7, "every edit type is sampled: {types:?}");
}

#[test]
fn labelling_a_world_sample_with_the_oracle_reproduces_its_rewards_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (data, labelled) = (dir.path().join("data"), dir.path().join("labelled"));
    ok(&["world", "sample", "--n", "21", "--size", "32", "--seed", "1", "--out", p(&data)]);
    let first = ok(&["label", "--in", p(&data), "--scorer", "oracle", "--out", p(&labelled)]);
    assert!(first.contains("21 labelled now, 0 failed"), "{first}");
    let want: Vec<_> = read_lines(&data.join("manifest.jsonl")).into_iter().map(|l| l["rewards"].clone()).collect();
    let got: Vec<_> = read_lines(&labelled.join("manifest.jsonl")).into_iter().map(|l| l["rewards"].clone()).collect();
    assert_eq!(got, want);
    let again = ok(&["label", "--in", p(&data), "--scorer", "oracle", "--out", p(&labelled)]);
    assert!(again.contains("21 already labelled, 0 labelled now"), "{again}");
    assert_eq!(read_lines(&labelled.join("manifest.jsonl")).len(), 21);
    // An output that cannot be written is not bad input: exit 1, not 2.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "a file, not a folder").unwrap();
    let out = rewardedit(&["label", "--in", p(&data), "--scorer", "oracle", "--out", p(&blocked)]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn labelling_with_the_noisy_oracle_is_deterministic_and_zero_noise_is_the_exact_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&["world", "sample", "--n", "28", "--size", "32", "--seed", "3", "--out", p(&data)]);
    let rewards = |scorer: &str, name: &str| -> Vec<serde_json::Value> {
        let out = dir.path().join(name);
        let log = ok(&["label", "--in", p(&data), "--scorer", scorer, "--out", p(&out)]);
        assert!(log.contains("28 labelled now, 0 failed"), "{scorer}: {log}");
        read_lines(&out.join("manifest.jsonl")).into_iter().map(|l| l["rewards"].clone()).collect()
    };
    let exact: Vec<_> = read_lines(&data.join("manifest.jsonl")).into_iter().map(|l| l["rewards"].clone()).collect();
    assert_eq!(rewards("oracle:noisy=0,0,0,0,0", "zero"), exact);
    let (a, b) = (rewards("oracle:noisy", "a"), rewards("oracle:noisy", "b"));
    assert_eq!(a, b, "the same edit gets the same noise on every run");
    let score = |r: &serde_json::Value, axis: &str| r[axis]["score"].as_f64().unwrap();
    // Scores at 0 or 5 stay there half the time (clamping); across three axes most edits move.
    let moved = |n: &serde_json::Value, e: &serde_json::Value| ["following", "preservation", "quality"].iter().any(|x| score(n, x) != score(e, x));
    let changed = a.iter().zip(&exact).filter(|(n, e)| moved(n, e)).count();
    assert!(changed >= 20, "score sd 0.5 moves most edits' scores: {changed} of 28");
    // Lenient on following (+2 here), harsh on quality (-2), within the noise of 28 items.
    let strong = rewards("oracle:noisy=0.1,0,2,0,-2", "strong");
    let mean_shift = |axis: &str| strong.iter().zip(&exact).map(|(n, e)| score(n, axis) - score(e, axis)).sum::<f64>() / 28.0;
    assert!(mean_shift("following") > 0.5 && mean_shift("quality") < -0.5, "{} {}", mean_shift("following"), mean_shift("quality"));
    for bad in ["oracle:noisy=0.5,0.1", "oracle:noisy=0.5,2,0,0,0", "oracle:noisy=a,b,c,d,e"] {
        let err = bad_input(&["label", "--in", p(&data), "--scorer", bad, "--out", p(&dir.path().join("x"))]);
        assert!(err.contains("SD,FLIP,BIAS_F,BIAS_P,BIAS_Q"), "{bad}: {err}");
    }
}

#[test]
fn world_show_draws_one_row_per_example() {
    let dir = tempfile::tempdir().unwrap();
    let (data, grid) = (dir.path().join("data"), dir.path().join("grid.png"));
    ok(&["world", "sample", "--n", "3", "--size", "32", "--out", p(&data)]);
    ok(&["world", "show", p(&data), "--out", p(&grid), "--rows", "3"]);
    let img = image::open(&grid).unwrap();
    // Four 32 px cells per row (source | edited | target | mask), three rows, 2 px gaps.
    assert_eq!((img.width(), img.height()), (2 + 4 * 34, 2 + 3 * 34));
}

#[test]
fn data_check_counts_real_edit() {
    let out = ok(&["data", "check", &format!("real-edit:{}", real_edit().display())]);
    assert!(out.starts_with("real-edit: 80 images, 560 instructions"), "{out}");
    for t in ["Local", "Remove", "Add", "Texture", "Background", "Global", "Style"] {
        assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [t, "80"]), "{t}: {out}");
    }
    assert!(out.contains("0 bad items"));
}

#[test]
fn data_check_names_a_bad_file_and_lists_it_with_skip_bad() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&["world", "sample", "--n", "7", "--size", "32", "--out", p(&data)]);
    let victim = read_lines(&data.join("manifest.jsonl"))[2]["edited"].as_str().unwrap().to_string();
    let bytes = std::fs::read(data.join(&victim)).unwrap();
    std::fs::write(data.join(&victim), &bytes[..bytes.len() / 2]).unwrap();
    let spec = format!("manifest:{}", data.display());
    let err = bad_input(&["data", "check", &spec]);
    assert!(err.contains(&victim), "the error names the truncated file: {err}");
    let out = ok(&["data", "check", &spec, "--skip-bad"]);
    assert!(out.contains("6 examples") && out.contains("1 bad items") && out.contains(&victim), "{out}");
}

/// A checkpoints folder as the demo reads it, with tiny random editors (`model init`) under the
/// committed names and a copy of the committed student scorer; `skip` names a folder left out.
fn demo_checkpoints(dir: &Path, skip: Option<&str>) -> PathBuf {
    let root = dir.join("checkpoints");
    for name in ["world-baseline-long", "world-teacher-long", "world-student-long", "world-student-long-int8"].into_iter().filter(|n| Some(*n) != skip) {
        let out = root.join(name);
        let mut args = vec!["model", "init", "--preset", "world-tiny", "--out", p(&out)];
        if name == "world-baseline-long" {
            args.push("--no-reward");
        }
        ok(&args);
    }
    let scorer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints/student-scorer");
    std::fs::create_dir_all(root.join("student-scorer")).unwrap();
    for f in ["config.json", "model.safetensors", "model.int8.safetensors"] {
        std::fs::copy(scorer.join(f), root.join("student-scorer").join(f)).unwrap();
    }
    root
}

/// `[lo, hi]` within `[0, max]`.
fn interval(v: &serde_json::Value, max: f64) -> bool {
    let (lo, hi) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    (0.0..=max).contains(&lo) && lo <= hi && hi <= max
}

#[test]
fn demo_quick_writes_the_summary_schema_and_a_self_contained_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = demo_checkpoints(dir.path(), None);
    let out = dir.path().join("demo");
    let said = ok(&["demo", "--quick", "--checkpoints", p(&ckpt), "--out", p(&out)]);
    for part in ["teacher vs student", "teacher vs student_int8", "mean ratio", "reward guidance", "slider sweeps", "--quick"] {
        assert!(said.contains(part), "{part}: {said}");
    }
    let read = || -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap() };
    let s = read();
    assert_eq!((s["version"].as_u64(), s["mode"].as_str()), (Some(2), Some("quick")));
    assert_eq!((s["benchmark"]["items"].as_u64(), s["benchmark"]["sweep_items"].as_u64()), (Some(7), Some(1)));
    let models = s["models"].as_object().unwrap();
    assert_eq!(models.keys().collect::<Vec<_>>(), ["baseline", "noop", "student", "student_int8", "teacher"]);
    for (name, m) in models {
        for scorer in ["oracle", "student_scorer"] {
            let run = &m["scorers"][scorer];
            assert_eq!((run["n"].as_u64(), run["failed"].as_u64()), (Some(7), Some(0)), "{name} {scorer}");
            assert_eq!(run["by_type"].as_object().unwrap().len(), 7);
            assert!(out.join(run["run"].as_str().unwrap()).join("items.jsonl").is_file());
            for axis in ["following", "preservation", "quality"] {
                let a = &run["axes"][axis];
                let (yes, mean) = (a["yes_rate"].as_f64().unwrap(), a["mean"].as_f64().unwrap());
                assert!((0.0..=1.0).contains(&yes) && (0.0..=5.0).contains(&mean), "{name} {scorer} {axis}: {a}");
                assert!(interval(&a["yes_rate_ci"], 1.0) && interval(&a["mean_ci"], 5.0), "{name} {scorer} {axis}: {a}");
            }
        }
        let t = &m["edit_seconds"];
        assert!(t["median"].as_f64().unwrap() >= 0.0 && t["mean"].as_f64().unwrap().is_finite() && t["n"] == 7, "{name}: {t}");
        if name != "noop" {
            assert!(m["size_bytes"].as_u64().unwrap() > 100_000 && m["steps"] == 2, "{name}: {m}");
            assert_eq!(m["fingerprint"].as_str().unwrap().len(), 64);
        }
    }
    for student in ["student", "student_int8"] {
        let x = &s["speed"]["students"][student];
        assert!(x["speedup"].as_f64().unwrap() > 0.0 && x["pass"].is_boolean(), "{x}");
    }
    // The speed-ups come from edits timed in this invocation: 3 blocks per model of at least 4
    // edits and 1.5 s each (at most 100 edits).
    let timed = s["speed"]["timed"].as_object().unwrap();
    assert_eq!(timed.keys().collect::<Vec<_>>(), ["student", "student_int8", "teacher"]);
    for t in timed.values() {
        let (n, mean) = (t["n"].as_u64().unwrap() as f64, t["mean"].as_f64().unwrap());
        assert!(n >= 12.0 && t["median"].as_f64().unwrap() > 0.0 && (n * mean >= 4.5 || n >= 300.0), "{timed:?}");
    }
    let ratio = timed["teacher"]["median"].as_f64().unwrap() / timed["student"]["median"].as_f64().unwrap();
    assert!((s["speed"]["students"]["student"]["speedup"].as_f64().unwrap() - ratio).abs() < 1e-9);
    let parity = s["parity"].as_array().unwrap();
    assert_eq!(parity.len(), 4);
    for check in parity {
        assert!(check["passed"].is_boolean());
        let lines = check["report"]["lines"].as_array().unwrap();
        assert_eq!(lines.iter().filter(|l| l["metric"] == "mean ratio").count(), 3, "{check}");
    }
    for arm in ["on", "off"] {
        assert_eq!(s["guidance"][arm]["n"].as_u64(), Some(7));
    }
    let sweeps = s["sweeps"]["axes"].as_object().unwrap();
    assert_eq!(sweeps.len(), 3);
    for (axis, sweep) in sweeps {
        assert_eq!(sweep["levels"], serde_json::json!([1, 2, 3, 4, 5]));
        assert!(sweep["mean_by_level"].as_array().unwrap().iter().all(|m| m.as_f64().is_some_and(|v| (0.0..=5.0).contains(&v))), "{axis}: {sweep}");
        assert!(sweep["spearman"].is_null() || sweep["spearman"].as_f64().is_some_and(|r| (-1.0..=1.0).contains(&r)), "{axis}: {sweep}");
        assert_eq!(sweep["pairs"].as_u64(), Some(5));
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,") && html.contains("Slider sweeps"));
    assert!(!html.contains("src=\"report/") && !html.contains("src=\"images/"), "the page needs no other file");

    // A second run resumes every evaluation: nothing is edited again, the numbers are the same.
    let again = rewardedit(&["demo", "--quick", "--checkpoints", p(&ckpt), "--out", p(&out)]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("7 of 7 items already scored"));
    let (mut a, mut b) = (s, read());
    for x in [&mut a, &mut b] {
        // Times are measured afresh in every invocation, by design.
        x["wall_seconds"] = serde_json::Value::Null;
        x["speed"] = serde_json::Value::Null;
    }
    assert!(same_numbers(&a, &b), "a resumed demo reports what the first run did:\n{a}\n{b}");
}

/// Equal JSON, numbers to 1e-12 relative: a resumed run reads its items back from JSON text,
/// whose floats may come back one unit in the last place off.
fn same_numbers(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0)
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(u, v)| same_numbers(u, v)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, u)| y.get(k).is_some_and(|v| same_numbers(u, v))),
        _ => a == b,
    }
}

#[test]
fn demo_names_each_missing_checkpoint_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = demo_checkpoints(dir.path(), Some("world-student-long-int8"));
    let err = bad_input(&["demo", "--quick", "--checkpoints", p(&ckpt), "--out", p(&dir.path().join("demo"))]);
    assert!(err.contains("1 of 5") && err.contains("world-student-long-int8") && !err.contains("world-teacher-long "), "{err}");
    assert!(err.contains("--retrain") && err.contains("PROVENANCE.md"), "{err}");
    assert!(!dir.path().join("demo").join("summary.json").exists(), "no summary without every model");
}

#[test]
fn demo_retrain_lists_the_whole_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let listing = ok(&["demo", "--retrain", "--dry-run", "--out", p(&out)]);
    for part in [
        "rewardedit train --recipe",
        "world-teacher-stage1.toml",
        "world-teacher-baseline.toml",
        "world-teacher-stage2.toml",
        "rewardedit distill-editor --recipe",
        "world-student.toml",
        "world-student-lite.toml --out runs/world-student-lite --resume",
        // The long pair and its student, which the demo evaluates.
        "world-teacher-stage1-long.toml --out runs/world-teacher-stage1-long --resume (stopping at step 7500",
        "world-teacher-stage2-long.toml --out runs/world-teacher-stage2-long --resume",
        "world-student-long.toml --out runs/world-student-long --resume",
        "world-student-long-2.toml --out runs/world-student-long-2 --resume",
        "--model runs/world-student-long-2/editor --scheme int8 --out runs/world-student-long-int8/editor",
        "distill-scorer",
        "world-scorer.toml",
        // Editor outputs the scorer trains on, made before it (its recipe's [[extra_data]]).
        "world-scorer-edits.toml --editor runs/world-student/editor --scorer oracle --out runs/scorer-edits/student",
        "--steps 10 --limit 700 --scorer oracle --out runs/scorer-edits/teacher-10",
        "sweep quality = 4",
    ] {
        assert!(listing.contains(part), "{part}: {listing}");
    }
    assert!(!out.join("retrain").exists(), "a dry run starts nothing");
    // The demo evaluates the long pair and its students, made after the light student.
    let evaluated = &listing[listing.find("then: the demo's evaluation").unwrap()..];
    for (slot, run) in [("baseline", "world-teacher-stage1-long"), ("teacher", "world-teacher-stage2-long"), ("student", "world-student-long-2"), ("student_int8", "world-student-long-int8")] {
        let line = evaluated.lines().find(|l| l.trim_start().starts_with(&format!("{slot} "))).unwrap_or_else(|| panic!("{slot}: {listing}"));
        assert!(line.ends_with(&format!("runs/{run}/editor")), "{line}");
    }
    let at = |s: &str| listing.find(s).unwrap();
    assert!(at("world-student-lite.toml") < at("world-student-long.toml") && at("world-student-long.toml") < at("world-student-long-2.toml"), "{listing}");
    assert!(listing.find("scorer-edits/teacher-10").unwrap() < listing.find("distill-scorer").unwrap(), "{listing}");
    // Every manifest the scorer recipe trains on is a folder some earlier step writes.
    let recipe: toml::Table = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes/world-scorer.toml")).unwrap().parse().unwrap();
    for extra in recipe["extra_data"].as_array().unwrap() {
        let path = extra["path"].as_str().unwrap();
        assert!(listing.contains(&format!("--out {path}\n")), "{path} is made by no retrain step: {listing}");
    }
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(8, 8).save(&img).unwrap();
    let err = bad_input(&["world", "sample", "--n", "3", "--size", "8", "--out", p(&dir.path().join("x"))]);
    assert!(err.contains("size 8"), "{err}");
    let err = bad_input(&["score", p(&img), p(&img), "   "]);
    assert!(err.contains("instruction is empty"), "{err}");
    let err = bad_input(&["score", p(&img), p(&dir.path().join("missing.png")), "make it blue"]);
    assert!(err.contains("missing.png"), "{err}");
    let err = bad_input(&["data", "check", "nosuchformat:/tmp"]);
    assert!(err.contains("unknown format"), "{err}");
    let err = bad_input(&["label", "--in", p(&dir.path().join("none")), "--scorer", "oracle", "--out", p(dir.path())]);
    assert!(err.contains("none"), "{err}");
    bad_input(&["info", "--backend", "cuda"]);
    // The CPU build has no LibTorch: both of its backends say how to get one.
    for backend in ["libtorch", "libtorch-cuda"] {
        let err = bad_input(&["info", "--backend", backend]);
        assert!(err.contains("--features tch"), "{err}");
    }
}

#[test]
fn bench_unet_times_the_forward_or_forward_and_backward() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/unet_tiny_config.json");
    let base = ["bench-unet", "--config", p(&config), "--latent", "16", "--batch", "2", "--iters", "2"];
    let forward = ok(&base);
    assert!(forward.contains("(8 input channels, reward off), forward, batch 2, latent 16x16, f32"), "{forward}");
    // The backward pass reads a gradient of conv_in back: it fails if none reaches the first layer.
    let backward = ok(&[&base[..], &["--backward", "--reward"]].concat());
    assert!(backward.contains("(8 input channels, reward on), forward + backward, batch 2"), "{backward}");
    assert!(backward.contains("over 2 calls"), "{backward}");
    let err = bad_input(&["bench-unet", "--config", p(&config), "--latent", "12"]);
    assert!(err.contains("multiple of 8"), "{err}");
}

#[test]
fn bench_edit_times_whole_edits_at_the_requested_size_and_precision() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/ip2p_tiny");
    for dtype in ["f32", "f16"] {
        let out = ok(&["bench-edit", "--model", p(&golden), "--size", "24", "--steps", "2", "--iters", "2", "--dtype", dtype]);
        // The model's size multiple is 8 for this UNet: 24 px stays 24 px, two steps of Euler-A.
        assert!(out.contains("(24x24 px, 2 steps euler-a, reward off)"), "{out}");
        assert!(out.contains(&format!(", {dtype}, backend flex")), "{out}");
        let median: f64 = out.split("median ").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok()).expect(&out);
        assert!(median > 0.0 && out.contains("over 2 edits"), "{out}");
    }
    let err = bad_input(&["bench-edit", "--model", p(&golden), "--iters", "0"]);
    assert!(err.contains("--iters"), "{err}");
    let err = bad_input(&["bench-edit", "--model", p(&golden.join("nope"))]);
    assert!(err.contains("not a folder"), "{err}");
}

#[test]
fn score_prints_no_score_when_the_judge_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(8, 8).save(&img).unwrap();
    let cfg = dir.path().join("lvlm.toml");
    std::fs::write(&cfg, "max_retries = 1\nbackoff_base_ms = 1\nbackoff_max_ms = 1\n").unwrap();
    // Port 9 (discard) on loopback: nothing listens, every attempt is refused at once.
    let out = rewardedit(&[
        "score", p(&img), p(&img), "make it blue", "--scorer", "lvlm", "--base-url", "http://127.0.0.1:9/v1",
        "--lvlm-config", p(&cfg), "--no-cache", "--json",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no score is printed: {}", String::from_utf8_lossy(&out.stdout));
}

/// Copies a run folder's records and settings (not its images) to `to`, passing every record
/// through `change`.
fn doctored_run(from: &Path, to: &Path, change: impl Fn(&mut serde_json::Value)) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("run.json"), to.join("run.json")).unwrap();
    let lines: Vec<String> = read_lines(&from.join("items.jsonl"))
        .into_iter()
        .map(|mut l| {
            change(&mut l);
            serde_json::to_string(&l).unwrap()
        })
        .collect();
    std::fs::write(to.join("items.jsonl"), lines.join("\n") + "\n").unwrap();
}

#[test]
fn eval_world_noop_resumes_and_parity_passes_against_itself_and_fails_for_a_worse_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("noop");
    let args = ["eval", "--benchmark", "world", "--editor", "noop", "--scorer", "oracle", "--limit", "7", "--out", p(&run)];
    let first = ok(&args);
    assert!(first.contains("7 items, 0 already scored, 7 scored now, 0 failed now"), "{first}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["n"].as_u64(), summary["failed"].as_u64()), (Some(7), Some(0)));
    for axis in ["following", "preservation", "quality"] {
        let a = &summary["axes"][axis];
        assert!(a["yes_rate"].is_number() && a["mean"].is_number(), "{a}");
        assert_eq!(a["mean_ci"].as_array().unwrap().len(), 2);
        assert_eq!(a["yes_rate_ci"].as_array().unwrap().len(), 2);
    }
    assert_eq!(summary["by_type"].as_object().unwrap().len(), 7);
    assert!(summary["axes"]["following"]["mean"].as_f64().unwrap() < summary["axes"]["preservation"]["mean"].as_f64().unwrap());
    for f in ["report.md", "report.html", "items.jsonl"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let again = ok(&args);
    assert!(again.contains("7 already scored, 0 scored now"), "{again}");

    let same = ok(&["parity", "--teacher", p(&run), "--student", p(&run)]);
    assert!(same.contains("PASS") && !same.contains("FAIL"), "{same}");

    let worse = dir.path().join("worse");
    doctored_run(&run, &worse, |l| {
        l["rewards"]["preservation"] = serde_json::json!({"score": 0.0, "verdict": false, "flaw": "everything changed"});
    });
    let out = rewardedit(&["parity", "--teacher", p(&run), "--student", p(&worse)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");

    let table = ok(&["compare", p(&run), p(&worse)]);
    assert!(table.contains("(-5.00)") || table.contains("(-4."), "{table}");

    let err = bad_input(&["parity", "--teacher", p(&run), "--student", p(&dir.path().join("missing"))]);
    assert!(err.contains("no run.json: is this a run folder"), "{err}");
}

#[test]
fn eval_bad_input_a_folder_that_is_no_editor_the_oracle_on_real_edit_bad_rewards() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = p(&run);
    let err = bad_input(&["eval", "--benchmark", "world", "--editor", p(dir.path()), "--scorer", "oracle", "--out", out]);
    assert!(err.contains("cannot load the editor folder"), "{err}");
    let err = bad_input(&["eval", "--benchmark", "real-edit", "--editor", "noop", "--scorer", "oracle", "--out", out]);
    assert!(err.contains("world items only"), "{err}");
    let err = bad_input(&["eval", "--benchmark", "world", "--editor", "noop", "--scorer", "oracle", "--rewards", "5,9,5", "--out", out]);
    assert!(err.contains("three scores"), "{err}");
}

#[test]
fn parity_scorer_rescores_a_world_run_with_the_committed_student() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&["eval", "--benchmark", "world", "--editor", "noop", "--scorer", "oracle", "--limit", "14", "--out", p(&run)]);
    let student = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints/student-scorer");
    let out = rewardedit(&["parity-scorer", "--teacher", "oracle", "--student", p(&student), "--items", p(&run)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("spearman") && stdout.contains("verdict_agreement"), "{stdout}");
    assert!(stdout.contains("14 items compared"), "{stdout}");
}

#[test]
fn eval_runs_an_editor_folder_on_the_world() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let run = dir.path().join("run");
    let said = ok(&["eval", "--benchmark", "world", "--editor", p(&model), "--scorer", "oracle", "--steps", "2", "--limit", "7", "--out", p(&run)]);
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["n"].as_u64(), summary["failed"].as_u64()), (Some(7), Some(0)), "{said}");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("| sampler and guidance | editor default |"), "{report}");

    // The sampler and guidance flags reach the editor: another sampler edits differently, and
    // the report says what was asked.
    let other = dir.path().join("run-ddim");
    let args = ["--scheduler", "ddim", "--text-cfg", "1", "--image-cfg", "1"];
    let base = ["eval", "--benchmark", "world", "--editor", p(&model), "--scorer", "oracle", "--steps", "2", "--limit", "7", "--out", p(&other)];
    ok(&[&base[..], &args[..]].concat());
    let report = std::fs::read_to_string(other.join("report.md")).unwrap();
    assert!(report.contains("| sampler and guidance | ddim, text 1 image 1 reward default |"), "{report}");
    let edits = |run: &Path| {
        let mut files: Vec<_> = std::fs::read_dir(run.join("images/edited")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(edits(&other).len(), 7);
    assert_ne!(edits(&run), edits(&other), "--scheduler ddim gave the editor default's edits");

    // The reward text reaches the editor (alone it keeps the scores at 5,5,5) and the report
    // records it.
    let texted = dir.path().join("run-text");
    let text = "No negative aspects; No unintended changes; No noticeable issues";
    let base = ["eval", "--benchmark", "world", "--editor", p(&model), "--scorer", "oracle", "--steps", "2", "--limit", "7"];
    ok(&[&base[..], &["--reward-text", text, "--out", p(&texted)]].concat());
    let report = std::fs::read_to_string(texted.join("report.md")).unwrap();
    assert!(report.contains(r#"{"kind":"scores","scores":[5.0,5.0,5.0],"text":"No negative aspects;"#), "{report}");
    assert_ne!(edits(&run), edits(&texted), "--reward-text gave the default text's edits");
    let err = bad_input(&[&base[..], &["--reward-text", text, "--template", "catalogue", "--out", p(&texted)]].concat());
    assert!(err.contains("--template"), "{err}");

    let out = p(&other);
    let err = bad_input(&["eval", "--benchmark", "world", "--editor", p(&model), "--scorer", "oracle", "--scheduler", "plms", "--out", out]);
    assert!(err.contains("plms"), "{err}");
    let err = bad_input(&["eval", "--benchmark", "world", "--editor", p(&model), "--scorer", "oracle", "--text-cfg=-1", "--out", out]);
    assert!(err.contains("text_cfg"), "{err}");
}

/// A tiny random world editor folder made by `model init`.
fn tiny_editor(dir: &Path) -> PathBuf {
    let model = dir.join("editor");
    ok(&["model", "init", "--preset", "world-tiny", "--out", p(&model)]);
    model
}

#[test]
fn edit_returns_the_input_size_for_a_non_square_image() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let img = dir.path().join("in.png");
    image::RgbImage::from_fn(30, 17, |x, y| image::Rgb([(x * 8) as u8, (y * 15) as u8, 90])).save(&img).unwrap();
    let out = dir.path().join("out.png");
    let args = ["edit", p(&img), "make the red circle blue", "--model", p(&model), "--steps", "2", "--template", "catalogue", "--reward-cfg", "2", "--out", p(&out)];
    let said = ok(&args);
    assert!(said.contains("30x17"), "{said}");
    let edited = image::open(&out).unwrap();
    assert_eq!((edited.width(), edited.height()), (30, 17));
    // Seeded: the same command writes the same image.
    let again = dir.path().join("again.png");
    let mut args2 = args;
    args2[args2.len() - 1] = p(&again);
    ok(&args2);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn edit_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let img = dir.path().join("in.png");
    image::RgbImage::new(12, 8).save(&img).unwrap();
    let out = dir.path().join("out.png");
    let run = |image: &str, instruction: &str, extra: &[&str]| {
        let mut args = vec!["edit", image, instruction, "--model", p(&model), "--steps", "1", "--out", p(&out)];
        args.extend_from_slice(extra);
        let err = bad_input(&args);
        assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
        err
    };
    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"not an image").unwrap();
    run(p(&garbage), "make it blue", &[]);
    run(p(&dir.path().join("missing.png")), "make it blue", &[]);
    assert!(run(p(&img), "   ", &[]).contains("empty"));
    assert!(run(p(&img), "make it blue", &["--rewards", "5,5"]).contains("three scores"));
    assert!(run(p(&img), "make it blue", &["--rewards", "5,9,5"]).contains("outside"));
    assert!(run(p(&img), "make it blue", &["--rewards", "5,x,5"]).contains("not a number"));
    let err = run(p(&img), "make it blue", &["--template", "bold"]);
    assert!(err.contains("default, catalogue, creative, clean"), "{err}");
    assert!(run(p(&img), "make it blue", &["--scheduler", "heun"]).contains("euler-a"));
    assert!(!out.exists());
}

#[test]
fn model_inspect_checks_every_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let said = ok(&["model", "inspect", p(&model)]);
    for part in ["unet", "reward modules", "text encoder", "vae", "tensor check: ok"] {
        assert!(said.contains(part), "{part}: {said}");
    }
    // Narrower cross-attention in the config than in the weights: mis-shaped tensors, exit 2.
    let config = model.join("unet/config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let tampered = text.replace("\"cross_attention_dim\": 32", "\"cross_attention_dim\": 16");
    assert_ne!(text, tampered);
    std::fs::write(&config, tampered).unwrap();
    let out = rewardedit(&["model", "inspect", p(&model)]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mis-shaped  down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tensor check failed"));
    bad_input(&["model", "inspect", p(&dir.path().join("nothing"))]);
}

#[test]
fn quantize_writes_an_int8_editor_that_edits_and_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let q8 = dir.path().join("q8");
    let calib = ["--calib-items", "2", "--steps", "2", "--max-side", "16"];
    let mut args = vec!["quantize", "--model", p(&model), "--scheme", "int8", "--out", p(&q8)];
    args.extend(calib);
    let said = ok(&args);
    assert!(said.contains("rewardedit-int8-v2") && said.contains("PSNR"), "{said}");

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(q8.join("quantize.json")).unwrap()).unwrap();
    assert_eq!((report["scheme"].as_str(), report["format"].as_str()), (Some("int8"), Some("rewardedit-int8-v2")));
    assert_eq!(report["calibration"]["set"], "world");
    assert_eq!(report["error"]["items"], 2);
    let (before, after) = (report["total_bytes_before"].as_u64().unwrap(), report["total_bytes_after"].as_u64().unwrap());
    assert!(after * 2 < before, "{after} vs {before}");
    assert!(report["bytes_after"]["unet"].as_u64().unwrap() < report["bytes_before"]["unet"].as_u64().unwrap());
    let psnr = report["error"]["psnr_db_min"].as_f64().unwrap();
    assert!(psnr > 25.0, "{psnr}");

    let inspected = ok(&["model", "inspect", p(&q8)]);
    for want in ["I8:", "rewardedit-int8-v2", "reward modules", "tensor check: ok"] {
        assert!(inspected.contains(want), "{want}: {inspected}");
    }
    // The int8 folder is an ordinary editor, reward conditioning included.
    let img = dir.path().join("in.png");
    image::RgbImage::from_fn(12, 8, |x, y| image::Rgb([(x * 20) as u8, (y * 30) as u8, 90])).save(&img).unwrap();
    let out = dir.path().join("out.png");
    ok(&["edit", p(&img), "make the red circle blue", "--model", p(&q8), "--steps", "2", "--rewards", "5,4,5", "--out", p(&out)]);
    assert_eq!(image::open(&out).unwrap().width(), 12);

    // fp16: every weights file halves.
    let f16 = dir.path().join("f16");
    let mut args = vec!["quantize", "--model", p(&model), "--scheme", "fp16", "--out", p(&f16)];
    args.extend(calib);
    ok(&args);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f16.join("quantize.json")).unwrap()).unwrap();
    let ratio = report["total_bytes_before"].as_f64().unwrap() / report["total_bytes_after"].as_f64().unwrap();
    assert!((1.9..2.01).contains(&ratio), "{ratio}");
    assert!(ok(&["model", "inspect", p(&f16)]).contains("F16:"));
}

#[test]
fn quantize_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_editor(dir.path());
    let out = dir.path().join("out");
    let run = |model: &str, scheme: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["quantize", "--model", model, "--scheme", scheme, "--out", out];
        args.extend_from_slice(extra);
        bad_input(&args)
    };
    assert!(run(p(&dir.path().join("nothing")), "int8", p(&out), &[]).contains("not a folder"));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(run(p(&empty), "int8", p(&out), &[]).contains("not an editor folder"));
    assert!(run(p(&model), "int4", p(&out), &[]).contains("int8"));
    let err = run(p(&model), "int8", p(&model), &[]);
    assert!(err.contains("not empty"), "{err}");
    assert!(run(p(&model), "int8", p(&out), &["--calib", "nosuchformat:x"]).contains("world"));
    run(p(&model), "int8", p(&out), &["--calib", p(&dir.path().join("no-manifest"))]);
    run(p(&model), "int8", p(&out), &["--calib-items", "0"]);
    assert!(!out.exists(), "nothing is written on bad input");
}

/// A student scorer recipe small enough to train in a second: 4 steps over 48 world edits.
const TINY_SCORER_RECIPE: &str = r#"
[model]
resolution = 16
channels = [8, 16]
groups = 4
text_dim = 16
text_layers = 1
text_heads = 2
max_tokens = 12
hidden = 16
[train]
steps = 4
batch_size = 8
warmup_steps = 2
checkpoint_every = 2
log_every = 1
eval_batch_size = 16
[data]
kind = "world"
seed = 11
n = 48
[data.world]
size = 16
[heldout]
kind = "world"
seed = 12
n = 21
[heldout.world]
size = 16
"#;

#[test]
fn training_commands_share_stop_after_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("tiny-scorer.toml");
    std::fs::write(&recipe, TINY_SCORER_RECIPE).unwrap();
    for command in ["train", "distill-editor", "distill-scorer"] {
        let err = bad_input(&[command, "--recipe", p(&recipe), "--stop-after", "0"]);
        assert!(err.contains("--stop-after"), "{command}: {err}");
    }

    // Stopped half-way: a checkpoint, no student report yet, and the way to go on.
    let run = dir.path().join("run");
    let first = ok(&["distill-scorer", "--recipe", p(&recipe), "--out", p(&run), "--stop-after", "2"]);
    assert!(first.contains("stopped at step 2 of 4; continue with --resume"), "{first}");
    assert_eq!(read_lines(&run.join("metrics.jsonl")).len(), 2);
    assert!(!run.join("agreement.json").exists());

    let second = ok(&["distill-scorer", "--recipe", p(&recipe), "--out", p(&run), "--resume"]);
    assert!(second.contains("held-out agreement (21 edits)"), "{second}");
    let steps: Vec<u64> = read_lines(&run.join("metrics.jsonl")).iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [1, 2, 3, 4], "no step lost or repeated across the stop");
    assert!(run.join("agreement.json").exists());
}

/// Stage 2 of the tiny golden InstructPix2Pix folder on 16 px world triplets, `steps` steps.
fn sd_recipe(init: &Path, steps: u64) -> String {
    format!(
        "stage = \"reward\"\n[model]\nspace = \"latent\"\nresolution = 16\n[model.text]\nkind = \"clip\"\n\
         [init]\nfrom = \"editor\"\npath = \"{}\"\n[data]\nkind = \"world\"\nseed = 3\nn = 32\n[data.world]\nsize = 16\n\
         [optim]\nsteps = {steps}\nbatch_size = 2\nwarmup_steps = 0\n[run]\ncheckpoint_every = 2\n",
        init.display()
    )
}

#[test]
fn an_sd_editor_trains_from_an_instructpix2pix_folder_and_edits() {
    let dir = tempfile::tempdir().unwrap();
    let ip2p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/ip2p_tiny");
    let recipe = dir.path().join("sd.toml");
    std::fs::write(&recipe, sd_recipe(&ip2p, 2)).unwrap();
    let run = dir.path().join("run");
    let said = ok(&["train", "--recipe", p(&recipe), "--out", p(&run)]);
    assert!(said.contains("step 2 of 2"), "{said}");
    let inspect = ok(&["model", "inspect", p(&run.join("editor"))]);
    assert!(inspect.contains("CLIP") && inspect.contains("vae") && inspect.contains("tensor check: ok"), "{inspect}");
    let img = dir.path().join("in.png");
    image::RgbImage::from_fn(24, 20, |x, y| image::Rgb([(x * 10) as u8, (y * 12) as u8, 90])).save(&img).unwrap();
    let out = dir.path().join("out.png");
    ok(&["edit", p(&img), "make the circle red", "--model", p(&run.join("editor")), "--steps", "2", "--out", p(&out)]);
    assert_eq!(image::image_dimensions(&out).unwrap(), (24, 20));

    // Its step-2 checkpoint exports as a whole SD folder (the frozen VAE and CLIP with it) that
    // inspects clean; exporting over it, or from a folder without checkpoints, is refused.
    let exported = dir.path().join("exported");
    let said = ok(&["export", p(&run.join("checkpoints/step-00000002")), "--out", p(&exported)]);
    assert!(said.contains("step 2"), "{said}");
    let inspect = ok(&["model", "inspect", p(&exported)]);
    assert!(inspect.contains("CLIP") && inspect.contains("vae") && inspect.contains("tensor check: ok"), "{inspect}");
    let err = bad_input(&["export", p(&run), "--out", p(&exported)]);
    assert!(err.contains("already holds files"), "{err}");
    let err = bad_input(&["export", p(dir.path()), "--out", p(&dir.path().join("e2"))]);
    assert!(err.contains("no intact checkpoint"), "{err}");

    // The SD 1.5-size preset needs a CLIP tokenizer, and a world preset takes none.
    let err = bad_input(&["model", "init", "--preset", "sd15", "--out", p(&dir.path().join("sd15"))]);
    assert!(err.contains("--tokenizer"), "{err}");
    let err = bad_input(&["model", "init", "--preset", "world-tiny", "--tokenizer", p(&ip2p.join("tokenizer")), "--out", p(&dir.path().join("w"))]);
    assert!(err.contains("--preset sd15"), "{err}");

    // A recipe naming a folder that is not there is the user's to fix: exit 2, naming it.
    let missing = dir.path().join("no-such-folder");
    std::fs::write(&recipe, sd_recipe(&missing, 2)).unwrap();
    let out = rewardedit(&["train", "--recipe", p(&recipe), "--out", p(&dir.path().join("run2"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-folder: no such editor folder"), "{err}");
}
