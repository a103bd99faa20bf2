//! The labelling job: score every edit of a manifest, append the labelled lines to
//! `OUT/manifest.jsonl` and the failures to `OUT/failures.jsonl`.
//!
//! Resumable by construction: each labelled line is flushed as it is settled, a re-run skips
//! the ids already in the output and retries everything else (so the failures too), and a line
//! cut short by `kill -9` is truncated away on open and done again. Lines are written in input
//! order (results are held back until their predecessors settle), so a resumed run with a
//! deterministic scorer produces the same file as an uninterrupted one; with the LVLM teacher
//! the held-back results are in its cache, so redoing them after a kill costs no requests.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rewardedit_core::image_io::load_rgb;
use rewardedit_core::manifest::{read_manifest, truncate_partial_line, ManifestReader, ManifestWriter, MANIFEST_FILE};
use rewardedit_core::{EditExample, Error as CoreError, Reward};
use serde::{Deserialize, Serialize};

use crate::scorer::pump;
use crate::{ScoreError, ScoreRequest, Scorer};

/// File of the failures of the latest run, one [`FailureRecord`] per line.
pub const FAILURES_FILE: &str = "failures.jsonl";

/// Settings of one labelling run.
#[derive(Debug, Clone)]
pub struct LabelOptions {
    /// Edits scored at once (image loading included). For the LVLM teacher, its own
    /// `concurrency` still bounds the HTTP requests in flight.
    pub concurrency: usize,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions { concurrency: 32 }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LabelSummary {
    /// Edits in the input manifest.
    pub total: usize,
    /// Edits already in the output before this run (skipped).
    pub already_labelled: usize,
    /// Edits labelled by this run.
    pub labelled: usize,
    /// Edits that failed in this run (see `failures.jsonl`; retried on the next run).
    pub failed: usize,
}

/// One line of `failures.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub id: String,
    /// [`ScoreError::kind`], e.g. `timeout`, `parse`.
    pub kind: String,
    /// The full error message.
    pub error: String,
}

/// Progress reports; the CLI draws them with indicatif (and reads cost and cache hits from the
/// scorer it holds). Every method has a no-op default.
pub trait LabelProgress {
    /// Before scoring: edits in the input, already labelled, and left to do now.
    fn start(&mut self, _total: usize, _already_labelled: usize, _to_do: usize) {}
    /// After each edit is settled (written to the manifest or to the failures).
    fn item(&mut self, _id: &str, _result: Result<&Reward, &ScoreError>) {}
}

/// No progress reporting.
impl LabelProgress for () {}

/// Why a labelling run stopped. Per-edit failures do not stop it; they are recorded.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The input manifest or its images could not be read or are malformed (the user's input is
    /// wrong; the CLI exits 2).
    #[error(transparent)]
    Input(CoreError),
    /// The output folder could not be created, read back or written (disk full, permissions,
    /// a damaged earlier output; the CLI exits 1).
    #[error(transparent)]
    Output(CoreError),
    /// Resuming relies on ids, so they must be unique.
    #[error("{}: id {id:?} appears more than once; ids must be unique", path.display())]
    DuplicateId { path: PathBuf, id: String },
    /// Appending labels to the manifest being read would duplicate it.
    #[error("the output manifest {} is the input manifest; choose another output folder", .0.display())]
    SameManifest(PathBuf),
}

