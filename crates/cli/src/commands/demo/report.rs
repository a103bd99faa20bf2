//! `demo/report.html`: one self-contained page (inline SVG charts from the eval report, the image
//! grid of every editor's edits embedded as a PNG data URI) with the tables of `summary.json`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::Cursor;
use std::path::PathBuf;

use anyhow::Result;
use base64::Engine;
use image::RgbImage;
use rewardedit_core::image_io::load_rgb;
use rewardedit_core::{Axis, EditType};
use rewardedit_eval::report::{bar_chart, ci, escape, html_table};
use rewardedit_eval::summary::AxisSummary;
use rewardedit_eval::{read_records, ItemRecord, RunSummary};

use super::jobs::{Purpose, Runner};
use super::models::Slot;
use super::summary::{DemoSummary, ScoredRun, ORACLE, STUDENT_SCORER};
use crate::commands::eval::from_eval;

/// One row per edit type (its first item): source, exact target, then each editor's edit.
pub fn grid(runner: &Runner, items: usize) -> Result<(Vec<String>, Vec<GridRow>)> {
    let editors = [Slot::Baseline, Slot::Teacher, Slot::Student, Slot::StudentInt8];
    let mut header = vec!["source".to_string(), "target".to_string()];
    header.extend(editors.iter().map(|s| s.key().to_string()));
    let edits: Vec<(PathBuf, BTreeMap<String, ItemRecord>)> = editors
        .iter()
        .map(|&s| {
            let dir = runner.dir_of(s, Purpose::Main);
            Ok((dir.clone(), read_records(&dir, false).map_err(from_eval)?.into_iter().map(|r| (r.id.clone(), r)).collect()))
        })
        .collect::<Result<_>>()?;
    let items = runner.benchmark.items(Some(items)).map_err(from_eval)?;
    let mut rows = Vec::new();
    for t in EditType::ALL {
        let Some(item) = items.iter().find(|i| i.edit_type == t) else { continue };
        let source = item.source.load().map_err(from_eval)?;
        let blank = || RgbImage::new(source.width(), source.height());
        let mut images = vec![(*source).clone(), item.target.as_deref().cloned().unwrap_or_else(blank)];
        for (dir, records) in &edits {
            let edited = records.get(&item.id).and_then(|r| r.edited.as_ref()).and_then(|p| load_rgb(ItemRecord::resolve(dir, p)).ok());
            images.push(edited.unwrap_or_else(blank));
        }
        rows.push(GridRow { caption: format!("{t}: {}", item.instruction), images });
    }
    Ok((header, rows))
}


/// A row of the image grid: its caption and images, left to right.
pub struct GridRow {
    pub caption: String,
    pub images: Vec<RgbImage>,
}

/// Per axis "mean [CI] / yes% [CI]", or "-" where nothing was scored.
fn axis_cells(summary: &RunSummary) -> Vec<String> {
    Axis::ALL.iter().map(|a| summary.axes.get(a).map_or("-".into(), cell)).collect()
}

fn cell(s: &AxisSummary) -> String {
    format!("{:.2} {} / {:.0}% {}", s.mean, ci(s.mean_ci, 1.0, 2), s.yes_rate * 100.0, ci(s.yes_rate_ci, 100.0, 0))
}

fn axis_values(summary: &RunSummary, value: impl Fn(&AxisSummary) -> f64) -> [f64; 3] {
    Axis::ALL.map(|a| summary.axes.get(&a).map_or(0.0, &value))
}

