//! `RUN/summary.json`: per axis the yes-rate and mean score with bootstrap confidence intervals
//! (paper-notes.md, "Real-Edit": the paper reports yes-rate and mean per axis), overall and by
//! edit type, and how many items there were and how many failed. Point estimates come from
//! core's [`RewardSummary`]; the intervals resample items with [`Bootstrap`].
//!
//! A failed item (edit or score) is counted in `n` and in `failed`, never silently dropped;
//! the axis statistics are over the `n - failed` scored items.

use std::collections::BTreeMap;

use rewardedit_core::{Axis, EditType, GroupStats, Reward, RewardSummary};
use serde::{Deserialize, Serialize};

use crate::record::ItemRecord;
use crate::stats::{mean_at, Bootstrap};

/// One axis over a group of scored items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AxisSummary {
    /// Fraction of "yes" verdicts, in [0, 1].
    pub yes_rate: f64,
    /// Mean score, in [0, 5].
    pub mean: f64,
    /// Bootstrap interval of the yes-rate.
    pub yes_rate_ci: [f64; 2],
    /// Bootstrap interval of the mean score.
    pub mean_ci: [f64; 2],
}

/// One edit type's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeSummary {
    /// Per axis; empty when no item of the type was scored.
    pub axes: BTreeMap<Axis, AxisSummary>,
    /// Items of this type, failed ones included.
    pub n: usize,
    /// Items of this type that failed (edit or score).
    pub failed: usize,
}

/// Mean of a ground-truth metric with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    pub mean: f64,
    pub ci: [f64; 2],
}

/// Ground-truth metrics against the exact target (the world benchmark), over the items that
/// have them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruthSummary {
    pub n: usize,
    pub l1: MetricSummary,
    pub l2: MetricSummary,
    /// In dB.
    pub psnr: MetricSummary,
}

/// The whole `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Per axis over every scored item; empty when nothing was scored.
    pub axes: BTreeMap<Axis, AxisSummary>,
    /// Per edit type present in the run.
    pub by_type: BTreeMap<EditType, TypeSummary>,
    /// Items in the run, failed ones included.
    pub n: usize,
    /// Items that failed.
    pub failed: usize,
    /// World runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<GroundTruthSummary>,
    /// How the intervals were drawn.
    pub bootstrap: Bootstrap,
}

impl RunSummary {
    /// Summarises `records` (one per item).
    pub fn of(records: &[ItemRecord], bootstrap: &Bootstrap) -> Self {
        let scored = |rs: &[&ItemRecord]| rs.iter().filter_map(|r| r.rewards.as_ref().filter(|_| r.is_ok())).cloned().collect::<Vec<_>>();
        let all: Vec<&ItemRecord> = records.iter().collect();
        let mut by_type = BTreeMap::new();
        for t in EditType::ALL {
            let of_type: Vec<&ItemRecord> = records.iter().filter(|r| r.edit_type == t).collect();
            if of_type.is_empty() {
                continue;
            }
            by_type.insert(
                t,
                TypeSummary {
                    axes: axes_summary(&scored(&of_type), bootstrap, t.name()),
                    n: of_type.len(),
                    failed: of_type.iter().filter(|r| !r.is_ok()).count(),
                },
            );
        }
        RunSummary {
            axes: axes_summary(&scored(&all), bootstrap, "all"),
            by_type,
            n: records.len(),
            failed: records.iter().filter(|r| !r.is_ok()).count(),
            ground_truth: ground_truth_summary(records, bootstrap),
            bootstrap: *bootstrap,
        }
    }
}

/// The three axes' stats (core's [`RewardSummary`]) over `rewards`.
pub fn stats_of<'a>(rewards: impl IntoIterator<Item = &'a Reward>) -> Option<GroupStats> {
    rewards.into_iter().map(|r| ((), r)).collect::<RewardSummary<()>>().overall()
}

/// `[yes_rate, mean]` per axis, flattened: `[f.yes, f.mean, p.yes, p.mean, q.yes, q.mean]`.
pub fn flat(s: &GroupStats) -> [f64; 6] {
    let [f, p, q] = Axis::ALL.map(|a| *s.axis(a));
    [f.yes_rate, f.mean, p.yes_rate, p.mean, q.yes_rate, q.mean]
}

fn axes_summary(rewards: &[Reward], bootstrap: &Bootstrap, tag: &str) -> BTreeMap<Axis, AxisSummary> {
    let Some(point) = stats_of(rewards) else { return BTreeMap::new() };
    let ci = bootstrap.intervals(rewards.len(), tag, |idx| {
        flat(&stats_of(idx.iter().map(|&i| &rewards[i])).expect("a resample is never empty"))
    });
    Axis::ALL
        .into_iter()
        .map(|a| {
            let s = point.axis(a);
            let k = 2 * a.index();
            (a, AxisSummary { yes_rate: s.yes_rate, mean: s.mean, yes_rate_ci: ci[k], mean_ci: ci[k + 1] })
        })
        .collect()
}

fn ground_truth_summary(records: &[ItemRecord], bootstrap: &Bootstrap) -> Option<GroundTruthSummary> {
    let gt: Vec<_> = records.iter().filter_map(|r| r.ground_truth).collect();
    if gt.is_empty() {
        return None;
    }
    let cols = [gt.iter().map(|g| g.l1).collect::<Vec<_>>(), gt.iter().map(|g| g.l2).collect(), gt.iter().map(|g| g.psnr).collect()];
    let all: Vec<usize> = (0..gt.len()).collect();
    let ci = bootstrap.intervals(gt.len(), "ground-truth", |idx| cols.each_ref().map(|c| mean_at(c, idx)));
    let m = |k: usize| MetricSummary { mean: mean_at(&cols[k], &all), ci: ci[k] };
    Some(GroundTruthSummary { n: gt.len(), l1: m(0), l2: m(1), psnr: m(2) })
}
