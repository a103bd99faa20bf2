//! `RUN/report.md` and `RUN/report.html`: the run's settings, the per-axis and per-type tables
//! with confidence intervals, bar charts (inline SVG, no fonts or plotting library needed), an
//! image grid per edit type (source | edit) and the failures.

use std::fmt::Write;
use std::path::Path;

use image::RgbImage;
use rewardedit_core::image_io::{load_rgb, resize_keep_aspect, save_png};
use rewardedit_core::{Axis, EditType};
use rewardedit_world::grid;

use crate::record::ItemRecord;
use crate::run::{file_stem, RunRecord};
use crate::summary::{AxisSummary, RunSummary};
use crate::{EvalError, Result};

/// Folder of the report's pictures inside a run.
pub const REPORT_DIR: &str = "report";
/// Items shown per edit type in the grids.
pub const GRID_ITEMS: usize = 4;
/// Long side of a grid thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 160;
/// Failures listed in a report (all are in items.jsonl).
pub const FAILURES_LISTED: usize = 20;

/// Axis colours in charts: following, preservation, quality.
const COLOURS: [&str; 3] = ["#4e79a7", "#f28e2b", "#59a14f"];

/// Writes the grids, charts, `report.md` and `report.html` of a run.
pub fn write_reports(run: &Path, record: &RunRecord, summary: &RunSummary, records: &[ItemRecord]) -> Result<()> {
    let dir = run.join(REPORT_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| EvalError::io(&dir, e))?;
    let grids = write_grids(run, records)?;
    let charts = [
        ("mean-score", bar_chart("Mean score by edit type (0-5)", &chart_rows(summary, |a| a.mean), 5.0)),
        ("yes-rate", bar_chart("Yes-rate by edit type (%)", &chart_rows(summary, |a| a.yes_rate * 100.0), 100.0)),
    ];
    for (name, svg) in &charts {
        let p = dir.join(format!("{name}.svg"));
        std::fs::write(&p, svg).map_err(|e| EvalError::io(&p, e))?;
    }
    let md = markdown(record, summary, records, &grids, &charts.each_ref().map(|(n, _)| *n));
    let p = run.join("report.md");
    std::fs::write(&p, md).map_err(|e| EvalError::io(&p, e))?;
    let html = html(record, summary, records, &grids, &charts.each_ref().map(|(_, s)| s));
    let p = run.join("report.html");
    std::fs::write(&p, html).map_err(|e| EvalError::io(&p, e))
}

/// An edit type's grid: its file (relative to the run) and one caption per row.
struct Grid {
    edit_type: EditType,
    path: String,
    captions: Vec<String>,
}

/// One grid per edit type that has edited images: rows of (source | edit) thumbnails.
fn write_grids(run: &Path, records: &[ItemRecord]) -> Result<Vec<Grid>> {
    let mut out = Vec::new();
    for t in EditType::ALL {
        let (rows, captions): (Vec<Vec<RgbImage>>, Vec<String>) = records
            .iter()
            .filter(|r| r.edit_type == t)
            .filter_map(|r| {
                let edited = r.edited.as_ref()?;
                let thumb = |p: &Path| load_rgb(ItemRecord::resolve(run, p)).ok().map(|i| resize_keep_aspect(&i, THUMB_SIDE, 1));
                Some((vec![thumb(&r.source)?, thumb(edited)?], format!("{}: {}", r.id, r.instruction)))
            })
            .take(GRID_ITEMS)
            .unzip();
        if rows.is_empty() {
            continue;
        }
        let path = format!("{REPORT_DIR}/grid-{}.png", file_stem(t.name()));
        save_png(run.join(&path), &grid(&rows))?;
        out.push(Grid { edit_type: t, path, captions });
    }
    Ok(out)
}

fn chart_rows(summary: &RunSummary, value: impl Fn(&AxisSummary) -> f64) -> Vec<(String, [f64; 3])> {
    let row = |axes: &std::collections::BTreeMap<Axis, AxisSummary>| Axis::ALL.map(|a| axes.get(&a).map_or(0.0, &value));
    let mut rows = vec![("all".to_string(), row(&summary.axes))];
    rows.extend(summary.by_type.iter().map(|(t, s)| (t.name().to_string(), row(&s.axes))));
    rows
}

/// A grouped bar chart as SVG: one group per row, one bar per axis, values in `[0, max]`.
pub fn bar_chart(title: &str, rows: &[(String, [f64; 3])], max: f64) -> String {
    let (left, top, plot_h, group_w, bar_w) = (40.0, 40.0, 200.0, 84.0, 22.0);
    let width = left + group_w * rows.len() as f64 + 20.0;
    let height = top + plot_h + 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="16" font-size="13">{}</text>"##,
        escape(title)
    );
    for (i, axis) in Axis::ALL.iter().enumerate() {
        let x = left + 130.0 * i as f64;
        let _ = write!(s, r#"<rect x="{x}" y="22" width="10" height="10" fill="{}"/><text x="{}" y="31">{}</text>"#, COLOURS[i], x + 14.0, axis.name());
    }
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = top + plot_h - plot_h * f64::from(k) / 4.0;
        let _ = write!(s, r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.0}</text>"##, width - 20.0, left - 4.0, y + 4.0);
    }
    for (g, (label, values)) in rows.iter().enumerate() {
        let x0 = left + group_w * g as f64 + 6.0;
        for (i, v) in values.iter().enumerate() {
            let h = plot_h * (v / max).clamp(0.0, 1.0);
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar_w}" height="{h:.1}" fill="{}"><title>{} {}: {v:.2}</title></rect>"#,
                x0 + bar_w * i as f64,
                top + plot_h - h,
                COLOURS[i],
                escape(label),
                Axis::ALL[i].name()
            );
        }
        let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, x0 + bar_w * 1.5, top + plot_h + 16.0, escape(label));
    }
    s.push_str("</svg>\n");
    s
}

