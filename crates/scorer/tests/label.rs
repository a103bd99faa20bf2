//! The labelling job: complete, resumable after a crash, failures recorded and retried.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rewardedit_core::manifest::{read_manifest, ManifestWriter, MANIFEST_FILE};
use rewardedit_core::{EditExample, EditType};
use rewardedit_scorer::label::{FailureRecord, FAILURES_FILE};
use rewardedit_scorer::{label, LabelError, LabelOptions, LvlmConfig, LvlmScorer, Preset};
use support::{config, joint_answer, test_image, FakeServer, Reply};

const N: usize = 12;

/// An input folder with N edits; images in `img/`, paths relative to the manifest.
fn input(dir: &Path) {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    let mut w = ManifestWriter::create(dir.join(MANIFEST_FILE)).unwrap();
    for i in 0..N {
        let (src, edt) = (format!("img/{i}_src.png"), format!("img/{i}_edt.png"));
        test_image(16, 12, i as u8).save(dir.join(&src)).unwrap();
        test_image(16, 12, 100 + i as u8).save(dir.join(&edt)).unwrap();
        w.write(&EditExample {
            id: format!("edit-{i:02}"),
            source: src.into(),
            edited: edt.into(),
            instruction: format!("make object {i} blue"),
            edit_type: EditType::Local,
            rewards: None,
            target: None,
            mask: None,
            provenance: serde_json::json!({"seed": i}),
        })
        .unwrap();
    }
}

/// Scores derived from the instruction, so every run gives the same labels; instructions that
/// mention an object in `failing` get an unparseable answer while `fail` is set.
fn server(fail: Arc<AtomicBool>, failing: &'static [usize]) -> FakeServer {
    server_with_latency(fail, failing, Duration::ZERO)
}

fn server_with_latency(fail: Arc<AtomicBool>, failing: &'static [usize], latency: Duration) -> FakeServer {
    FakeServer::start(move |r, _| {
        let text = r.text();
        let i: usize = (0..N).rev().find(|i| text.contains(&format!("make object {i} blue"))).expect("an edit of the input");
        let answer = if fail.load(Ordering::SeqCst) && failing.contains(&i) {
            "The edit looks fine to me.".to_string()
        } else {
            joint_answer([(i % 6) as f32, 5.0 - (i % 6) as f32, 2.5])
        };
        Reply::Slow(latency, Box::new(Reply::chat(answer)))
    })
}

fn scorer(server: &FakeServer, cache: &Path) -> LvlmScorer {
    LvlmScorer::new(LvlmConfig { preset: Preset::Joint, ..config(server, Some(cache)) }).unwrap()
}

fn options() -> LabelOptions {
    LabelOptions { concurrency: 4 }
}

#[test]
fn labels_every_edit_in_input_order_with_paths_that_resolve() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    input(&inp);
    let server = server(Arc::new(AtomicBool::new(false)), &[]);
    let summary = label(&inp, &out, &scorer(&server, &tmp.path().join("cache")), &options(), &mut ()).unwrap();
    assert_eq!((summary.total, summary.already_labelled, summary.labelled, summary.failed), (N, 0, N, 0));

    let labelled = read_manifest(out.join(MANIFEST_FILE)).unwrap();
    let original = read_manifest(inp.join(MANIFEST_FILE)).unwrap();
    assert_eq!(labelled.iter().map(|e| &e.id).collect::<Vec<_>>(), original.iter().map(|e| &e.id).collect::<Vec<_>>());
    for (l, o) in labelled.iter().zip(&original) {
        let i: usize = o.id[5..].parse().unwrap();
        assert_eq!(l.rewards.as_ref().unwrap().scores(), [(i % 6) as f32, 5.0 - (i % 6) as f32, 2.5]);
        assert_eq!((&l.instruction, &l.provenance), (&o.instruction, &o.provenance));
        assert_eq!(l.source, Path::new("../in").join(&o.source));
        assert!(out.join(&l.edited).is_file());
    }
    assert_eq!(std::fs::read_to_string(out.join(FAILURES_FILE)).unwrap(), "");
}

