//! Slider sweeps (beyond the paper): one axis's requested reward from 1 to 5, the others at 5;
//! does the measured score on that axis follow the request? Spearman's rank correlation between
//! the requested level and the oracle's score on that axis, over every (item, level) pair.

use rewardedit_core::Axis;
use rewardedit_eval::ItemRecord;
use rewardedit_scorer::student::agreement::spearman;
use serde::Serialize;

/// One axis's sweep.
#[derive(Debug, Clone, Serialize)]
pub struct AxisSweep {
    /// Requested levels, ascending.
    pub levels: Vec<u8>,
    /// Mean measured score (0-5) on the swept axis at each level; `None` where no item scored.
    pub mean_by_level: Vec<Option<f64>>,
    /// Spearman correlation (-1..1) of requested level vs measured score; `None` when either
    /// side is constant (e.g. every edit scored the same), where it is undefined.
    pub spearman: Option<f64>,
    /// (item, level) pairs with a score.
    pub pairs: usize,
    /// Items that failed (edit or score), over all levels.
    pub failed: usize,
}

/// The sweep of `axis` from each level's records (the same items at every level).
pub fn axis_sweep(axis: Axis, by_level: &[(u8, Vec<ItemRecord>)]) -> AxisSweep {
    let (mut requested, mut measured) = (Vec::new(), Vec::new());
    let mut failed = 0;
    let mut mean_by_level = Vec::new();
    for (level, records) in by_level {
        let scores: Vec<f64> = records.iter().filter(|r| r.is_ok()).filter_map(|r| r.rewards.as_ref()).map(|w| f64::from(w.axis(axis).score())).collect();
        failed += records.len() - scores.len();
        mean_by_level.push((!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64));
        requested.extend(std::iter::repeat_n(f64::from(*level), scores.len()));
        measured.extend(scores);
    }
    AxisSweep {
        levels: by_level.iter().map(|(l, _)| *l).collect(),
        mean_by_level,
        spearman: spearman(&requested, &measured),
        pairs: measured.len(),
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewardedit_core::{AxisScore, EditType, Reward};

    fn record(following: f32) -> ItemRecord {
        let a = |s: f32| AxisScore::new(s, s >= 4.0, "x").unwrap();
        ItemRecord {
            id: "i".into(),
            edit_type: EditType::Local,
            instruction: "make it red".into(),
            source: "s.png".into(),
            edited: None,
            edit_seconds: None,
            score_seconds: None,
            rewards: Some(Reward::new(a(following), a(5.0), a(5.0))),
            ground_truth: None,
            failure: None,
            provenance: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_score_that_follows_the_request_correlates_and_a_constant_one_is_undefined() {
        let rising: Vec<(u8, Vec<ItemRecord>)> = (1..=5).map(|l| (l, vec![record(f32::from(l) - 0.5), record(f32::from(l))])).collect();
        let s = axis_sweep(Axis::Following, &rising);
        assert_eq!((s.pairs, s.failed), (10, 0));
        assert!(s.spearman.unwrap() > 0.9, "{s:?}");
        assert_eq!(s.mean_by_level[0], Some(0.75));
        let flat: Vec<(u8, Vec<ItemRecord>)> = (1..=5).map(|l| (l, vec![record(3.0)])).collect();
        assert_eq!(axis_sweep(Axis::Following, &flat).spearman, None);
    }
}
