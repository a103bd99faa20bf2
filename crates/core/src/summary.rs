//! Per-axis aggregates of many rewards (paper-notes.md, "Real-Edit": yes-rate and mean score),
//! overall and by edit type.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Axis, EditType, Reward};

/// Yes-rate and mean score of one axis over `n` rewards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AxisStats {
    /// Fraction of "yes" verdicts, in [0, 1].
    pub yes_rate: f64,
    /// Mean score, in [0, 5].
    pub mean: f64,
}

/// The three axes' stats over one group of rewards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub n: usize,
    pub following: AxisStats,
    pub preservation: AxisStats,
    pub quality: AxisStats,
}

impl GroupStats {
    pub fn axis(&self, axis: Axis) -> &AxisStats {
        match axis {
            Axis::Following => &self.following,
            Axis::Preservation => &self.preservation,
            Axis::Quality => &self.quality,
        }
    }
}

/// Sums kept while rewards stream in, so a summary needs no second pass.
#[derive(Debug, Clone, Default)]
struct Accumulator {
    n: usize,
    yes: [usize; 3],
    score: [f64; 3],
}

impl Accumulator {
    fn add(&mut self, r: &Reward) {
        self.n += 1;
        for axis in Axis::ALL {
            let a = r.axis(axis);
            self.yes[axis.index()] += usize::from(a.verdict());
            self.score[axis.index()] += f64::from(a.score());
        }
    }

    /// `None` for an empty group: a mean of nothing is not a number to report.
    fn stats(&self) -> Option<GroupStats> {
        (self.n > 0).then(|| {
            let n = self.n as f64;
            let at = |axis: Axis| AxisStats {
                yes_rate: self.yes[axis.index()] as f64 / n,
                mean: self.score[axis.index()] / n,
            };
            GroupStats {
                n: self.n,
                following: at(Axis::Following),
                preservation: at(Axis::Preservation),
                quality: at(Axis::Quality),
            }
        })
    }
}

/// Rewards summarised overall and per group (by default, per edit type).
#[derive(Debug, Clone)]
pub struct RewardSummary<K = EditType> {
    all: Accumulator,
    groups: BTreeMap<K, Accumulator>,
}

impl<K> Default for RewardSummary<K> {
    fn default() -> Self {
        RewardSummary { all: Accumulator::default(), groups: BTreeMap::new() }
    }
}

impl<K: Ord + Clone> RewardSummary<K> {
    pub fn add(&mut self, group: K, reward: &Reward) {
        self.all.add(reward);
        self.groups.entry(group).or_default().add(reward);
    }

    /// Stats over every reward added, `None` when nothing was added.
    pub fn overall(&self) -> Option<GroupStats> {
        self.all.stats()
    }

    /// Stats per group, in the key's order (Real-Edit's order for edit types); groups with no
    /// rewards are absent.
    pub fn by_group(&self) -> BTreeMap<K, GroupStats> {
        self.groups.iter().filter_map(|(k, a)| a.stats().map(|s| (k.clone(), s))).collect()
    }
}

impl<'a, K: Ord + Clone> FromIterator<(K, &'a Reward)> for RewardSummary<K> {
    fn from_iter<I: IntoIterator<Item = (K, &'a Reward)>>(iter: I) -> Self {
        let mut s = RewardSummary::default();
        for (k, r) in iter {
            s.add(k, r);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AxisScore;

    fn reward(f: f32, fy: bool) -> Reward {
        Reward::new(
            AxisScore::new(f, fy, "x").unwrap(),
            AxisScore::clean(Axis::Preservation),
            AxisScore::new(4.0, true, "y").unwrap(),
        )
    }

    #[test]
    fn means_and_yes_rates_by_type() {
        let (a, b, c) = (reward(1.0, false), reward(4.0, true), reward(5.0, true));
        let s: RewardSummary =
            [(EditType::Local, &a), (EditType::Local, &b), (EditType::Style, &c)].into_iter().collect();
        let all = s.overall().unwrap();
        assert_eq!(all.n, 3);
        assert!((all.following.mean - 10.0 / 3.0).abs() < 1e-12);
        assert!((all.following.yes_rate - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(all.preservation.mean, 5.0);
        let by = s.by_group();
        assert_eq!(by.keys().copied().collect::<Vec<_>>(), [EditType::Local, EditType::Style]);
        assert_eq!(by[&EditType::Local].following.mean, 2.5);
        assert_eq!(by[&EditType::Local].following.yes_rate, 0.5);
        assert_eq!(by[&EditType::Style].quality.mean, 4.0);
    }

    #[test]
    fn empty_summary_has_no_stats() {
        assert!(RewardSummary::<EditType>::default().overall().is_none());
    }
}
