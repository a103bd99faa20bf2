//! The eval crate end to end: aggregation, quick runs of both benchmarks, failures counted,
//! resume after a kill, parity verdicts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::RgbImage;
use rewardedit_core::manifest::{read_manifest, MANIFEST_FILE};
use rewardedit_core::{Axis, AxisScore, EditType, Reward};
use rewardedit_eval::parity::{run_parity, Thresholds};
use rewardedit_eval::record::{GroundTruth, ItemFailure, Stage, ITEMS_FILE};
use rewardedit_eval::{
    read_records, rescore_run, run_eval, Benchmark, Bootstrap, EditError, EditInput, Editor, ItemRecord, NoopEditor, RunOptions,
    RunSummary, WorldSpec,
};
use rewardedit_scorer::{OracleScorer, ScoreError, ScoreRequest, Scorer};

fn reward(f: (f32, bool), p: (f32, bool), q: (f32, bool)) -> Reward {
    let a = |(s, v): (f32, bool)| AxisScore::new(s, v, "x").unwrap();
    Reward::new(a(f), a(p), a(q))
}

fn record(id: &str, t: EditType, rewards: Option<Reward>) -> ItemRecord {
    ItemRecord {
        id: id.into(),
        edit_type: t,
        instruction: "make the circle blue".into(),
        source: "s.png".into(),
        edited: None,
        edit_seconds: Some(0.0),
        score_seconds: None,
        failure: rewards.is_none().then(|| ItemFailure { stage: Stage::Score, kind: "timeout".into(), message: "timed out".into() }),
        rewards,
        ground_truth: None,
        provenance: serde_json::json!({}),
    }
}

#[test]
fn aggregation_of_hand_made_results() {
    let good = reward((5.0, true), (4.0, true), (5.0, true));
    let bad = reward((1.0, false), (2.0, false), (4.0, true));
    let mut records = Vec::new();
    for i in 0..30 {
        let r = if i % 3 == 0 { bad.clone() } else { good.clone() };
        records.push(record(&format!("a{i}"), EditType::Local, Some(r)));
    }
    for i in 0..10 {
        records.push(record(&format!("b{i}"), EditType::Style, Some(bad.clone())));
    }
    records.push(record("c", EditType::Style, None));
    let s = RunSummary::of(&records, &Bootstrap::default());
    assert_eq!((s.n, s.failed), (41, 1), "a failed item is counted, not dropped");
    let f = s.axes[&Axis::Following];
    // 20 good + 20 bad scored: yes-rate 0.5, mean 3.
    assert!((f.yes_rate - 0.5).abs() < 1e-12 && (f.mean - 3.0).abs() < 1e-12, "{f:?}");
    assert!(f.yes_rate_ci[0] < 0.5 && 0.5 < f.yes_rate_ci[1], "{f:?}");
    assert!(f.mean_ci[0] < 3.0 && 3.0 < f.mean_ci[1], "{f:?}");
    assert!(f.mean_ci[1] - f.mean_ci[0] < 2.0 && f.mean_ci[0] > 1.0, "{f:?}");
    let q = s.axes[&Axis::Quality];
    assert_eq!((q.yes_rate, q.yes_rate_ci), (1.0, [1.0, 1.0]), "a constant axis has a zero-width interval");
    let local = &s.by_type[&EditType::Local];
    assert_eq!((local.n, local.failed), (30, 0));
    assert!((local.axes[&Axis::Following].yes_rate - 20.0 / 30.0).abs() < 1e-12);
    let style = &s.by_type[&EditType::Style];
    assert_eq!((style.n, style.failed), (11, 1));
    assert_eq!(style.axes[&Axis::Preservation].mean, 2.0);
    assert!(!s.by_type.contains_key(&EditType::Add));
    // Seeded: the same records give the same summary, and its JSON has the shape.
    assert_eq!(s, RunSummary::of(&records, &Bootstrap::default()));
    let j = serde_json::to_value(&s).unwrap();
    for key in ["yes_rate", "mean", "yes_rate_ci", "mean_ci"] {
        assert!(j["axes"]["following"][key].is_number() || j["axes"]["following"][key].is_array(), "{key}");
        assert!(j["by_type"]["Local"]["axes"]["quality"][key].is_number() || j["by_type"]["Local"]["axes"]["quality"][key].is_array());
    }
    assert_eq!((j["n"].as_u64(), j["failed"].as_u64()), (Some(41), Some(1)));

    let mut with_gt = records.clone();
    with_gt[0].ground_truth = Some(GroundTruth { l1: 0.1, l2: 0.02, psnr: 17.0 });
    with_gt[1].ground_truth = Some(GroundTruth { l1: 0.3, l2: 0.04, psnr: 14.0 });
    let gt = RunSummary::of(&with_gt, &Bootstrap::default()).ground_truth.unwrap();
    assert_eq!(gt.n, 2);
    assert!((gt.l1.mean - 0.2).abs() < 1e-12 && (gt.psnr.mean - 15.5).abs() < 1e-12);
}