fn f(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The page.
pub fn html(s: &DemoSummary, grid_header: &[String], grid: &[GridRow]) -> Result<String> {
    let mut h = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>rewardedit demo</title><style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}img.grid{image-rendering:pixelated;width:100%;max-width:900px}</style></head><body>\n<h1>rewardedit demo</h1>\n",
    );
    let _ = writeln!(
        h,
        "<p>{} mode: {} ({} items; sweeps {} items per level), models from <code>{}</code>, {:.0} s. Every number is measured here; a missing model stops the demo rather than leave a row out.</p>",
        s.mode,
        escape(&s.benchmark.detail),
        s.benchmark.items,
        s.benchmark.sweep_items,
        escape(&s.checkpoints.display().to_string()),
        s.wall_seconds
    );

    h += "<h2>Models</h2>\n<p>Per axis: mean score 0-5 [95% CI] / yes-rate [95% CI]; edit time is the median per edit.</p>";
    let header = ["model", "scorer", "n", "failed", "following", "preservation", "quality", "edit s", "steps", "size", "run"];
    let mut rows = Vec::new();
    for (slot, m) in &s.models {
        for (scorer, run) in &m.scorers {
            let mut row = vec![slot.key().to_string(), scorer.to_string(), run.summary.n.to_string(), run.summary.failed.to_string()];
            row.extend(axis_cells(&run.summary));
            row.push(f(m.edit_seconds.map(|t| t.median), 3));
            row.push(m.steps.map_or("-".into(), |v| v.to_string()));
            row.push(m.size_bytes.map_or("-".into(), human_bytes));
            row.push(run.run.display().to_string());
            rows.push(row);
        }
    }
    h += &html_table(&header, rows);
    for scorer in [ORACLE, STUDENT_SCORER] {
        let runs: Vec<(String, &ScoredRun)> = s.models.iter().filter_map(|(k, m)| Some((k.key().to_string(), m.scorers.get(scorer)?))).collect();
        let means: Vec<(String, [f64; 3])> = runs.iter().map(|(k, r)| (k.clone(), axis_values(&r.summary, |a| a.mean))).collect();
        let yes: Vec<(String, [f64; 3])> = runs.iter().map(|(k, r)| (k.clone(), axis_values(&r.summary, |a| a.yes_rate * 100.0))).collect();
        h += &bar_chart(&format!("Mean score by model, {scorer} (0-5)"), &means, 5.0);
        h += &bar_chart(&format!("Yes-rate by model, {scorer} (%)"), &yes, 100.0);
    }

    h += "<h2>Speed</h2><p>Median seconds per edit, timed in this invocation, the teacher and the students editing the same items in alternating warm blocks (so other load falls on all alike).</p>";
    let timed = |k: &Slot| s.speed.timed.get(k).map(|t| t.median);
    let mut speed_rows = vec![vec![Slot::Teacher.key().to_string(), f(timed(&Slot::Teacher), 3), "-".into(), "-".into(), "-".into()]];
    speed_rows.extend(
        s.speed.students.iter().map(|(k, v)| vec![k.key().to_string(), f(timed(k), 3), f(v.speedup, 1), format!(">= {}", s.speed.min_speedup), verdict(v.pass)]),
    );
    h += &html_table(&["model", "median s per edit", "speed-up vs teacher", "target", "verdict"], speed_rows);

    h += "<h2>Parity</h2><p>Thresholds: <code>eval/parity.toml</code>. Differences are student minus teacher with paired-bootstrap 95% intervals; the demo reports a FAIL, it does not stop on one.</p>";
    for p in &s.parity {
        let _ = write!(h, "<h3>{} vs {} ({}): <span class=\"{}\">{}</span></h3>", p.teacher.key(), p.student.key(), p.scorer, if p.passed { "pass" } else { "fail" }, verdict(p.passed));
        let lines = p.report.lines.iter().map(|l| {
            vec![
                l.scope.clone(),
                l.axis.map_or("-".into(), |a| a.name().to_string()),
                l.metric.clone(),
                f(l.teacher, 3),
                f(l.student, 3),
                f(l.value, 3),
                l.ci.map_or("-".into(), |c| ci(c, 1.0, 3)),
                l.rule.clone(),
                verdict(l.pass),
            ]
        });
        h += &html_table(&["scope", "axis", "metric", "teacher", "student", "value", "95% CI", "rule", "verdict"], lines);
    }

    let g = &s.guidance;
    let _ = write!(h, "<h2>Reward guidance on vs off</h2><p>The {} scored by the {}: rewards 5, 5, 5 (reward guidance scale {} from its editor.json) vs the learned null reward (no reward condition).</p>", g.model.key(), g.scorer, g.reward_cfg);
    let arms = [("on: 5,5,5", &g.on), ("off: null reward", &g.off)];
    h += &html_table(&["arm", "n", "following", "preservation", "quality", "run"], arms.iter().map(|(name, r)| {
        let mut row = vec![name.to_string(), r.summary.n.to_string()];
        row.extend(axis_cells(&r.summary));
        row.push(r.run.display().to_string());
        row
    }));
    h += &bar_chart("Mean score, guidance on vs off (0-5)", &arms.map(|(n, r)| (n.to_string(), axis_values(&r.summary, |a| a.mean))), 5.0);

    let w = &s.sweeps;
    let _ = write!(h, "<h2>Slider sweeps</h2><p>The {} with one axis's requested reward at 1..5 and the others at {}, {} items per level, scored by the {}: the mean measured score on the swept axis per level, and Spearman's correlation between requested and measured.</p>", w.model.key(), w.others, w.items, w.scorer);
    let levels: Vec<String> = w.axes.values().next().map_or(Vec::new(), |a| a.levels.iter().map(|l| format!("requested {l}")).collect());
    let mut header: Vec<&str> = vec!["axis"];
    header.extend(levels.iter().map(String::as_str));
    header.extend(["spearman", "pairs", "failed"]);
    h += &html_table(&header, w.axes.iter().map(|(axis, a)| {
        let mut row = vec![axis.name().to_string()];
        row.extend(a.mean_by_level.iter().map(|m| f(*m, 2)));
        row.extend([f(a.spearman, 3), a.pairs.to_string(), a.failed.to_string()]);
        row
    }));
    let by_level: Vec<(String, [f64; 3])> = (0..levels.len())
        .map(|i| (levels[i].replace("requested ", "level "), Axis::ALL.map(|a| w.axes.get(&a).and_then(|x| x.mean_by_level[i]).unwrap_or(0.0))))
        .collect();
    h += &bar_chart("Measured score of the swept axis by requested level (0-5)", &by_level, 5.0);

    if !grid.is_empty() {
        let sheet = rewardedit_world::grid(&grid.iter().map(|r| r.images.clone()).collect::<Vec<_>>());
        let mut png = Vec::new();
        sheet.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)?;
        let _ = write!(
            h,
            "<h2>Edits</h2><p>Columns: {}. Rows:</p><ol>{}</ol><img class=\"grid\" alt=\"edits\" src=\"data:image/png;base64,{}\">",
            escape(&grid_header.join(" | ")),
            grid.iter().map(|r| format!("<li>{}</li>", escape(&r.caption))).collect::<String>(),
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
    }
    h += "<p>Each run folder above has its own report.html with per-type tables and all its edits.</p></body></html>\n";
    Ok(h)
}

fn verdict(pass: bool) -> String {
    if pass { "PASS" } else { "FAIL" }.into()
}

/// Bytes as B, kB or MB.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1_000_000 => format!("{:.2} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}
