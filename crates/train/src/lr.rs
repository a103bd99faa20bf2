//! Learning-rate schedules: linear warm-up, then cosine decay or constant.

use serde::{Deserialize, Serialize};

/// What follows the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// Half a cosine from the peak down to `min_lr_fraction` of it at the last step.
    Cosine,
    /// The peak until the end (the paper's stage 2: 5e-5 constant).
    Constant,
}

impl LrSchedule {
    /// Learning rate at 0-based `step` of `steps`, peaking at `lr` after `warmup` linear steps.
    pub fn lr_at(self, step: u64, lr: f64, warmup: u64, steps: u64, min_fraction: f64) -> f64 {
        if step < warmup {
            return lr * (step + 1) as f64 / warmup as f64;
        }
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let span = steps.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                let min = lr * min_fraction;
                min + (lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays() {
        let s = LrSchedule::Cosine;
        assert!((s.lr_at(0, 1.0, 10, 110, 0.1) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(9, 1.0, 10, 110, 0.1) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(10, 1.0, 10, 110, 0.1) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(110, 1.0, 10, 110, 0.1) - 0.1).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.lr_at(50, 0.5, 10, 110, 0.1), 0.5);
    }
}