#[test]
fn resumes_after_a_crash_with_no_loss_and_no_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("in");
    input(&inp);
    let server = server(Arc::new(AtomicBool::new(false)), &[]);
    let cache = tmp.path().join("cache");

    // The uninterrupted run.
    let whole = tmp.path().join("whole");
    label(&inp, &whole, &scorer(&server, &cache), &options(), &mut ()).unwrap();
    let expected = std::fs::read_to_string(whole.join(MANIFEST_FILE)).unwrap();
    let requests = server.count();
    assert_eq!(requests, N);

    // A run killed while writing line 6: five complete lines and half of the sixth.
    let crashed = tmp.path().join("crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    let lines: Vec<&str> = expected.lines().collect();
    let partial = format!("{}\n{}", lines[..5].join("\n"), &lines[5][..lines[5].len() / 2]);
    std::fs::write(crashed.join(MANIFEST_FILE), partial).unwrap();

    let summary = label(&inp, &crashed, &scorer(&server, &cache), &options(), &mut ()).unwrap();
    assert_eq!((summary.already_labelled, summary.labelled, summary.failed), (5, N - 5, 0));
    assert_eq!(std::fs::read_to_string(crashed.join(MANIFEST_FILE)).unwrap(), expected);
    assert_eq!(server.count(), requests, "every answer came from the cache");

    // Re-running a finished job does nothing.
    let summary = label(&inp, &crashed, &scorer(&server, &cache), &options(), &mut ()).unwrap();
    assert_eq!((summary.already_labelled, summary.labelled), (N, 0));
    assert_eq!(std::fs::read_to_string(crashed.join(MANIFEST_FILE)).unwrap(), expected);
}

#[test]
fn failures_are_recorded_then_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, cache) = (tmp.path().join("in"), tmp.path().join("out"), tmp.path().join("cache"));
    input(&inp);
    // One edit also loses its image.
    std::fs::remove_file(inp.join("img/7_edt.png")).unwrap();
    let fail = Arc::new(AtomicBool::new(true));
    let server = server(fail.clone(), &[2, 9]);

    let summary = label(&inp, &out, &scorer(&server, &cache), &options(), &mut ()).unwrap();
    assert_eq!((summary.labelled, summary.failed), (N - 3, 3));
    let failures: Vec<FailureRecord> = std::fs::read_to_string(out.join(FAILURES_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<_> = failures.iter().map(|f| (f.id.as_str(), f.kind.as_str())).collect();
    assert_eq!(got, [("edit-02", "parse"), ("edit-07", "image"), ("edit-09", "parse")]);
    assert!(failures[1].error.contains("7_edt.png"), "{}", failures[1].error);
    let ids: Vec<_> = read_manifest(out.join(MANIFEST_FILE)).unwrap().into_iter().map(|e| e.id).collect();
    assert!(!ids.iter().any(|id| ["edit-02", "edit-07", "edit-09"].contains(&id.as_str())));

    // The server recovers and the image comes back: the next run labels exactly the failures.
    fail.store(false, Ordering::SeqCst);
    test_image(16, 12, 107).save(inp.join("img/7_edt.png")).unwrap();
    let before = server.count();
    let summary = label(&inp, &out, &scorer(&server, &cache), &options(), &mut ()).unwrap();
    assert_eq!((summary.already_labelled, summary.labelled, summary.failed), (N - 3, 3, 0));
    assert_eq!(server.count() - before, 3);
    assert_eq!(std::fs::read_to_string(out.join(FAILURES_FILE)).unwrap(), "");
    let mut ids: Vec<_> = read_manifest(out.join(MANIFEST_FILE)).unwrap().into_iter().map(|e| e.id).collect();
    ids.sort();
    let mut all: Vec<_> = (0..N).map(|i| format!("edit-{i:02}")).collect();
    all.sort();
    assert_eq!(ids, all, "every edit exactly once");
}

#[test]
fn duplicate_ids_and_labelling_in_place_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("in");
    input(&inp);
    let server = server(Arc::new(AtomicBool::new(false)), &[]);
    let s = scorer(&server, &tmp.path().join("cache"));
    assert!(matches!(label(&inp, &inp, &s, &options(), &mut ()), Err(LabelError::SameManifest(_))));

    let manifest = inp.join(MANIFEST_FILE);
    let first = std::fs::read_to_string(&manifest).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&manifest, format!("{first}\n{first}\n")).unwrap();
    let err = label(&inp, &tmp.path().join("out"), &s, &options(), &mut ()).unwrap_err();
    assert!(matches!(err, LabelError::DuplicateId { ref id, .. } if id == "edit-00"), "{err}");
    assert_eq!(server.count(), 0);
}

