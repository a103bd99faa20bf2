//! The same edits, another scorer: a finished run's edited images scored again, either as
//! requests (`parity-scorer`) or into a run folder of their own ([`rescore_run`]), so that an
//! editor is run once and its edits scored by the oracle and by the student scorer.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rewardedit_core::image_io::load_rgb;
use rewardedit_scorer::{ScoreRequest, Scorer};

use crate::record::{read_records, ItemFailure, ItemRecord, RecordWriter, Stage, ITEMS_FILE};
use crate::report::write_reports;
use crate::run::{write_json, RunOutcome, RunRecord, RUN_FILE, SUMMARY_FILE};
use crate::summary::RunSummary;
use crate::{EvalError, Result};

/// The request to score `record`'s edit again (its images resolved against `run`); `None` when
/// the run kept no edited image for it (the edit failed).
pub fn score_request(run: &Path, record: &ItemRecord) -> Result<Option<ScoreRequest>> {
    let Some(edited) = &record.edited else { return Ok(None) };
    let load = |p: &Path| load_rgb(ItemRecord::resolve(run, p)).map(Arc::new).map_err(EvalError::from);
    Ok(Some(ScoreRequest {
        id: record.id.clone(),
        source: load(&record.source)?,
        edited: load(edited)?,
        instruction: record.instruction.clone(),
        edit_type: Some(record.edit_type),
        provenance: record.provenance.clone(),
    }))
}

/// The requests to rescore a run's edits: every item whose edited image the run kept.
pub fn rescore_requests(run: &Path) -> Result<Vec<ScoreRequest>> {
    let mut out = Vec::new();
    for r in read_records(run, false)? {
        out.extend(score_request(run, &r)?);
    }
    if out.is_empty() {
        return Err(EvalError::run(run, "no item has an edited image to rescore"));
    }
    Ok(out)
}

/// Scores the edits of the run `from` with `scorer` into the run folder `out` (written afresh:
/// rescoring is cheap next to editing). Items keep their edits, edit times and edit failures;
/// image paths point into `from`, so `out` needs `from` beside it. Its `run.json` is `from`'s
/// with the scorer replaced, so parity and compare treat it as a run of the same editor.
pub fn rescore_run(from: &Path, scorer: &dyn Scorer, concurrency: usize, out: &Path) -> Result<RunOutcome> {
    if concurrency == 0 {
        return Err(EvalError::Config("concurrency must be at least 1".into()));
    }
    let from = std::fs::canonicalize(from).map_err(|e| EvalError::io(from, e))?;
    let mut record = RunRecord::load(&from)?;
    record.scorer = scorer.describe();
    let mut records: Vec<ItemRecord> = read_records(&from, false)?;
    std::fs::create_dir_all(out).map_err(|e| EvalError::io(out, e))?;
    if std::fs::canonicalize(out).map_err(|e| EvalError::io(out, e))? == from {
        return Err(EvalError::Config(format!("{}: a run cannot be rescored into itself", out.display())));
    }

    let mut requests = Vec::new();
    for (i, r) in records.iter_mut().enumerate() {
        r.source = ItemRecord::resolve(&from, &r.source);
        r.edited = r.edited.as_ref().map(|e| ItemRecord::resolve(&from, e));
        match score_request(&from, r) {
            Ok(Some(request)) => requests.push((i, request)),
            Ok(None) => {}
            Err(e) => r.failure = Some(ItemFailure { stage: Stage::Load, kind: "image".into(), message: e.to_string() }),
        }
    }
    let batch: Vec<ScoreRequest> = requests.iter().map(|(_, r)| r.clone()).collect();
    let started = Instant::now();
    let results = scorer.score_batch(&batch, concurrency);
    let share = started.elapsed().as_secs_f64() / batch.len().max(1) as f64;
    for ((i, _), result) in requests.iter().zip(results) {
        let r = &mut records[*i];
        r.score_seconds = Some(share);
        (r.rewards, r.failure) = match result {
            Ok(reward) => (Some(reward), None),
            Err(e) => (None, Some(ItemFailure { stage: Stage::Score, kind: e.kind().into(), message: e.to_string() })),
        };
    }

    let items = out.join(ITEMS_FILE);
    if items.exists() {
        std::fs::remove_file(&items).map_err(|e| EvalError::io(&items, e))?;
    }
    let mut writer = RecordWriter::append(out)?;
    for r in &records {
        writer.write(r)?;
    }
    let summary = RunSummary::of(&records, &record.options.bootstrap);
    write_json(&out.join(RUN_FILE), &record)?;
    write_json(&out.join(SUMMARY_FILE), &summary)?;
    write_reports(out, &record, &summary, &records)?;
    let failed = records.iter().filter(|r| !r.is_ok()).count();
    Ok(RunOutcome { summary, total: records.len(), already: 0, scored: records.len() - failed, failed })
}