/// An interval as `[lo, hi]`, scaled (100 for percentages) and rounded.
pub fn ci(c: [f64; 2], scale: f64, digits: usize) -> String {
    format!("[{:.digits$}, {:.digits$}]", c[0] * scale, c[1] * scale)
}

/// Rows of the overall table: axis, yes-rate %, its CI, mean, its CI.
fn axis_rows(summary: &RunSummary) -> Vec<[String; 5]> {
    Axis::ALL
        .iter()
        .filter_map(|a| summary.axes.get(a).map(|s| (a, s)))
        .map(|(a, s)| {
            [a.name().into(), format!("{:.1}", s.yes_rate * 100.0), ci(s.yes_rate_ci, 100.0, 1), format!("{:.2}", s.mean), ci(s.mean_ci, 1.0, 2)]
        })
        .collect()
}

/// Rows of the by-type table: type, n, failed, then per axis "mean / yes%".
fn type_rows(summary: &RunSummary) -> Vec<Vec<String>> {
    summary
        .by_type
        .iter()
        .map(|(t, s)| {
            let mut row = vec![t.name().to_string(), s.n.to_string(), s.failed.to_string()];
            row.extend(Axis::ALL.map(|a| s.axes.get(&a).map_or("-".into(), |x| format!("{:.2} / {:.1}%", x.mean, x.yes_rate * 100.0))));
            row
        })
        .collect()
}

fn settings_rows(record: &RunRecord) -> Vec<[String; 2]> {
    let o = &record.options;
    vec![
        ["benchmark".into(), record.benchmark_detail.clone()],
        ["editor".into(), record.editor.clone()],
        ["scorer".into(), record.scorer.clone()],
        ["rewards".into(), serde_json::to_string(&o.settings.rewards).unwrap_or_default()],
        ["steps".into(), o.settings.steps.map_or("editor default".into(), |s| s.to_string())],
        ["sampler and guidance".into(), o.settings.sampling_overrides()],
        ["seed".into(), o.seed.to_string()],
        ["limit".into(), o.limit.map_or("none".into(), |l| l.to_string())],
        ["bootstrap".into(), format!("{} resamples, seed {}, {:.0}% intervals", o.bootstrap.resamples, o.bootstrap.seed, o.bootstrap.level * 100.0)],
    ]
}

const TYPE_HEADER: [&str; 6] = ["type", "n", "failed", "following mean / yes", "preservation mean / yes", "quality mean / yes"];
const AXIS_HEADER: [&str; 5] = ["axis", "yes-rate %", "95% CI", "mean", "95% CI"];

fn md_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(s, "| {} |", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
    }
    s
}

fn markdown(record: &RunRecord, summary: &RunSummary, records: &[ItemRecord], grids: &[Grid], charts: &[&str]) -> String {
    let mut s = format!("# Evaluation: {} on {}\n\n", record.editor, record.benchmark);
    let _ = writeln!(s, "{} items, {} failed (failed items are counted, never dropped; the axes are over the {} scored).\n", summary.n, summary.failed, summary.n - summary.failed);
    s += "## Settings\n\n";
    s += &md_table(&["setting", "value"], settings_rows(record).into_iter().map(Vec::from));
    s += "\n## Axes\n\n";
    s += &md_table(&AXIS_HEADER, axis_rows(summary).into_iter().map(Vec::from));
    s += "\n## By edit type\n\n";
    s += &md_table(&TYPE_HEADER, type_rows(summary));
    if let Some(gt) = &summary.ground_truth {
        let _ = write!(s, "\n## Ground truth (against the exact target, {} items)\n\n", gt.n);
        s += &md_table(
            &["metric", "mean", "95% CI"],
            [("L1", gt.l1, 4), ("L2", gt.l2, 4), ("PSNR (dB)", gt.psnr, 2)]
                .map(|(n, m, d)| vec![n.to_string(), format!("{:.d$}", m.mean), ci(m.ci, 1.0, d)]),
        );
    }
    s += "\n## Charts\n\n";
    for c in charts {
        let _ = writeln!(s, "![{c}]({REPORT_DIR}/{c}.svg)\n");
    }
    s += "## Images (source | edit)\n\n";
    for g in grids {
        let _ = writeln!(s, "### {}\n\n![{}]({})\n", g.edit_type, g.edit_type, g.path);
        for (i, c) in g.captions.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, c.replace('|', "\\|"));
        }
        s.push('\n');
    }
    let failed: Vec<&ItemRecord> = records.iter().filter(|r| !r.is_ok()).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "## Failures ({}; first {} listed, all in items.jsonl)\n", failed.len(), FAILURES_LISTED.min(failed.len()));
        s += &md_table(&["id", "stage", "kind", "message"], failed.iter().take(FAILURES_LISTED).map(|r| failure_row(r)));
    }
    s
}

