//! `RUN/items.jsonl`: one [`ItemRecord`] per line, appended and flushed as each item finishes,
//! so a run killed at any moment loses at most its partial last line (cut on resume, as core's
//! manifest does). A failed item is written too, with its error; a re-run retries it and
//! appends a new record, and the last record of an id is the one that counts.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use rewardedit_core::manifest::truncate_partial_line;
use rewardedit_core::{EditType, Reward};
use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// File name of the item records inside a run folder.
pub const ITEMS_FILE: &str = "items.jsonl";

/// Where in an item's life it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Loading the source image.
    Load,
    /// The editor.
    Edit,
    /// Saving the edited image.
    Save,
    /// The scorer.
    Score,
}

/// Why an item failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    pub stage: Stage,
    /// A stable short name of the error kind (`timeout`, `parse`, `pipeline_not_merged`...).
    pub kind: String,
    pub message: String,
}

/// Pixel agreement of the edit with the world's exact target (MagicBrush-style metrics).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Mean absolute difference, channels scaled to [0, 1].
    pub l1: f64,
    /// Mean squared difference, channels scaled to [0, 1].
    pub l2: f64,
    /// Peak signal-to-noise ratio in dB (capped at [`crate::stats::PSNR_CAP_DB`]).
    pub psnr: f64,
}

/// One item of a run: what was asked, what came out, how it scored — or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub id: String,
    pub edit_type: EditType,
    pub instruction: String,
    /// The source image: a benchmark file (Real-Edit), or a PNG inside the run (world),
    /// relative to the run folder when inside it.
    pub source: PathBuf,
    /// The edited image, relative to the run folder; the source's path when the edit left the
    /// image unchanged (it is not stored twice); `None` when the edit failed.
    pub edited: Option<PathBuf>,
    /// Seconds the editor took; `None` when it was never called.
    pub edit_seconds: Option<f64>,
    /// Seconds the scorer took.
    pub score_seconds: Option<f64>,
    /// Scores, verdicts and flaw sentences on the three axes; `None` when the item failed.
    pub rewards: Option<Reward>,
    /// Ground-truth metrics against the exact target (world only).
    pub ground_truth: Option<GroundTruth>,
    /// Why the item failed; `None` when it succeeded.
    pub failure: Option<ItemFailure>,
    /// What the scorer needs about the item (world scene and edit), kept so the run's edits
    /// can be rescored later (`parity-scorer`).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl ItemRecord {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none() && self.rewards.is_some()
    }

    /// A path of the record resolved against the run folder.
    pub fn resolve(run: &Path, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_path_buf() } else { run.join(path) }
    }
}

/// Reads a run's records, the last record of each id winning, in first-seen order. A partial
/// last line (a killed writer) is cut off first when `repair` is set; any other bad line is an
/// error naming the line.
pub fn read_records(run: &Path, repair: bool) -> Result<Vec<ItemRecord>> {
    let path = run.join(ITEMS_FILE);
    if !path.is_file() {
        return Err(EvalError::run(run, format!("no {ITEMS_FILE}: is this a run folder written by `rewardedit eval`?")));
    }
    if repair {
        truncate_partial_line(&path)?;
    }
    let file = File::open(&path).map_err(|e| EvalError::io(&path, e))?;
    let mut order: Vec<ItemRecord> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| EvalError::io(&path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: ItemRecord = serde_json::from_str(&line).map_err(|e| {
            EvalError::run(run, format!("{ITEMS_FILE}:{}: not an item record: {e}", n + 1))
        })?;
        match at.get(&record.id) {
            Some(&i) => order[i] = record,
            None => {
                at.insert(record.id.clone(), order.len());
                order.push(record);
            }
        }
    }
    Ok(order)
}

/// Appends records to `items.jsonl`, one flushed line each.
pub struct RecordWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RecordWriter {
    pub fn append(run: &Path) -> Result<Self> {
        let path = run.join(ITEMS_FILE);
        let file = OpenOptions::new().append(true).create(true).open(&path).map_err(|e| EvalError::io(&path, e))?;
        Ok(RecordWriter { path, out: BufWriter::new(file) })
    }

    pub fn write(&mut self, record: &ItemRecord) -> Result<()> {
        let line = serde_json::to_string(record).map_err(|e| EvalError::Config(e.to_string()))?;
        writeln!(self.out, "{line}").and_then(|_| self.out.flush()).map_err(|e| EvalError::io(&self.path, e))
    }
}
