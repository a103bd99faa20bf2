//! The distillation loss: score regression + a pairwise ranking loss within the batch + verdict
//! cross-entropy + "perfect" cross-entropy (the hurdle of the score head, see
//! [`network`](super::network)). Spearman is the target figure, so ordering is trained for
//! directly, not only through the squared error, and so is the tie at 5.00 that dominates it.

use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use rewardedit_core::MAX_SCORE;
use serde::{Deserialize, Serialize};

use super::network::StudentOutput;

/// Weights and margin of the loss terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Weight of the pairwise ranking term (the regression term has weight 1).
    pub ranking_weight: f32,
    /// Weight of the verdict binary cross-entropy.
    pub verdict_weight: f32,
    /// Teacher score gap, in score points, above which a pair counts for ranking (smaller gaps
    /// are label noise at the two-decimal rounding of the oracle).
    pub ranking_margin: f32,
    /// Weight of the "perfect" binary cross-entropy (teacher score 5.00 or not).
    pub perfect_weight: f32,
    /// A teacher score at or above `5 - perfect_tolerance` counts as perfect (score points);
    /// 0 for the exact oracle, whose clean edits score exactly 5.00. A noisy teacher scatters
    /// clean edits below 5, and a tolerance keeps them perfect.
    pub perfect_tolerance: f32,
    /// Weight of the mask head's cross-entropy against the data's edit region (networks with
    /// `mask_head`; examples without a mask do not count).
    pub mask_weight: f32,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig { ranking_weight: 0.5, verdict_weight: 0.5, ranking_margin: 0.1, perfect_weight: 1.0, perfect_tolerance: 0.0, mask_weight: 1.0 }
    }
}

/// The loss and its parts (the parts detached, for logging).
pub struct Loss {
    pub total: Tensor<1>,
    pub regression: f32,
    pub ranking: f32,
    pub verdict: f32,
    pub perfect: f32,
    /// The mask head's cross-entropy (0 without a mask head or masks).
    pub mask: f32,
}

/// `teacher_scores` `[batch, 3]` in [0, 5]; `teacher_verdicts` `[batch, 3]` in {0, 1};
/// `masks`: the mask head's targets and per-example weights (`batch::mask_targets`).
pub fn distill_loss(out: &StudentOutput, teacher_scores: Tensor<2>, teacher_verdicts: Tensor<2>, masks: Option<(Tensor<2>, Tensor<1>)>, cfg: &LossConfig) -> Loss {
    // Squared error in score points, on the unclamped scores; at a teacher score of exactly 5
    // (or 0) overshooting past it is no error, since the clamp brings it back.
    let err = out.raw_scores.clone() - teacher_scores.clone();
    let top = teacher_scores.clone().greater_equal_elem(MAX_SCORE).float();
    let bottom = teacher_scores.clone().lower_equal_elem(0.0).float();
    let err = err.clone() - relu(err.clone()) * top + relu(err.neg()) * bottom;
    let regression = err.powi_scalar(2).mean();

    // Logistic pairwise loss over pairs (i, j) the teacher orders i above j by more than the margin.
    let scores = out.raw_scores.clone();
    let [b, a] = scores.dims();
    let pred_gap = scores.clone().reshape([b, 1, a]) - scores.reshape([1, b, a]);
    let teacher_gap = teacher_scores.clone().reshape([b, 1, a]) - teacher_scores.clone().reshape([1, b, a]);
    let pairs = teacher_gap.greater_elem(cfg.ranking_margin).float();
    let n_pairs = pairs.clone().sum().clamp_min(1.0);
    let ranking = (softplus(pred_gap.neg(), 1.0) * pairs).sum().div(n_pairs);

    // BCE with logits: softplus(z) - y z.
    let bce = |z: Tensor<2>, y: Tensor<2>| (softplus(z.clone(), 1.0) - z * y).mean();
    let verdict = bce(out.verdict_logits.clone(), teacher_verdicts);
    let perfect = bce(out.perfect_logits.clone(), teacher_scores.greater_equal_elem(MAX_SCORE - cfg.perfect_tolerance).float());

    let parts = [&regression, &ranking, &verdict, &perfect].map(|t| t.clone().into_scalar::<f32>());
    let mut total = regression + ranking * cfg.ranking_weight + verdict * cfg.verdict_weight + perfect * cfg.perfect_weight;
    let mut mask = 0.0;
    if let (Some(z), Some((target, weight))) = (&out.mask_logits, masks) {
        // Soft-target BCE per example, averaged over the examples that have a mask.
        let [b, _] = z.dims();
        let per_example = (softplus(z.clone(), 1.0) - z.clone() * target).mean_dim(1).reshape([b]);
        let term = (per_example * weight.clone()).sum() / weight.sum().clamp_min(1.0);
        mask = term.clone().into_scalar::<f32>();
        total = total + term * cfg.mask_weight;
    }
    Loss { total, regression: parts[0], ranking: parts[1], verdict: parts[2], perfect: parts[3], mask }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    fn t(v: [f32; 6]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [2, 3]), &Device::flex())
    }

    #[test]
    fn overshooting_a_teacher_5_or_0_costs_nothing_but_undershooting_does() {
        let out = |raw: [f32; 6]| StudentOutput { scores: t(raw).clamp(0.0, 5.0), raw_scores: t(raw), verdict_logits: t([0.0; 6]), perfect_logits: t([0.0; 6]), mask_logits: None };
        let teacher = t([5.0, 0.0, 3.0, 5.0, 0.0, 3.0]);
        let cfg = LossConfig::default();
        let ok = distill_loss(&out([5.2, -0.2, 3.0, 5.1, -0.1, 3.0]), teacher.clone(), t([1.0; 6]), None, &cfg);
        assert_eq!(ok.regression, 0.0);
        let bad = distill_loss(&out([4.0, 1.0, 3.0, 5.0, 0.0, 3.0]), teacher, t([1.0; 6]), None, &cfg);
        assert!((bad.regression - 2.0 / 6.0).abs() < 1e-6, "{}", bad.regression);
    }

    #[test]
    fn the_perfect_term_is_the_cross_entropy_of_teacher_score_5() {
        let teacher = t([5.0, 0.0, 3.0, 5.0, 4.8, 5.0]);
        let out = |z: [f32; 6]| StudentOutput { scores: t([0.0; 6]), raw_scores: t([2.5; 6]), verdict_logits: t([0.0; 6]), perfect_logits: t(z), mask_logits: None };
        let cfg = LossConfig::default();
        // Confident and right: near 0; at logit 0: ln 2.
        let right = distill_loss(&out([20.0, -20.0, -20.0, 20.0, -20.0, 20.0]), teacher.clone(), t([1.0; 6]), None, &cfg);
        assert!(right.perfect < 1e-6, "{}", right.perfect);
        let unsure = distill_loss(&out([0.0; 6]), teacher.clone(), t([1.0; 6]), None, &cfg);
        assert!((unsure.perfect - std::f32::consts::LN_2).abs() < 1e-5, "{}", unsure.perfect);
        // A tolerance of 0.25 makes the 4.8 perfect too: the logit -20 there is now wrong.
        let tolerant = distill_loss(&out([20.0, -20.0, -20.0, 20.0, -20.0, 20.0]), teacher, t([1.0; 6]), None, &LossConfig { perfect_tolerance: 0.25, ..cfg });
        assert!((tolerant.perfect - 20.0 / 6.0).abs() < 1e-3, "{}", tolerant.perfect);
    }
}