#[test]
fn a_bad_input_and_an_unwritable_output_are_different_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let server = server(Arc::new(AtomicBool::new(false)), &[]);
    let s = scorer(&server, &tmp.path().join("cache"));
    // A missing input manifest is the user's input: LabelError::Input (the CLI exits 2).
    let err = label(&tmp.path().join("nowhere"), &tmp.path().join("out"), &s, &options(), &mut ()).unwrap_err();
    assert!(matches!(err, LabelError::Input(_)), "{err:?}");
    // An output "folder" that is a file cannot be written: LabelError::Output (exit 1).
    let inp = tmp.path().join("in");
    input(&inp);
    let blocked = tmp.path().join("blocked");
    std::fs::write(&blocked, "a file, not a folder").unwrap();
    let err = label(&inp, &blocked, &s, &options(), &mut ()).unwrap_err();
    assert!(matches!(err, LabelError::Output(_)), "{err:?}");
    assert_eq!(server.count(), 0);
}


/// Set in the child process of the kill test: the folder holding `in/` and `cache/`.
const CHILD_ENV: &str = "REWARDEDIT_TEST_LABEL_CHILD";

#[test]
fn killed_with_sigkill_then_rerun_equals_an_uninterrupted_run() {
    if let Some(root) = std::env::var_os(CHILD_ENV) {
        // The child: a slow labelling run that the parent kills part-way.
        let root = Path::new(&root);
        let server = server_with_latency(Arc::new(AtomicBool::new(false)), &[], Duration::from_millis(100));
        label(&root.join("in"), &root.join("killed"), &scorer(&server, &root.join("cache")), &LabelOptions { concurrency: 1 }, &mut ()).unwrap();
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    input(&tmp.path().join("in"));
    let killed = tmp.path().join("killed").join(MANIFEST_FILE);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_with_sigkill_then_rerun_equals_an_uninterrupted_run", "--nocapture"])
        .env(CHILD_ENV, tmp.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill (SIGKILL) as soon as some but not all edits are written.
    let lines = || std::fs::read_to_string(&killed).map(|t| t.lines().count()).unwrap_or(0);
    while lines() < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the child ended before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = lines();
    assert!(written < N, "killed after {written} of {N} edits");

    let server = server(Arc::new(AtomicBool::new(false)), &[]);
    let cache = tmp.path().join("cache");
    let summary = label(&tmp.path().join("in"), killed.parent().unwrap(), &scorer(&server, &cache), &options(), &mut ()).unwrap();
    assert_eq!(summary.already_labelled + summary.labelled, N);
    let whole = tmp.path().join("whole");
    label(&tmp.path().join("in"), &whole, &scorer(&server, &tmp.path().join("cache2")), &options(), &mut ()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&killed).unwrap(),
        std::fs::read_to_string(whole.join(MANIFEST_FILE)).unwrap()
    );
}
