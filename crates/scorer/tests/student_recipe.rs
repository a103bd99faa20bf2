//! The committed recipes parse, and the resolved recipe (`--dry-run`) reads back as the same recipe.

use std::path::PathBuf;

use rewardedit_scorer::student::{dry_run, DataSource, DistillRecipe};

fn recipe(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recipes").join(name)
}

#[test]
fn committed_recipes_resolve_and_round_trip() {
    let dir = recipe("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("world-scorer") && n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names.iter().map(String::as_str) {
        let r = DistillRecipe::load(&recipe(name)).unwrap();
        let resolved = dry_run(&recipe(name)).unwrap();
        let back: DistillRecipe = toml::from_str(&resolved).unwrap();
        assert_eq!(back, r, "{name}");
        let DataSource::World { world, .. } = &r.heldout else { panic!("{name}: world held-out set expected") };
        assert_eq!(world.phrasing, rewardedit_world::PhrasingSet::HeldOut, "{name}");
    }
    for name in names.iter().filter(|n| n.contains("noisy")) {
        let noisy = DistillRecipe::load(&recipe(name)).unwrap();
        let DataSource::World { world, .. } = &noisy.data else { panic!("{name}") };
        assert!(world.judge_noise.is_some(), "{name}: the noisy recipes' teacher is the noisy oracle");
    }
}

#[test]
fn a_word_dropout_outside_0_to_1_is_refused() {
    let mut r = DistillRecipe::load(&recipe("world-scorer.toml")).unwrap();
    r.train.word_dropout = 1.0;
    assert!(r.validate().unwrap_err().to_string().contains("word_dropout"));
    r.train.word_dropout = 0.2;
    r.validate().unwrap();
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

#[test]
fn a_repeated_manifest_enters_the_training_set_that_many_times() {
    let dir = tempfile::tempdir().unwrap();
    rewardedit_world::write_dataset(dir.path(), &rewardedit_world::WorldConfig { size: 16, ..Default::default() }, 4, 5, |_, _| {}).unwrap();
    let source = |repeat| DataSource::Manifest { path: dir.path().to_path_buf(), repeat };
    let once: Vec<String> = source(1).load(16, &mut |_, _| {}).unwrap().into_iter().map(|e| e.id).collect();
    let thrice: Vec<String> = source(3).load(16, &mut |_, _| {}).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(once.len(), 4);
    assert_eq!(thrice, [once.clone(), once.clone(), once].concat());

    // In a recipe: written back only when it is not 1 (older resolved recipes still match).
    let mut r = DistillRecipe::load(&recipe("world-scorer.toml")).unwrap();
    r.extra_data = vec![source(1), source(6)];
    let resolved = r.resolved_toml().unwrap();
    assert_eq!(resolved.matches("repeat = 6").count(), 1, "{resolved}");
    assert!(!resolved.contains("repeat = 1"), "{resolved}");
    assert_eq!(toml::from_str::<DistillRecipe>(&resolved).unwrap(), r);

    r.extra_data = vec![source(0)];
    assert!(r.validate().unwrap_err().to_string().contains("repeat must be at least 1"));
    r.extra_data.clear();
    r.heldout = source(2);
    assert!(r.validate().unwrap_err().to_string().contains("leave it out"));
}
