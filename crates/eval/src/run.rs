//! One evaluation run: edit every benchmark item, score it, record it, summarise and report.
//! Resumable: items already recorded as scored are skipped; failed ones are retried.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rewardedit_core::image_io::save_png;
use rewardedit_scorer::{ScoreRequest, Scorer};
use serde::{Deserialize, Serialize};

use crate::benchmark::{Benchmark, BenchmarkItem, ImageRef};
use crate::editor::{EditInput, EditSettings, Editor};
use crate::manifest::write_run_manifest;
use crate::record::{read_records, ItemFailure, ItemRecord, RecordWriter, Stage, ITEMS_FILE};
use crate::report::write_reports;
use crate::stats::{pixel_metrics, Bootstrap};
use crate::summary::RunSummary;
use crate::{EvalError, Result};

/// The resolved settings of a run, written to `RUN/run.json`.
pub const RUN_FILE: &str = "run.json";
/// The summary file.
pub const SUMMARY_FILE: &str = "summary.json";
/// Folder of the run's images (edits, and world sources).
pub const IMAGES_DIR: &str = "images";

/// How a run is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Reward condition and sampling steps given to the editor.
    pub settings: EditSettings,
    /// Base seed; item `i` is edited with seed `seed + i`.
    pub seed: u64,
    /// Only the first `limit` items of the benchmark.
    pub limit: Option<usize>,
    /// Items edited then scored together; the scorer has this many in flight.
    pub concurrency: usize,
    /// Confidence intervals.
    pub bootstrap: Bootstrap,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { settings: EditSettings::default(), seed: 0, limit: None, concurrency: 8, bootstrap: Bootstrap::default() }
    }
}

/// `RUN/run.json`: what the run is (checked on resume) and how it was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `real-edit` or `world`.
    pub benchmark: String,
    /// The benchmark's content identity (the world spec's version and seed).
    pub benchmark_identity: String,
    pub editor: String,
    pub scorer: String,
    pub options: RunOptions,
    /// The world spec or Real-Edit folder, for the report.
    pub benchmark_detail: String,
}

impl RunRecord {
    /// Whether a run folder started as `self` may be continued as `other` (only the limit and
    /// the concurrency may change).
    fn same_run(&self, other: &RunRecord) -> bool {
        let strip = |r: &RunRecord| {
            let mut r = r.clone();
            r.options.limit = None;
            r.options.concurrency = 0;
            r.benchmark_detail.clear();
            r
        };
        strip(self) == strip(other)
    }

    pub fn load(run: &Path) -> Result<Self> {
        let path = run.join(RUN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EvalError::run(run, format!("no {RUN_FILE}: is this a run folder written by `rewardedit eval`?"))
            } else {
                EvalError::io(&path, e)
            }
        })?;
        serde_json::from_str(&text).map_err(|e| EvalError::run(run, format!("{RUN_FILE}: {e}")))
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub summary: RunSummary,
    /// Items in the run.
    pub total: usize,
    /// Items already scored by an earlier run of this folder.
    pub already: usize,
    /// Items scored now.
    pub scored: usize,
    /// Items that failed now.
    pub failed: usize,
}

/// Progress of a run, for a bar.
pub trait RunProgress {
    fn start(&mut self, _total: usize, _already: usize, _to_do: usize) {}
    fn item(&mut self, _record: &ItemRecord) {}
}

impl RunProgress for () {}

/// Runs `editor` and `scorer` over `benchmark` into the folder `out` (see the module docs).
pub fn run_eval(
    benchmark: &Benchmark,
    editor: &dyn Editor,
    scorer: &dyn Scorer,
    options: &RunOptions,
    out: &Path,
    progress: &mut dyn RunProgress,
) -> Result<RunOutcome> {
    if options.concurrency == 0 {
        return Err(EvalError::Config("concurrency must be at least 1".into()));
    }
    let record = RunRecord {
        benchmark: benchmark.name().into(),
        benchmark_identity: benchmark.identity(),
        editor: editor.describe(),
        scorer: scorer.describe(),
        options: options.clone(),
        benchmark_detail: benchmark.to_string(),
    };
    let edited_dir = out.join(IMAGES_DIR).join("edited");
    let source_dir = out.join(IMAGES_DIR).join("source");
    for d in [&edited_dir, &source_dir] {
        std::fs::create_dir_all(d).map_err(|e| EvalError::io(d, e))?;
    }
    let previous = if out.join(ITEMS_FILE).exists() {
        if let Ok(old) = RunRecord::load(out)
            && !old.same_run(&record)
        {
            return Err(EvalError::run(
                out,
                format!(
                    "it was started with other settings (editor {}, scorer {}, benchmark {}, {:?}); \
                     give a new --out folder, or delete this one to start over",
                    old.editor, old.scorer, old.benchmark_identity, old.options.settings
                ),
            ));
        }
        read_records(out, true)?
    } else {
        Vec::new()
    };
    write_json(&out.join(RUN_FILE), &record)?;

    let items = benchmark.items(options.limit)?;
    let mut latest: HashMap<String, ItemRecord> = previous.into_iter().map(|r| (r.id.clone(), r)).collect();
    let to_do: Vec<&BenchmarkItem> = items.iter().filter(|i| !latest.get(&i.id).is_some_and(ItemRecord::is_ok)).collect();
    let already = items.len() - to_do.len();
    progress.start(items.len(), already, to_do.len());

    let mut writer = RecordWriter::append(out)?;
    let (mut scored, mut failed) = (0, 0);
    for chunk in to_do.chunks(options.concurrency) {
        let mut records = Vec::with_capacity(chunk.len());
        let mut requests = Vec::new();
        for item in chunk {
            let (record, request) = edit_item(item, editor, options, &edited_dir, &source_dir);
            if let Some(request) = request {
                requests.push((records.len(), request));
            }
            records.push(record);
        }
        let batch: Vec<ScoreRequest> = requests.iter().map(|(_, r)| r.clone()).collect();
        let started = Instant::now();
        let results = scorer.score_batch(&batch, options.concurrency);
        let share = started.elapsed().as_secs_f64() / batch.len().max(1) as f64;
        for ((at, _), result) in requests.iter().zip(results) {
            let r = &mut records[*at];
            r.score_seconds = Some(share);
            match result {
                Ok(reward) => r.rewards = Some(reward),
                Err(e) => r.failure = Some(ItemFailure { stage: Stage::Score, kind: e.kind().into(), message: e.to_string() }),
            }
        }
        for r in records {
            writer.write(&r)?;
            if r.is_ok() { scored += 1 } else { failed += 1 }
            progress.item(&r);
            latest.insert(r.id.clone(), r);
        }
    }

    let final_records: Vec<ItemRecord> = items.iter().filter_map(|i| latest.remove(&i.id)).collect();
    let summary = RunSummary::of(&final_records, &options.bootstrap);
    write_json(&out.join(SUMMARY_FILE), &summary)?;
    write_reports(out, &record, &summary, &final_records)?;
    write_run_manifest(out, &record, &final_records)?;
    Ok(RunOutcome { summary, total: items.len(), already, scored, failed })
}

