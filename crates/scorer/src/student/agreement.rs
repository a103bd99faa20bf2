//! Agreement of a scorer with its teacher, per axis: Spearman and Pearson correlation, mean
//! absolute error, verdict agreement and pairwise ranking accuracy. Pure functions.

use std::fmt::Write;

use rewardedit_core::{Axis, Reward};
use serde::{Deserialize, Serialize};

/// Agreement on one axis over `n` edits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AxisAgreement {
    pub n: usize,
    /// Spearman rank correlation (ties take average ranks); `None` when either side is constant.
    pub spearman: Option<f64>,
    /// Pearson correlation of the scores; `None` when either side is constant.
    pub pearson: Option<f64>,
    /// Mean absolute score difference, in score points.
    pub mae: f64,
    /// Fraction of edits whose yes/no verdicts agree.
    pub verdict_agreement: f64,
    /// Over pairs the teacher scores differently, the fraction the student orders the same way
    /// (a student tie counts half); `None` when the teacher scores every edit alike.
    pub pairwise_accuracy: Option<f64>,
}

/// Agreement on the three axes, `[following, preservation, quality]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub following: AxisAgreement,
    pub preservation: AxisAgreement,
    pub quality: AxisAgreement,
}

impl Agreement {
    pub fn axis(&self, axis: Axis) -> &AxisAgreement {
        match axis {
            Axis::Following => &self.following,
            Axis::Preservation => &self.preservation,
            Axis::Quality => &self.quality,
        }
    }

    /// The smallest Spearman over the axes (`None` if any is undefined).
    pub fn min_spearman(&self) -> Option<f64> {
        Axis::ALL.iter().map(|&a| self.axis(a).spearman).try_fold(f64::INFINITY, |m, s| s.map(|s| m.min(s)))
    }
}

/// Agreement of `student` with `teacher`, edit by edit (the slices are paired by position and
/// must have the same length).
pub fn agreement(student: &[Reward], teacher: &[Reward]) -> Agreement {
    assert_eq!(student.len(), teacher.len(), "student and teacher rewards must be paired");
    let axis = |a: Axis| {
        let s: Vec<f64> = student.iter().map(|r| f64::from(r.axis(a).score())).collect();
        let t: Vec<f64> = teacher.iter().map(|r| f64::from(r.axis(a).score())).collect();
        let agree = student.iter().zip(teacher).filter(|(x, y)| x.axis(a).verdict() == y.axis(a).verdict()).count();
        AxisAgreement {
            n: s.len(),
            spearman: spearman(&s, &t),
            pearson: pearson(&s, &t),
            mae: mean_abs_diff(&s, &t),
            verdict_agreement: if s.is_empty() { 0.0 } else { agree as f64 / s.len() as f64 },
            pairwise_accuracy: pairwise_accuracy(&s, &t),
        }
    };
    Agreement { following: axis(Axis::Following), preservation: axis(Axis::Preservation), quality: axis(Axis::Quality) }
}

/// 1-based ranks, ties sharing the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; `None` for fewer than two points or a constant side.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n as f64, y.iter().sum::<f64>() / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Spearman correlation: Pearson of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

fn mean_abs_diff(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum::<f64>() / x.len() as f64
}

/// Fraction of teacher-ordered pairs the student orders alike (student ties count half).
pub fn pairwise_accuracy(student: &[f64], teacher: &[f64]) -> Option<f64> {
    let (mut total, mut right) = (0u64, 0.0f64);
    for i in 0..teacher.len() {
        for j in i + 1..teacher.len() {
            let t = teacher[i] - teacher[j];
            if t == 0.0 {
                continue;
            }
            total += 1;
            let s = student[i] - student[j];
            right += if s == 0.0 { 0.5 } else if (s > 0.0) == (t > 0.0) { 1.0 } else { 0.0 };
        }
    }
    (total > 0).then(|| right / total as f64)
}

/// A fixed-width table: one row per (label, agreement), per axis Spearman / Pearson / MAE /
/// verdict agreement / pairwise accuracy.
pub fn agreement_table(rows: &[(&str, &Agreement)]) -> String {
    let fmt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
    let mut out = String::new();
    let _ = writeln!(out, "{:<22}{:<14}{:>9}{:>9}{:>7}{:>9}{:>9}", "scorer", "axis", "spearman", "pearson", "mae", "verdict", "pairwise");
    for (label, a) in rows {
        for axis in Axis::ALL {
            let x = a.axis(axis);
            let _ = writeln!(
                out,
                "{label:<22}{:<14}{:>9}{:>9}{:>7.3}{:>9.3}{:>9}",
                axis.name(),
                fmt(x.spearman),
                fmt(x.pearson),
                x.mae,
                x.verdict_agreement,
                fmt(x.pairwise_accuracy)
            );
        }
    }
    out
}
