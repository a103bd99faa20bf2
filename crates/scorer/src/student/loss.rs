//! The distillation loss: score regression + a pairwise ranking loss within the batch + verdict
//! cross-entropy. Spearman is the target figure, so ordering is trained for directly, not only
//! through the squared error.

use burn::prelude::*;
use burn::tensor::activation::softplus;
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
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig { ranking_weight: 0.5, verdict_weight: 0.5, ranking_margin: 0.1 }
    }
}

/// The loss and its parts (the parts detached, for logging).
pub struct Loss {
    pub total: Tensor<1>,
    pub regression: f32,
    pub ranking: f32,
    pub verdict: f32,
}

/// `teacher_scores` `[batch, 3]` in [0, 5]; `teacher_verdicts` `[batch, 3]` in {0, 1}.
pub fn distill_loss(out: &StudentOutput, teacher_scores: Tensor<2>, teacher_verdicts: Tensor<2>, cfg: &LossConfig) -> Loss {
    // Squared error in score points.
    let regression = (out.scores.clone() - teacher_scores.clone()).powi_scalar(2).mean();

    // Logistic pairwise loss over pairs (i, j) the teacher orders i above j by more than the margin.
    let [b, a] = out.scores.dims();
    let pred_gap = out.scores.clone().reshape([b, 1, a]) - out.scores.clone().reshape([1, b, a]);
    let teacher_gap = teacher_scores.clone().reshape([b, 1, a]) - teacher_scores.reshape([1, b, a]);
    let pairs = teacher_gap.greater_elem(cfg.ranking_margin).float();
    let n_pairs = pairs.clone().sum().clamp_min(1.0);
    let ranking = (softplus(pred_gap.neg(), 1.0) * pairs).sum().div(n_pairs);

    // BCE with logits: softplus(z) - y z.
    let z = out.verdict_logits.clone();
    let verdict = (softplus(z.clone(), 1.0) - z * teacher_verdicts).mean();

    let parts = [&regression, &ranking, &verdict].map(|t| t.clone().into_scalar::<f32>());
    let total = regression + ranking * cfg.ranking_weight + verdict * cfg.verdict_weight;
    Loss { total, regression: parts[0], ranking: parts[1], verdict: parts[2] }
}
