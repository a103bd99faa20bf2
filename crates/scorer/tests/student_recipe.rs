//! The committed recipes parse, and the resolved recipe (`--dry-run`) reads back as the same recipe.

use std::path::PathBuf;

use rewardedit_scorer::student::{dry_run, DataSource, DistillRecipe};

fn recipe(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recipes").join(name)
}

#[test]
fn committed_recipes_resolve_and_round_trip() {
    for name in ["world-scorer.toml", "world-scorer-noisy.toml"] {
        let r = DistillRecipe::load(&recipe(name)).unwrap();
        let resolved = dry_run(&recipe(name)).unwrap();
        let back: DistillRecipe = toml::from_str(&resolved).unwrap();
        assert_eq!(back, r, "{name}");
        let DataSource::World { world, .. } = &r.heldout else { panic!("{name}: world held-out set expected") };
        assert_eq!(world.phrasing, rewardedit_world::PhrasingSet::HeldOut, "{name}");
    }
    let noisy = DistillRecipe::load(&recipe("world-scorer-noisy.toml")).unwrap();
    let DataSource::World { world, .. } = &noisy.data else { panic!() };
    assert!(world.judge_noise.is_some(), "the noisy recipe's teacher is the noisy oracle");
}

#[test]
fn a_held_out_set_equal_to_the_training_set_is_refused() {
    let mut r = DistillRecipe::load(&recipe("world-scorer.toml")).unwrap();
    r.heldout = r.data.clone();
    assert!(r.validate().unwrap_err().to_string().contains("held out"));
    // Also when the overlap hides in the extra training data.
    let mut r = DistillRecipe::load(&recipe("world-scorer.toml")).unwrap();
    r.extra_data.push(r.heldout.clone());
    assert!(r.validate().unwrap_err().to_string().contains("held out"));
}