fn failure_row(r: &ItemRecord) -> Vec<String> {
    let f = r.failure.as_ref();
    vec![
        r.id.clone(),
        f.map_or("score".into(), |f| format!("{:?}", f.stage).to_lowercase()),
        f.map_or("-".into(), |f| f.kind.clone()),
        f.map_or("no score".into(), |f| f.message.replace('\n', " ")),
    ]
}

/// Text safe inside HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An HTML table: a header row, then one row per item, every cell escaped.
pub fn html_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s += "</tr>";
    for r in rows {
        s += "<tr>";
        for c in r {
            let _ = write!(s, "<td>{}</td>", escape(&c));
        }
        s += "</tr>";
    }
    s + "</table>\n"
}

fn html(record: &RunRecord, summary: &RunSummary, records: &[ItemRecord], grids: &[Grid], charts: &[&String]) -> String {
    let mut s = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Evaluation: {0} on {1}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style></head><body>\n<h1>Evaluation: {0} on {1}</h1>\n",
        escape(&record.editor),
        escape(&record.benchmark)
    );
    let _ = writeln!(s, "<p>{} items, {} failed (failed items are counted, never dropped; the axes are over the {} scored).</p>", summary.n, summary.failed, summary.n - summary.failed);
    s += "<h2>Settings</h2>";
    s += &html_table(&["setting", "value"], settings_rows(record).into_iter().map(Vec::from));
    s += "<h2>Axes</h2>";
    s += &html_table(&AXIS_HEADER, axis_rows(summary).into_iter().map(Vec::from));
    s += "<h2>By edit type</h2>";
    s += &html_table(&TYPE_HEADER, type_rows(summary));
    if let Some(gt) = &summary.ground_truth {
        let _ = write!(s, "<h2>Ground truth (against the exact target, {} items)</h2>", gt.n);
        s += &html_table(
            &["metric", "mean", "95% CI"],
            [("L1", gt.l1, 4), ("L2", gt.l2, 4), ("PSNR (dB)", gt.psnr, 2)]
                .map(|(n, m, d)| vec![n.to_string(), format!("{:.d$}", m.mean), ci(m.ci, 1.0, d)]),
        );
    }
    s += "<h2>Charts</h2>\n";
    for c in charts {
        s += c;
    }
    s += "<h2>Images (source | edit)</h2>\n";
    for g in grids {
        let _ = write!(s, "<h3>{0}</h3><img src=\"{1}\" alt=\"{0}\"><ol>", g.edit_type, escape(&g.path));
        for c in &g.captions {
            let _ = write!(s, "<li>{}</li>", escape(c));
        }
        s += "</ol>\n";
    }
    let failed: Vec<&ItemRecord> = records.iter().filter(|r| !r.is_ok()).collect();
    if !failed.is_empty() {
        let _ = write!(s, "<h2>Failures ({}; first {} listed, all in items.jsonl)</h2>", failed.len(), FAILURES_LISTED.min(failed.len()));
        s += &html_table(&["id", "stage", "kind", "message"], failed.iter().take(FAILURES_LISTED).map(|r| failure_row(r)));
    }
    s + "</body></html>\n"
}

/// The summary as plain text for a terminal: the axes with intervals, then the edit types.
pub fn text_summary(summary: &RunSummary) -> String {
    let mut s = format!("{} items, {} failed\n", summary.n, summary.failed);
    let _ = writeln!(s, "{:<14}{:>11}{:>16}{:>8}{:>16}", AXIS_HEADER[0], AXIS_HEADER[1], AXIS_HEADER[2], AXIS_HEADER[3], AXIS_HEADER[4]);
    for [a, y, yc, m, mc] in axis_rows(summary) {
        let _ = writeln!(s, "{a:<14}{y:>11}{yc:>16}{m:>8}{mc:>16}");
    }
    let _ = writeln!(s, "\n{:<11}{:>5}{:>7}{:>24}{:>24}{:>24}", TYPE_HEADER[0], TYPE_HEADER[1], TYPE_HEADER[2], TYPE_HEADER[3], TYPE_HEADER[4], TYPE_HEADER[5]);
    for row in type_rows(summary) {
        let _ = writeln!(s, "{:<11}{:>5}{:>7}{:>24}{:>24}{:>24}", row[0], row[1], row[2], row[3], row[4], row[5]);
    }
    if let Some(gt) = &summary.ground_truth {
        let _ = writeln!(s, "\nground truth ({} items): L1 {:.4}  L2 {:.4}  PSNR {:.2} dB {}", gt.n, gt.l1.mean, gt.l2.mean, gt.psnr.mean, ci(gt.psnr.ci, 1.0, 2));
    }
    s
}
