//! `rewardedit compare RUN...`: several runs side by side, with deltas against the first.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use rewardedit_core::{Axis, EditType};

use crate::record::read_records;
use crate::run::{load_summary, RunRecord, SUMMARY_FILE};
use crate::summary::{AxisSummary, RunSummary};
use crate::Result;

/// A loaded run: its folder, settings and summary.
pub struct LoadedRun {
    pub dir: PathBuf,
    pub record: RunRecord,
    pub summary: RunSummary,
}

/// Loads a run folder; a folder without `summary.json` (a run killed before its end) is
/// summarised from its `items.jsonl`.
pub fn load_run(dir: &Path) -> Result<LoadedRun> {
    let record = RunRecord::load(dir)?;
    let summary = if dir.join(SUMMARY_FILE).is_file() {
        load_summary(dir)?
    } else {
        RunSummary::of(&read_records(dir, false)?, &record.options.bootstrap)
    };
    Ok(LoadedRun { dir: dir.to_path_buf(), record, summary })
}

/// A table per scope (overall, then each edit type): one row per run with n, failed and, per
/// axis, mean and yes-rate, each followed by its delta against the first run.
pub fn compare_table(runs: &[LoadedRun]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "runs:");
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(s, "  [{i}] {}  editor {}  scorer {}  benchmark {}", r.dir.display(), r.record.editor, r.record.scorer, r.record.benchmark_identity);
    }
    if runs.iter().any(|r| r.record.benchmark_identity != runs[0].record.benchmark_identity) {
        let _ = writeln!(s, "note: these runs are on different benchmarks; their deltas compare different items");
    }
    let scopes = std::iter::once(None).chain(EditType::ALL.into_iter().map(Some));
    for scope in scopes {
        let axes_of = |r: &LoadedRun| match scope {
            None => Some((r.summary.n, r.summary.failed, r.summary.axes.clone())),
            Some(t) => r.summary.by_type.get(&t).map(|x| (x.n, x.failed, x.axes.clone())),
        };
        if runs.iter().all(|r| axes_of(r).is_none()) {
            continue;
        }
        let _ = write!(s, "\n{:<6}{:>6}{:>7}", scope.map_or("all", EditType::name), "n", "failed");
        for a in Axis::ALL {
            let _ = write!(s, "  {:>30}", format!("{} mean (d) / yes% (d)", a.name()));
        }
        s.push('\n');
        let base = axes_of(&runs[0]);
        for (i, r) in runs.iter().enumerate() {
            let Some((n, failed, axes)) = axes_of(r) else {
                let _ = writeln!(s, "[{i}]   -");
                continue;
            };
            let _ = write!(s, "[{i}]   {n:>6}{failed:>7}");
            for a in Axis::ALL {
                let cell = match (axes.get(&a), base.as_ref().and_then(|b| b.2.get(&a))) {
                    (None, _) => "-".to_string(),
                    (Some(x), b) => cell(x, if i == 0 { None } else { b }),
                };
                let _ = write!(s, "  {cell:>30}");
            }
            s.push('\n');
        }
    }
    s
}

fn cell(x: &AxisSummary, base: Option<&AxisSummary>) -> String {
    match base {
        None => format!("{:.2} / {:.1}", x.mean, x.yes_rate * 100.0),
        Some(b) => format!("{:.2} ({:+.2}) / {:.1} ({:+.1})", x.mean, x.mean - b.mean, x.yes_rate * 100.0, (x.yes_rate - b.yes_rate) * 100.0),
    }
}