fn world() -> Benchmark {
    Benchmark::World { spec: WorldSpec::builtin() }
}

fn quick(limit: usize) -> RunOptions {
    RunOptions { limit: Some(limit), concurrency: 3, ..RunOptions::default() }
}

#[test]
fn world_quick_run_with_noop_scores_following_low_and_preservation_high() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_eval(&world(), &NoopEditor, &OracleScorer::exact(), &quick(7), dir.path(), &mut ()).unwrap();
    let s = &out.summary;
    assert_eq!((s.n, s.failed, out.scored), (7, 0, 7));
    assert_eq!(s.by_type.len(), 7, "7 items cover the 7 types");
    let (f, p) = (s.axes[&Axis::Following], s.axes[&Axis::Preservation]);
    assert!(f.mean < 2.0 && f.yes_rate < 0.3, "noop does not follow: {f:?}");
    assert!(p.mean > 4.0 && p.yes_rate > 0.7, "noop preserves: {p:?}");
    let gt = s.ground_truth.as_ref().unwrap();
    assert_eq!(gt.n, 7);
    assert!(gt.l1.mean > 0.0 && gt.psnr.mean < 40.0, "the source is not the target: {gt:?}");
    for f in ["items.jsonl", "summary.json", "run.json", "report.md", "report.html", "report/mean-score.svg", "report/grid-Local.png"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| following |") && md.contains("Ground truth"), "{md}");
    let records = read_records(dir.path(), false).unwrap();
    assert!(records.iter().all(|r| r.edited.is_some() && r.provenance["scene"].is_object()));
}

/// Fails the scoring of every third request, as a flaky judge would.
struct Flaky {
    calls: AtomicUsize,
}

impl Scorer for Flaky {
    fn describe(&self) -> String {
        "oracle".into()
    }
    fn score(&self, r: &ScoreRequest) -> Result<Reward, ScoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
            return Err(ScoreError::Timeout { attempts: 3, timeout: std::time::Duration::from_secs(1) });
        }
        OracleScorer::exact().score(r)
    }
}

#[test]
fn failed_scorer_calls_are_counted_then_retried_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Flaky { calls: AtomicUsize::new(0) };
    let opts = RunOptions { concurrency: 1, ..quick(7) };
    let first = run_eval(&world(), &NoopEditor, &flaky, &opts, dir.path(), &mut ()).unwrap();
    assert_eq!((first.summary.n, first.summary.failed, first.failed), (7, 2, 2));
    let failed: Vec<_> = read_records(dir.path(), false).unwrap().into_iter().filter(|r| !r.is_ok()).collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|r| r.failure.as_ref().unwrap().kind == "timeout" && r.rewards.is_none()));
    let by_type_failed: usize = first.summary.by_type.values().map(|t| t.failed).sum();
    assert_eq!(by_type_failed, 2);
    assert_manifest_matches_records(dir.path(), 5);
    // The same scorer's name, so the folder may be continued: only the failed items are redone.
    let again = run_eval(&world(), &NoopEditor, &Renamed(OracleScorer::exact()), &opts, dir.path(), &mut ()).unwrap();
    assert_eq!((again.already, again.scored, again.summary.failed), (5, 2, 0));
    assert_manifest_matches_records(dir.path(), 7);
}