/// Labels every edit of `input` (a manifest file, or a folder holding `manifest.jsonl`) into
/// `out_dir`, resuming a previous run there. Image paths in the output are rewritten relative
/// to `out_dir`.
pub fn label(
    input: &Path,
    out_dir: &Path,
    scorer: &dyn Scorer,
    options: &LabelOptions,
    progress: &mut dyn LabelProgress,
) -> Result<LabelSummary, LabelError> {
    let in_manifest = if input.is_dir() { input.join(MANIFEST_FILE) } else { input.to_path_buf() };
    let examples = read_manifest(&in_manifest).map_err(LabelError::Input)?;
    let mut ids = HashSet::new();
    if let Some(dup) = examples.iter().find(|e| !ids.insert(e.id.as_str())) {
        return Err(LabelError::DuplicateId { path: in_manifest, id: dup.id.clone() });
    }

    let output = LabelError::Output;
    std::fs::create_dir_all(out_dir).map_err(|e| output(CoreError::io(out_dir, e)))?;
    let out_manifest = out_dir.join(MANIFEST_FILE);
    let in_base = canonical(in_manifest.parent().unwrap_or(Path::new("."))).map_err(LabelError::Input)?;
    let out_base = canonical(out_dir).map_err(output)?;
    if in_base == out_base && in_manifest.file_name() == out_manifest.file_name() {
        return Err(LabelError::SameManifest(out_manifest));
    }
    let rebase = relative_path(&out_base, &in_base);

    truncate_partial_line(&out_manifest).map_err(output)?;
    let done: HashSet<String> = if out_manifest.exists() {
        ManifestReader::open(&out_manifest).map_err(output)?.map(|r| r.map(|e| e.id)).collect::<Result<_, _>>().map_err(output)?
    } else {
        HashSet::new()
    };
    let todo: Vec<&EditExample> = examples.iter().filter(|e| !done.contains(&e.id)).collect();
    let mut summary = LabelSummary {
        total: examples.len(),
        already_labelled: examples.len() - todo.len(),
        labelled: 0,
        failed: 0,
    };
    progress.start(summary.total, summary.already_labelled, todo.len());

    let mut manifest = ManifestWriter::append(&out_manifest).map_err(output)?;
    let failures_path = out_dir.join(FAILURES_FILE);
    // Every edit not in the manifest is retried, so the previous run's failures are stale.
    let mut failures = BufWriter::new(File::create(&failures_path).map_err(|e| output(CoreError::io(&failures_path, e)))?);

    let stop = Cell::new(false);
    let mut write_error = None;
    let mut held: BTreeMap<usize, Result<Reward, ScoreError>> = BTreeMap::new();
    let mut next = 0usize;
    let mut settle = |i: usize, result: Result<Reward, ScoreError>| -> Result<(), LabelError> {
        held.insert(i, result);
        while let Some(result) = held.remove(&next) {
            let example = todo[next];
            match &result {
                Ok(reward) => {
                    manifest.write(&labelled(example, reward.clone(), &rebase)).map_err(output)?;
                    summary.labelled += 1;
                }
                Err(e) => {
                    let record = FailureRecord { id: example.id.clone(), kind: e.kind().into(), error: e.to_string() };
                    write_line(&mut failures, &failures_path, &record).map_err(output)?;
                    summary.failed += 1;
                }
            }
            progress.item(&example.id, result.as_ref());
            next += 1;
        }
        Ok(())
    };
    pump(
        &mut todo.iter().copied().enumerate().take_while(|_| !stop.get()),
        options.concurrency,
        &|(_, example): &(usize, &EditExample)| scorer.score(&load_request(example, &in_base)?),
        &mut |(i, _), result| {
            if write_error.is_none()
                && let Err(e) = settle(i, result)
            {
                // Stop feeding the pump; the edits in flight finish and are dropped.
                write_error = Some(e);
                stop.set(true);
            }
        },
    );
    match write_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Loads an edit's images (paths relative to the input manifest's folder).
fn load_request(example: &EditExample, base: &Path) -> Result<ScoreRequest, ScoreError> {
    let load = |p: &Path| load_rgb(base.join(p)).map(Arc::new).map_err(|e| ScoreError::Image(e.to_string()));
    Ok(ScoreRequest {
        id: example.id.clone(),
        source: load(&example.source)?,
        edited: load(&example.edited)?,
        instruction: example.instruction.clone(),
        edit_type: Some(example.edit_type),
        provenance: example.provenance.clone(),
    })
}

/// The output line: the input line with its rewards, relative paths re-rooted at the output.
fn labelled(example: &EditExample, reward: Reward, rebase: &Path) -> EditExample {
    let at = |p: &PathBuf| if p.is_absolute() { p.clone() } else { rebase.join(p) };
    EditExample {
        source: at(&example.source),
        edited: at(&example.edited),
        target: example.target.as_ref().map(at),
        mask: example.mask.as_ref().map(at),
        rewards: Some(reward),
        ..example.clone()
    }
}

fn write_line(out: &mut BufWriter<File>, path: &Path, record: &FailureRecord) -> Result<(), CoreError> {
    let line = serde_json::to_string(record).map_err(|e| CoreError::Record { path: path.into(), line: 0, reason: e.to_string() })?;
    writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| CoreError::io(path, e))
}

fn canonical(dir: &Path) -> Result<PathBuf, CoreError> {
    std::fs::canonicalize(dir).map_err(|e| CoreError::io(dir, e))
}

/// The path that leads from folder `from` to folder `to` (both canonical).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_folders() {
        assert_eq!(relative_path(Path::new("/d/out"), Path::new("/d/in")), Path::new("../in"));
        assert_eq!(relative_path(Path::new("/d"), Path::new("/d/in/x")), Path::new("in/x"));
        assert_eq!(relative_path(Path::new("/d/a/b"), Path::new("/d")), Path::new("../.."));
        assert_eq!(relative_path(Path::new("/d"), Path::new("/d")), Path::new(""));
    }

}