/// Loads, edits and saves one item; the record (failed, or waiting for its score) and, when
/// the edit worked, the request to score.
fn edit_item(
    item: &BenchmarkItem,
    editor: &dyn Editor,
    options: &RunOptions,
    edited_dir: &Path,
    source_dir: &Path,
) -> (ItemRecord, Option<ScoreRequest>) {
    let file = format!("{}.png", file_stem(&item.id));
    let mut record = ItemRecord {
        id: item.id.clone(),
        edit_type: item.edit_type,
        instruction: item.instruction.clone(),
        source: match &item.source {
            ImageRef::File(p) => p.clone(),
            ImageRef::Memory(_) => PathBuf::from(IMAGES_DIR).join("source").join(&file),
        },
        edited: None,
        edit_seconds: None,
        score_seconds: None,
        rewards: None,
        ground_truth: None,
        failure: None,
        provenance: item.provenance.clone(),
    };
    let fail = |record: &mut ItemRecord, stage, kind: &str, message: String| {
        record.failure = Some(ItemFailure { stage, kind: kind.into(), message });
    };
    let source = match item.source.load() {
        Ok(s) => s,
        Err(e) => {
            fail(&mut record, Stage::Load, "image", e.to_string());
            return (record, None);
        }
    };
    if let ImageRef::Memory(img) = &item.source
        && let Err(e) = save_png(source_dir.join(&file), img.as_ref())
    {
        fail(&mut record, Stage::Save, "io", e.to_string());
        return (record, None);
    }
    let input = EditInput {
        source: &source,
        instruction: &item.instruction,
        settings: &options.settings,
        seed: options.seed.wrapping_add(item.index),
    };
    let started = Instant::now();
    let edited = editor.edit(&input);
    record.edit_seconds = Some(started.elapsed().as_secs_f64());
    let edited = match edited {
        Ok(e) => e,
        Err(e) => {
            fail(&mut record, Stage::Edit, e.kind(), e.to_string());
            return (record, None);
        }
    };
    // An edit identical to its source (noop, or an editor that declined) is not stored twice:
    // `edited` names the source file.
    if edited == *source {
        record.edited = Some(record.source.clone());
    } else if let Err(e) = save_png(edited_dir.join(&file), &edited) {
        fail(&mut record, Stage::Save, "io", e.to_string());
        return (record, None);
    } else {
        record.edited = Some(PathBuf::from(IMAGES_DIR).join("edited").join(&file));
    }
    record.ground_truth = item.target.as_ref().map(|t| pixel_metrics(t, &edited));
    let request = ScoreRequest {
        id: item.id.clone(),
        source,
        edited: Arc::new(edited),
        instruction: item.instruction.clone(),
        edit_type: Some(item.edit_type),
        provenance: item.provenance.clone(),
    };
    (record, Some(request))
}

/// An id as a file name: letters, digits, `.`, `-` and `_` kept, anything else `_`.
pub fn file_stem(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| EvalError::Config(e.to_string()))? + "\n";
    std::fs::write(path, text).map_err(|e| EvalError::io(path, e))
}

/// Reads `RUN/summary.json`.
pub fn load_summary(run: &Path) -> Result<RunSummary> {
    let path = run.join(SUMMARY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EvalError::run(run, format!("no {SUMMARY_FILE}: is this a run folder written by `rewardedit eval`?"))
        } else {
            EvalError::io(&path, e)
        }
    })?;
    serde_json::from_str(&text).map_err(|e| EvalError::run(run, format!("{SUMMARY_FILE}: {e}")))
}
