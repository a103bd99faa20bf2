//! Scenes, instructions, targets and masks, sampling, data folders and the noisy judge.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rewardedit_core::manifest::{read_manifest, MANIFEST_FILE};
use rewardedit_core::{Axis, EditType, Reward};
use rewardedit_world::instruction::{templates, TemplateKind};
use rewardedit_world::scene::Referent;
use rewardedit_world::{sample_case, sample_triplet, show, write_dataset, EditOp, JudgeNoise, PhrasingSet, WorldConfig};

#[test]
fn targets_differ_from_sources_only_inside_masks() {
    for size in [32, 64, 128] {
        let cfg = WorldConfig { size, ..WorldConfig::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(size as u64);
        for t in EditType::ALL {
            for _ in 0..25 {
                let c = sample_case(&cfg, t, &mut rng).unwrap();
                let mask = c.mask();
                let mut changed = 0;
                for ((s, g), m) in c.source.pixels().zip(c.target.pixels()).zip(mask.pixels()) {
                    if s != g {
                        changed += 1;
                        assert_eq!(m.0[0], 255, "{t} at {size}px: a pixel outside the mask changed ({})", c.instruction.text);
                    }
                }
                assert!(changed > 0, "{t}: the edit changed nothing");
                if t.is_whole_image() {
                    assert!(mask.pixels().all(|m| m.0[0] == 255), "{t}: whole-image mask must be everything");
                }
            }
        }
    }
}

#[test]
fn referring_expressions_match_exactly_one_object() {
    let cfg = WorldConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for t in [EditType::Local, EditType::Remove, EditType::Texture] {
        for _ in 0..200 {
            let c = sample_case(&cfg, t, &mut rng).unwrap();
            let i = c.instruction.op.object().unwrap();
            let r = Referent::shortest(&c.scene, i);
            let matching: Vec<usize> = (0..c.scene.objects.len()).filter(|&j| r.matches(&c.scene.objects[j])).collect();
            assert_eq!(matching, vec![i], "{:?} in {:?}", r, c.scene.objects);
            assert!(c.instruction.text.to_lowercase().contains(&r.phrase()), "{} lacks {}", c.instruction.text, r.phrase());
        }
    }
}

#[test]
fn held_out_phrasings_never_appear_in_training() {
    for k in TemplateKind::ALL {
        let train: HashSet<_> = templates(k, PhrasingSet::Train).iter().collect();
        assert!(train.len() >= 5);
        assert!(templates(k, PhrasingSet::HeldOut).len() >= 3);
        assert!(templates(k, PhrasingSet::HeldOut).iter().all(|h| !train.contains(h)), "{k:?}");
    }
    // And the sampler uses the set it is told to.
    let held = WorldConfig { phrasing: PhrasingSet::HeldOut, ..WorldConfig::default() };
    for i in 0..21 {
        let t = sample_triplet(&held, 1, i).unwrap();
        assert_eq!(t.instruction.phrasing, PhrasingSet::HeldOut);
        let ts = templates(TemplateKind::of(&t.instruction.op), PhrasingSet::HeldOut);
        assert!(t.instruction.template < ts.len());
    }
}

#[test]
fn sampling_is_deterministic_per_seed_and_balanced() {
    let cfg = WorldConfig { size: 32, ..WorldConfig::default() };
    let run = |seed| (0..14).map(|i| sample_triplet(&cfg, seed, i).unwrap()).collect::<Vec<_>>();
    let (a, b, c) = (run(7), run(7), run(8));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.id, y.id);
        assert_eq!(x.scene, y.scene);
        assert_eq!(x.instruction, y.instruction);
        assert_eq!(x.edited, y.edited);
        assert_eq!(x.reward, y.reward);
        assert_eq!(x.flaws, y.flaws);
    }
    assert!(a.iter().zip(&c).any(|(x, y)| x.scene != y.scene), "different seeds gave the same data");
    let types: Vec<EditType> = a.iter().map(|t| t.instruction.edit_type).collect();
    assert_eq!(&types[..7], &EditType::ALL);
    // Index independence: triplet 5 alone equals triplet 5 of the run.
    assert_eq!(sample_triplet(&cfg, 7, 5).unwrap().edited, a[5].edited);
}

#[test]
fn clean_fraction_controls_the_mixture_and_clean_triplets_score_perfectly() {
    let all_clean = WorldConfig { size: 32, clean_fraction: 1.0, ..WorldConfig::default() };
    for i in 0..14 {
        let t = sample_triplet(&all_clean, 2, i).unwrap();
        assert!(t.flaws.is_empty());
        assert_eq!(t.edited, t.target);
        assert!(t.reward.scores().iter().all(|s| *s >= 4.9), "{:?}", t.reward);
    }
    let none_clean = WorldConfig { size: 32, clean_fraction: 0.0, ..WorldConfig::default() };
    let flawed = (0..28).filter(|&i| !sample_triplet(&none_clean, 2, i).unwrap().flaws.is_empty()).count();
    assert_eq!(flawed, 28);
    assert!(WorldConfig { clean_fraction: 1.5, ..WorldConfig::default() }.validate().is_err());
    assert!(WorldConfig { size: 8, ..WorldConfig::default() }.validate().is_err());
}

