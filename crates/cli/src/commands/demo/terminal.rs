//! What the demo prints: the tables of `summary.json` at terminal width (per-type parity lines
//! and confidence intervals of the models are left to report.html).

use rewardedit_core::{Axis, EditType};
use rewardedit_eval::parity::ParityReport;
use rewardedit_eval::RunSummary;

use super::models::Slot;
use super::report::human_bytes;
use super::summary::{DemoSummary, ScoredRun};
use crate::table;

/// Per axis "mean / yes%", or "-" where nothing was scored.
fn compact(summary: &RunSummary) -> Vec<String> {
    Axis::ALL.iter().map(|a| summary.axes.get(a).map_or("-".into(), |x| format!("{:.2} / {:.0}%", x.mean, x.yes_rate * 100.0))).collect()
}

/// The models table, speed, parity (overall lines), guidance and sweeps.
pub fn render(s: &DemoSummary) -> String {
    let mut out = String::from("\nper axis: mean score (0-5) / yes-rate; 95% intervals in report.html\n");
    let mut rows = Vec::new();
    for (slot, m) in &s.models {
        for (scorer, run) in &m.scorers {
            let mut row = vec![slot.key().to_string(), scorer.to_string(), run.summary.n.to_string(), run.summary.failed.to_string()];
            row.extend(compact(&run.summary));
            row.push(m.edit_seconds.map_or("-".into(), |t| format!("{:.3}", t.median)));
            row.push(m.steps.map_or("-".into(), |v| v.to_string()));
            row.push(m.size_bytes.map_or("-".into(), human_bytes));
            rows.push(row);
        }
    }
    out += &table::render(&["model", "scorer", "n", "failed", "following", "preservation", "quality", "edit s", "steps", "size"], &rows);
    out += "\nspeed (median seconds per edit, timed now in alternating blocks on the same items):\n";
    let median = |k: &Slot| s.speed.timed.get(k).map_or("-".into(), |t| format!("{:.3} s over {}", t.median, t.n));
    out += &format!("  {:<13} {}\n", Slot::Teacher.key(), median(&Slot::Teacher));
    for (k, v) in &s.speed.students {
        let speedup = v.speedup.map_or("-".into(), |x| format!("{x:.1}"));
        out += &format!("  {:<13} {}: {speedup}x faster (target >= {}x): {}\n", k.key(), median(k), s.speed.min_speedup, if v.pass { "PASS" } else { "FAIL" });
    }
    out += "\nparity (eval/parity.toml; overall lines here, per edit type in report.html):\n";
    for p in &s.parity {
        let overall = ParityReport { lines: p.report.lines.iter().filter(|l| !EditType::ALL.iter().any(|t| t.name() == l.scope)).cloned().collect(), ..p.report.clone() };
        let fails = p.report.lines.iter().filter(|l| !l.pass).count();
        out += &format!("\n{} vs {}, scored by the {}: {}\n", p.teacher.key(), p.student.key(), p.scorer, if p.passed { "PASS".into() } else { format!("FAIL ({fails} of {} lines, per type included)", p.report.lines.len()) });
        out += &overall.table();
    }
    let g = &s.guidance;
    out += &format!("\nreward guidance ({}, {}): on = rewards 5,5,5 (reward guidance scale {}), off = the null reward\n", g.model.key(), g.scorer, g.reward_cfg);
    let arm = |name: &str, r: &ScoredRun| {
        let mut row = vec![name.to_string(), r.summary.n.to_string()];
        row.extend(compact(&r.summary));
        row
    };
    out += &table::render(&["arm", "n", "following", "preservation", "quality"], &[arm("on", &g.on), arm("off", &g.off)]);
    let w = &s.sweeps;
    out += &format!("\nslider sweeps ({}, {}, items per level: {}, other axes at {}): mean score of the swept axis by requested level\n", w.model.key(), w.scorer, w.items, w.others);
    let rows: Vec<Vec<String>> = w
        .axes
        .iter()
        .map(|(a, x)| {
            let mut row = vec![a.name().to_string()];
            row.extend(x.mean_by_level.iter().map(|m| m.map_or("-".into(), |v| format!("{v:.2}"))));
            row.push(x.spearman.map_or("undefined".into(), |v| format!("{v:.3}")));
            row
        })
        .collect();
    out += &table::render(&["axis", "1", "2", "3", "4", "5", "spearman"], &rows);
    let failed: Vec<String> = s.parity.iter().filter(|p| !p.passed).map(|p| format!("{} vs {} ({})", p.teacher.key(), p.student.key(), p.scorer)).collect();
    if !failed.is_empty() {
        out += &format!("\nPARITY FAILED for {}: reported above and in report.html (the demo's exit code does not depend on it)\n", failed.join(", "));
    }
    if s.mode == "quick" {
        out += "\n--quick: 2 sampling steps and few items; these numbers show the pipeline works, not how good the models are\n";
    }
    out
}
