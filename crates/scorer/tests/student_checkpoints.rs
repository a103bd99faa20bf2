//! The committed students (checkpoints/student-scorer*) load at the current config version, and
//! re-scoring their held-out split reproduces the agreement figures committed beside them.

use std::path::PathBuf;

use rewardedit_core::Axis;
use rewardedit_scorer::student::distill::{evaluate, AGREEMENT_FILE, RECIPE_FILE};
use rewardedit_scorer::student::{AgreementReport, DistillRecipe};

#[test]
fn committed_students_reproduce_their_held_out_agreement() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints");
    for name in ["student-scorer", "student-scorer-noisy"] {
        let dir = root.join(name);
        let recipe = DistillRecipe::load(&dir.join(RECIPE_FILE)).unwrap();
        let committed: AgreementReport =
            serde_json::from_str(&std::fs::read_to_string(dir.join(AGREEMENT_FILE)).unwrap()).unwrap();
        let heldout = recipe.heldout.load(recipe.model.resolution, &mut |_, _| {}).unwrap();
        let now = evaluate(&dir, &heldout, 128, committed.params).unwrap();
        assert_eq!(now.n, committed.n, "{name}");
        for (a, b) in [(&now.fp32_vs_exact, &committed.fp32_vs_exact), (&now.int8_vs_exact, &committed.int8_vs_exact)] {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            for axis in Axis::ALL {
                let (x, y) = (a.axis(axis).spearman.unwrap(), b.axis(axis).spearman.unwrap());
                assert!((x - y).abs() < 1e-6, "{name} {axis:?}: Spearman {x} now, {y} committed");
            }
        }
        assert!(now.max_fp32_int8_score_gap.is_finite());
    }
}