#[test]
fn write_dataset_is_readable_complete_and_byte_identical() {
    let cfg = WorldConfig { size: 32, ..WorldConfig::default() };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut calls = 0;
    write_dataset(d1.path(), &cfg, 9, 42, |done, n| {
        calls += 1;
        assert!(done <= n);
    })
    .unwrap();
    assert_eq!(calls, 9);
    write_dataset(d2.path(), &cfg, 9, 42, |_, _| {}).unwrap();
    let examples = read_manifest(d1.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(examples.len(), 9);
    for ex in &examples {
        for p in [Some(&ex.source), Some(&ex.edited), ex.target.as_ref(), ex.mask.as_ref()] {
            let p = p.expect("world examples carry target and mask");
            assert!(p.is_relative());
            let a = std::fs::read(d1.path().join(p)).unwrap();
            assert_eq!(a, std::fs::read(d2.path().join(p)).unwrap(), "{} differs between runs", p.display());
        }
        assert!(ex.rewards.is_some());
        assert_eq!(ex.provenance["generator"], "world");
        assert_eq!(ex.provenance["seed"], 42);
        assert!(ex.provenance["scene"].is_object() && ex.provenance["flaws"].is_array());
    }
    let m1 = std::fs::read(d1.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(m1, std::fs::read(d2.path().join(MANIFEST_FILE)).unwrap());
    let sheet = show(d1.path(), 4).unwrap();
    assert_eq!(sheet.height(), 2 + 4 * (32 + 2));
    assert_eq!(sheet.width(), 2 + 4 * (32 + 2));
}

#[test]
fn ops_that_do_not_fit_the_scene_are_errors() {
    let cfg = WorldConfig::default();
    let c = sample_case(&cfg, EditType::Add, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert!(EditOp::Remove { object: 99 }.apply(&c.scene).is_err());
    let taken = c.scene.objects[0];
    assert!(EditOp::Add { new: taken }.apply(&c.scene).is_err());
}

#[test]
fn judge_noise_has_the_configured_statistics() {
    let reward = Reward::new(
        rewardedit_core::AxisScore::new(2.5, false, "x").unwrap(),
        rewardedit_core::AxisScore::new(2.5, true, "y").unwrap(),
        rewardedit_core::AxisScore::new(2.5, true, "z").unwrap(),
    );
    let noise = JudgeNoise { score_sd: 0.3, flip_probability: 0.2, bias: [0.5, 0.0, -0.4] };
    let n = 4000;
    let samples: Vec<Reward> = (0..n).map(|s| noise.apply(&reward, s).unwrap()).collect();
    for a in Axis::ALL {
        let scores: Vec<f32> = samples.iter().map(|r| r.axis(a).score()).collect();
        let mean = scores.iter().sum::<f32>() / n as f32;
        let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
        assert!((mean - 2.5 - noise.bias[a.index()]).abs() < 0.03, "{a}: mean {mean}");
        assert!((sd - 0.3).abs() < 0.03, "{a}: sd {sd}");
        let flips = samples.iter().filter(|r| r.axis(a).verdict() != reward.axis(a).verdict()).count();
        let rate = flips as f32 / n as f32;
        assert!((rate - 0.2).abs() < 0.03, "{a}: flip rate {rate}");
        assert!(samples.iter().all(|r| r.axis(a).flaw() == reward.axis(a).flaw()));
    }
    assert_eq!(noise.apply(&reward, 11).unwrap(), noise.apply(&reward, 11).unwrap());
    // Clamped to [0, 5].
    let high = JudgeNoise { score_sd: 2.0, flip_probability: 0.0, bias: [3.0; 3] };
    assert!((0..200).all(|s| high.apply(&reward, s).unwrap().scores().iter().all(|x| (0.0..=5.0).contains(x))));
    assert!(JudgeNoise { flip_probability: 1.5, ..JudgeNoise::default() }.validate().is_err());
}

#[test]
fn write_dataset_resumes_after_a_kill_without_loss_or_duplicates() {
    let cfg = WorldConfig { size: 32, ..WorldConfig::default() };
    let (whole, killed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_dataset(whole.path(), &cfg, 12, 7, |_, _| {}).unwrap();
    write_dataset(killed.path(), &cfg, 12, 7, |_, _| {}).unwrap();
    // A kill after 5 triplets, in the middle of writing the 6th manifest line.
    let manifest = killed.path().join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let cut: usize = text.split_inclusive('\n').take(5).map(str::len).sum::<usize>() + 20;
    std::fs::write(&manifest, &text[..cut]).unwrap();
    let mut resumed_at = None;
    write_dataset(killed.path(), &cfg, 12, 7, |done, _| {
        resumed_at.get_or_insert(done);
    })
    .unwrap();
    assert_eq!(resumed_at, Some(5), "the run continues after the last complete line");
    assert_eq!(std::fs::read(&manifest).unwrap(), std::fs::read(whole.path().join(MANIFEST_FILE)).unwrap());
    // Another seed in the same folder starts over rather than mixing data sets.
    let mut first = None;
    write_dataset(killed.path(), &cfg, 3, 8, |done, _| {
        first.get_or_insert(done);
    })
    .unwrap();
    assert_eq!(first, Some(1));
    assert_eq!(read_manifest(&manifest).unwrap().len(), 3);
}

#[test]
fn flaw_family_names_are_their_json_names() {
    for family in rewardedit_world::FlawFamily::ALL {
        assert_eq!(serde_json::to_value(family).unwrap(), family.name());
    }
}
