//! The per-axis table every report prints: one row per group, mean score and yes-rate per axis.

use std::fmt::Write;

use rewardedit_core::{Axis, GroupStats};

/// Renders `rows` (label, stats) under a header naming the axes.
pub fn axis_table<'a>(label: &str, rows: impl IntoIterator<Item = (String, &'a GroupStats)>) -> String {
    let mut out = String::new();
    let _ = write!(out, "{label:<14}{:>6}", "n");
    for axis in Axis::ALL {
        let _ = write!(out, "  {:>18}", format!("{} mean/yes%", axis.name()));
    }
    out.push('\n');
    for (name, s) in rows {
        let _ = write!(out, "{name:<14}{:>6}", s.n);
        for axis in Axis::ALL {
            let a = s.axis(axis);
            let _ = write!(out, "  {:>18}", format!("{:.2} / {:5.1}", a.mean, a.yes_rate * 100.0));
        }
        out.push('\n');
    }
    out
}