/// `RUN/manifest.jsonl` holds exactly the scored items, with their rewards and readable images,
/// so a run can be used as teacher data (the student scorer) or checked as a collection.
fn assert_manifest_matches_records(run: &Path, scored: usize) {
    let lines = read_manifest(run.join(MANIFEST_FILE)).unwrap();
    let records: Vec<ItemRecord> = read_records(run, false).unwrap().into_iter().filter(ItemRecord::is_ok).collect();
    assert_eq!((lines.len(), records.len()), (scored, scored));
    for (line, record) in lines.iter().zip(&records) {
        assert_eq!((&line.id, &line.instruction, &line.rewards), (&record.id, &record.instruction, &record.rewards));
        assert!(run.join(&line.edited).is_file() && run.join(&line.source).is_file(), "{line:?}");
        assert!(line.provenance["scene"].is_object() && line.provenance["eval_run"]["scorer"] == "oracle");
    }
}

struct Renamed<S>(S);

impl<S: Scorer> Scorer for Renamed<S> {
    fn describe(&self) -> String {
        "oracle".into()
    }
    fn score(&self, r: &ScoreRequest) -> Result<Reward, ScoreError> {
        self.0.score(r)
    }
}

#[test]
fn resume_after_a_truncated_items_file_gives_the_same_summary() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole = run_eval(&world(), &NoopEditor, &OracleScorer::exact(), &quick(14), a.path(), &mut ()).unwrap();
    // Killed mid-run: 9 complete lines and half of the tenth.
    run_eval(&world(), &NoopEditor, &OracleScorer::exact(), &quick(14), b.path(), &mut ()).unwrap();
    let items = b.path().join(ITEMS_FILE);
    let text = std::fs::read_to_string(&items).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = format!("{}\n{}", lines[..9].join("\n"), &lines[9][..lines[9].len() / 2]);
    std::fs::write(&items, cut).unwrap();
    let resumed = run_eval(&world(), &NoopEditor, &OracleScorer::exact(), &quick(14), b.path(), &mut ()).unwrap();
    assert_eq!((resumed.already, resumed.scored), (9, 5));
    assert_eq!(resumed.summary, whole.summary);
    assert_eq!(read_records(b.path(), false).unwrap().len(), 14);
}

/// Inverts every pixel: a clearly worse editor on preservation.
struct Invert;

impl Editor for Invert {
    fn describe(&self) -> String {
        "invert".into()
    }
    fn edit(&self, input: &EditInput<'_>) -> Result<RgbImage, EditError> {
        let mut out = input.source.clone();
        out.pixels_mut().for_each(|p| p.0 = p.0.map(|c| 255 - c));
        Ok(out)
    }
}

#[test]
fn parity_passes_against_itself_and_fails_for_a_clearly_worse_run() {
    let (t, s) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_eval(&world(), &NoopEditor, &OracleScorer::exact(), &quick(14), t.path(), &mut ()).unwrap();
    run_eval(&world(), &Invert, &OracleScorer::exact(), &quick(14), s.path(), &mut ()).unwrap();
    let th = Thresholds::builtin();
    let same = run_parity(t.path(), t.path(), &th.run, &Bootstrap::default()).unwrap();
    assert!(same.passed(), "{}", same.table());
    assert_eq!(same.common, 14);
    assert!(same.lines.iter().any(|l| l.metric == "psnr_db" && l.value == Some(100.0)));
    let worse = run_parity(t.path(), s.path(), &th.run, &Bootstrap::default()).unwrap();
    assert!(!worse.passed(), "{}", worse.table());
    let pres = worse.lines.iter().find(|l| l.scope == "all" && l.axis == Some(Axis::Preservation) && l.metric == "mean diff").unwrap();
    assert!(!pres.pass && pres.value.unwrap() < -1.0, "{pres:?}");
    assert!(pres.ci.unwrap()[1] < 0.0, "the paired interval excludes 0: {pres:?}");
    assert!(worse.table().contains("FAIL"));
    // Issue 7's relative target: the student keeps >= 95% of the teacher's mean on every axis.
    let ratio = |r: &rewardedit_eval::ParityReport, axis| r.lines.iter().find(|l| l.metric == "mean ratio" && l.axis == Some(axis)).cloned().unwrap();
    assert!(Axis::ALL.iter().all(|&a| ratio(&same, a).pass));
    let kept = ratio(&worse, Axis::Preservation);
    assert!(!kept.pass && kept.value.unwrap() < 0.95 && kept.rule == ">= 0.950", "{kept:?}");
}

/// Scores every edit 1, 1, 1: another scorer than the oracle.
struct Ones;

impl Scorer for Ones {
    fn describe(&self) -> String {
        "ones".into()
    }
    fn score(&self, _: &ScoreRequest) -> Result<Reward, ScoreError> {
        Ok(reward((1.0, false), (1.0, false), (1.0, false)))
    }
}

#[test]
fn a_rescored_run_keeps_the_edits_and_takes_the_new_scores() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_eval(&world(), &Invert, &OracleScorer::exact(), &quick(7), a.path(), &mut ()).unwrap();
    let out = rescore_run(a.path(), &Ones, 3, b.path()).unwrap();
    assert_eq!((out.total, out.scored, out.failed), (7, 7, 0));
    assert_eq!(out.summary.axes[&Axis::Quality].mean, 1.0);
    let (before, after) = (read_records(a.path(), false).unwrap(), read_records(b.path(), false).unwrap());
    for (x, y) in before.iter().zip(&after) {
        assert_eq!((&x.id, x.edit_seconds), (&y.id, y.edit_seconds));
        assert_eq!(ItemRecord::resolve(a.path(), x.edited.as_ref().unwrap()).canonicalize().unwrap(), y.edited.clone().unwrap());
    }
    assert_eq!(rewardedit_eval::run::RunRecord::load(b.path()).unwrap().scorer, "ones");
    // Parity and the reports read it as a run of the same editor; rescoring again replaces it.
    let p = run_parity(a.path(), b.path(), &Thresholds::builtin().run, &Bootstrap::default()).unwrap();
    assert!(p.lines.iter().any(|l| l.metric == "psnr_db" && l.value == Some(100.0)), "{}", p.table());
    assert!(b.path().join("report.html").is_file());
    assert_eq!(rescore_run(a.path(), &Ones, 3, b.path()).unwrap().total, 7);
    assert_eq!(read_records(b.path(), false).unwrap().len(), 7);
    assert!(rescore_run(a.path(), &Ones, 3, a.path()).is_err(), "a run is not rescored into itself");
}

/// A random-weight reward editor saved as a folder in `dir`, opened the way `--editor DIR` opens it.
fn tiny_editor(dir: &Path) -> Box<dyn Editor> {
    let device = burn::tensor::Device::flex();
    let vocab = rewardedit_core::Vocab::build(["make the red circle blue", "remove the star"]);
    let reward = rewardedit_models::unet::RewardConditioningConfig::default();
    let tiny = rewardedit_models::pipeline::presets::world_editor(
        rewardedit_models::pipeline::presets::world_tiny_unet(),
        vocab,
        Some(&reward),
        &device,
    )
    .unwrap();
    tiny.save(dir.join("editor")).unwrap();
    rewardedit_eval::open_editor_dir(&dir.join("editor"), &device).unwrap()
}

#[test]
fn world_quick_run_with_a_tiny_diffusion_editor_folder() {
    let dir = tempfile::tempdir().unwrap();
    let editor = tiny_editor(dir.path());
    assert!(editor.describe().contains("pixel space"), "{}", editor.describe());
    let mut options = quick(7);
    options.settings.steps = Some(2);
    let out = run_eval(&world(), editor.as_ref(), &OracleScorer::exact(), &options, &dir.path().join("run"), &mut ()).unwrap();
    assert_eq!((out.summary.n, out.summary.failed, out.scored), (7, 0, 7));
    let records = read_records(&dir.path().join("run"), false).unwrap();
    for r in &records {
        let edited = image::open(dir.path().join("run").join(r.edited.as_ref().unwrap())).unwrap();
        let source = image::open(dir.path().join("run").join(&r.source)).or_else(|_| image::open(&r.source)).unwrap();
        assert_eq!((edited.width(), edited.height()), (source.width(), source.height()), "the edit keeps the source's size");
        assert_ne!(edited.to_rgb8(), source.to_rgb8(), "a random editor changes the image");
    }
    // An unknown template is the user's to fix, not a failed item.
    options.settings.rewards = rewardedit_eval::RewardRequest::Template { name: "glossy".into() };
    let err = editor.edit(&EditInput { source: &RgbImage::new(32, 32), instruction: "make it blue", settings: &options.settings, seed: 0 });
    assert!(err.unwrap_err().is_bad_input());
}

fn real_edit_dir() -> PathBuf {
    rewardedit_eval::benchmark::locate_real_edit(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("Real-Edit not found: set REWARDEDIT_REAL_EDIT to its folder")
}

#[test]
fn real_edit_quick_run_with_noop_and_the_student_scorer() {
    let student_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints/student-scorer");
    let student = rewardedit_scorer::StudentScorer::load(&student_dir, rewardedit_scorer::Precision::Fp32, &burn::tensor::Device::flex()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bench = Benchmark::RealEdit { dir: real_edit_dir() };
    let out = run_eval(&bench, &NoopEditor, &student, &quick(7), dir.path(), &mut ()).unwrap();
    assert_eq!((out.summary.n, out.summary.failed), (7, 0));
    assert_eq!(out.summary.by_type.len(), 7, "one photo's seven instructions");
    assert!(out.summary.ground_truth.is_none(), "Real-Edit has no targets");
    let records = read_records(dir.path(), false).unwrap();
    assert!(records.iter().all(|r| r.source.is_absolute() || r.source.starts_with(real_edit_dir())), "sources are read in place");
    assert!(records[0].id.contains(".jpeg#"));
    // A run of the whole benchmark lists 560 items.
    assert_eq!(bench.items(None).unwrap().len(), 560);
}

#[test]
fn real_edit_quick_run_with_a_tiny_editor_at_a_bounded_size() {
    let student_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints/student-scorer");
    let student = rewardedit_scorer::StudentScorer::load(&student_dir, rewardedit_scorer::Precision::Fp32, &burn::tensor::Device::flex()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let editor = tiny_editor(dir.path());
    let bench = Benchmark::RealEdit { dir: real_edit_dir() };
    let mut options = quick(7);
    // Photos are edited at 48 px on the long side (a full-size photo would take minutes) and
    // come back at their own size.
    options.settings.steps = Some(1);
    options.settings.max_side = Some(48);
    let out = run_eval(&bench, editor.as_ref(), &student, &options, &dir.path().join("run"), &mut ()).unwrap();
    assert_eq!((out.summary.n, out.summary.failed), (7, 0));
    for r in read_records(&dir.path().join("run"), false).unwrap() {
        let edited = image::open(dir.path().join("run").join(r.edited.as_ref().unwrap())).unwrap();
        let source = rewardedit_core::image_io::load_rgb(&r.source).unwrap();
        assert_eq!((edited.width(), edited.height()), (source.width(), source.height()), "{}", r.id);
    }
}
