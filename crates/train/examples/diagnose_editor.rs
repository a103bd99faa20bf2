//! Does a trained world editor read its instruction? Run by hand:
//! `cargo run --release -p rewardedit-train --example diagnose_editor -- EDITOR_DIR [N] [SEED] [--mean-only] [--sheet PNG] [--rewards F,P,Q [--reward-text "A; B; C"]]`.
//!
//! One denoising step at several timesteps on N world triplets (world seed SEED, default 1: the
//! training data of the world recipes; another seed gives scenes the editor never saw; training
//! wordings either way), with the null reward, through the loaded editor: the x0 the model
//! implies, compared with the target and with the source, under three prompts: the true
//! instruction, another triplet's instruction, and the empty one. An editor that follows
//! instructions is closer to the target with the true instruction than with a wrong one, most
//! of all inside the edit's region; one that ignores them scores the three alike. Any
//! prediction type (epsilon, sample, v).
//!
//! Then what the exact oracle says about the same triplets edited several ways: the one-step x0
//! from pure noise at t = 999 with the true instruction (the model's conditional mean), and full
//! sampling (each scheduler, 20 steps) without and with guidance. A mean that follows where the
//! samples do not points at the sampling, not at what the model learnt. The mean's following is
//! also split by edit type; `--mean-only` skips the sampling (minutes) when only the mean matters,
//! and `--sheet PNG` writes a contact sheet of source | target | mean, one row per triplet.
//! `--rewards F,P,Q` gives a reward editor those requested scores with its own reward text
//! (`editor.json`'s, or `--reward-text "A; B; C"`) instead of the null reward, everywhere (the claim's
//! condition is `--rewards 5,5,5`).

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rewardedit_models::pipeline::convert::to_images;
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings, Editor};
use rewardedit_models::schedulers::SchedulerKind;
use rewardedit_core::reward::parse_scores;
use rewardedit_core::{EditType, Reward, RewardCondition};
use rewardedit_models::schedulers::NoiseSchedule;
use rewardedit_models::unet::RewardInputs;
use rewardedit_train::data::images_tensor;
use rewardedit_world::{grid, sample_triplet, Oracle, Triplet, WorldConfig};

/// The exact oracle's reward for each edit of its triplet.
fn rewards(triplets: &[Triplet], edits: &[image::RgbImage]) -> Vec<Reward> {
    let oracle = Oracle::new(32);
    triplets.iter().zip(edits).map(|(t, e)| oracle.score(&t.scene, &t.instruction, e).expect("oracle scores a 32 px edit")).collect()
}

/// Mean oracle following / preservation / quality of `edits` of `triplets`, and their L2 to the
/// exact targets ([0, 1] scale).
fn judge(triplets: &[Triplet], edits: &[image::RgbImage], rewards: &[Reward]) -> String {
    let mean = |axis: fn(&Reward) -> f32| rewards.iter().map(|r| f64::from(axis(r))).sum::<f64>() / rewards.len() as f64;
    let l2 = triplets
        .iter()
        .zip(edits)
        .map(|(t, e)| e.as_raw().iter().zip(t.target.as_raw()).map(|(&a, &b)| ((f64::from(a) - f64::from(b)) / 255.0).powi(2)).sum::<f64>() / e.as_raw().len() as f64)
        .sum::<f64>()
        / triplets.len() as f64;
    format!(
        "following {:.2} | preservation {:.2} | quality {:.2} | L2 to target {l2:.4}",
        mean(|r| r.following.score()),
        mean(|r| r.preservation.score()),
        mean(|r| r.quality.score())
    )
}

/// Mean oracle following per edit type, "Type mean (count)".
fn following_by_type(triplets: &[Triplet], rewards: &[Reward]) -> String {
    EditType::ALL
        .iter()
        .filter_map(|&ty| {
            let of: Vec<f64> = triplets.iter().zip(rewards).filter(|(t, _)| t.instruction.edit_type == ty).map(|(_, r)| f64::from(r.following.score())).collect();
            (!of.is_empty()).then(|| format!("{ty:?} {:.2} ({})", of.iter().sum::<f64>() / of.len() as f64, of.len()))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Rows of source | target | mean edit at 4x, for looking at what the model does per edit.
fn write_sheet(path: &str, triplets: &[Triplet], edits: &[image::RgbImage]) {
    let big = |im: &image::RgbImage| image::imageops::resize(im, 4 * im.width(), 4 * im.height(), image::imageops::FilterType::Nearest);
    let rows: Vec<Vec<image::RgbImage>> = triplets
        .iter()
        .zip(edits)
        .enumerate()
        .map(|(row, (t, e))| {
            println!("sheet row {row}: {:?}: {}", t.instruction.edit_type, t.instruction.text);
            vec![big(&t.source), big(&t.target), big(e)]
        })
        .collect();
    grid(&rows).save(path).expect("the sheet is written");
}

/// Removes `flag` and its value from `args`; exits 2 when the value is missing.
fn take_flag(args: &mut Vec<String>, flag: &str, what: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    if i + 1 >= args.len() {
        eprintln!("{flag} needs {what}");
        std::process::exit(2);
    }
    args.drain(i..i + 2).nth(1)
}

fn main() {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    let mean_only = all.iter().any(|a| a == "--mean-only");
    all.retain(|a| a != "--mean-only");
    let sheet = take_flag(&mut all, "--sheet", "a PNG path");
    let reward_text = take_flag(&mut all, "--reward-text", "the three flaw sentences joined by \"; \"");
    // Scores now, so that bad input exits before the editor loads; the text may be the editor's.
    let scores = match take_flag(&mut all, "--rewards", "three scores, e.g. 5,5,5") {
        Some(spec) => Some(parse_scores(&spec).unwrap_or_else(|e| {
            eprintln!("--rewards: {e}");
            std::process::exit(2)
        })),
        None if reward_text.is_some() => {
            eprintln!("--reward-text goes with --rewards F,P,Q (the null reward has no text)");
            std::process::exit(2);
        }
        None => None,
    };
    let mut args = all.into_iter();
    let Some(dir) = args.next() else {
        eprintln!("usage: diagnose_editor EDITOR_DIR [N] [SEED] [--mean-only] [--sheet PNG] [--rewards F,P,Q [--reward-text \"A; B; C\"]]  (a world editor folder, e.g. checkpoints/world-teacher)");
        std::process::exit(2);
    };
    let n: usize = args.next().map_or(64, |s| s.parse().expect("N: a number of triplets"));
    let seed: u64 = args.next().map_or(1, |s| s.parse().expect("SEED: a world seed"));
    let device = Device::flex();
    let editor = Editor::load(&dir, &device).unwrap_or_else(|e| {
        eprintln!("{dir}: {e}");
        std::process::exit(2)
    });
    let condition = match scores {
        Some(scores) => RewardCondition::Given { scores, text: reward_text.unwrap_or_else(|| editor.reward_text()) },
        None => RewardCondition::Null,
    };
    let world = WorldConfig { size: 32, ..WorldConfig::default() };
    let triplets: Vec<_> = (0..n as u64).map(|i| sample_triplet(&world, seed, i).expect("world triplet")).collect();
    let source = images_tensor(&triplets.iter().map(|t| &t.source).collect::<Vec<_>>(), &device);
    // The data's clean target (the exact edit), not its possibly flawed edited image.
    let target = images_tensor(&triplets.iter().map(|t| &t.target).collect::<Vec<_>>(), &device);
    // Pixels the edit changes: where the error of copying the source lives.
    let region = (target.clone() - source.clone()).abs().max_dim(1).greater_elem(0.02).float();
    let region_px = region.clone().sum().into_scalar::<f32>().max(1.0);
    let true_prompts: Vec<&str> = triplets.iter().map(|t| t.instruction.text.as_str()).collect();
    let wrong_prompts: Vec<&str> = (0..n).map(|i| true_prompts[(i + 1) % n]).collect();
    let empty_prompts = vec![""; n];
    let schedule = NoiseSchedule::new(&editor.schedule);
    let reward_inputs = editor.has_reward().then(|| {
        let pooled = editor.text.encode(&[condition.text()], &device).expect("the reward text encodes").pooled;
        RewardInputs::from_conditions(&vec![condition.clone(); n], pooled.repeat_dim(0, n))
    });
    let sq = |a: Tensor<4>, b: Tensor<4>| {
        let d = a - b;
        d.clone() * d
    };
    let in_region = |e: Tensor<4>| (e * region.clone()).sum().into_scalar::<f32>() / (3.0 * region_px);
    let copy = sq(source.clone(), target.clone());
    println!("{dir}: {n} world triplets (seed {seed}), {:.1} % of pixels in edit regions", 100.0 * region_px / (n * 32 * 32) as f32);
    println!("copy the source: x0 MSE {:.4} (in the edit region {:.4})", copy.clone().mean().into_scalar::<f32>(), in_region(copy));
    println!("  t  | prompt      | x0 MSE vs target | in edit region | x0 MSE vs source");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut mean_edit = None;
    for t in [50usize, 200, 400, 600, 800, 950, 999] {
        let dims = target.dims();
        let noise: Vec<f32> = (0..dims.iter().product::<usize>()).map(|_| rand_distr::Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect();
        let noise = Tensor::<4>::from_data(TensorData::new(noise, dims), &device);
        let noisy = schedule.add_noise(target.clone(), noise, &vec![t; n]);
        let a = schedule.alphas_cumprod[t];
        for (name, prompts) in [("true", &true_prompts), ("another's", &wrong_prompts), ("empty", &empty_prompts)] {
            let hidden = editor.text.encode(prompts, &device).expect("world prompts encode").hidden;
            let input = Tensor::cat(vec![noisy.clone(), source.clone()], 1);
            let tt = Tensor::<1>::from_data(TensorData::new(vec![t as f32; n], [n]), &device);
            let out = editor.unet.forward(input, tt, hidden, reward_inputs.clone());
            let eps = schedule.epsilon_from(out, noisy.clone(), a);
            let x0 = ((noisy.clone() - eps * (1.0 - a).sqrt()) / a.sqrt()).clamp(-1.0, 1.0);
            if t == 999 && name == "true" {
                mean_edit = Some(to_images(x0.clone()));
            }
            let err = sq(x0.clone(), target.clone());
            println!(
                "{t:4} | {name:<11} | {:.4}           | {:.4}         | {:.4}",
                err.clone().mean().into_scalar::<f32>(),
                in_region(err),
                sq(x0, source.clone()).mean().into_scalar::<f32>()
            );
        }
    }

    let reward_name = match &condition {
        RewardCondition::Given { scores, text } => format!("rewards {},{},{} \"{text}\"", scores[0], scores[1], scores[2]),
        RewardCondition::Null => "null reward".into(),
    };
    println!("\nexact oracle on the same {n} triplets (true instructions, {reward_name}):");
    let mean_edit = mean_edit.expect("t = 999 was run");
    let mean_rewards = rewards(&triplets, &mean_edit);
    println!("  one-step x0 at t = 999 (the conditional mean): {}", judge(&triplets, &mean_edit, &mean_rewards));
    println!("    its following by edit type: {}", following_by_type(&triplets, &mean_rewards));
    let sources: Vec<_> = triplets.iter().map(|t| t.source.clone()).collect();
    println!("  the source (no edit):                           {}", judge(&triplets, &sources, &rewards(&triplets, &sources)));
    if let Some(path) = &sheet {
        write_sheet(path, &triplets, &mean_edit);
    }
    if mean_only {
        return;
    }
    let requests: Vec<EditRequest> = triplets.iter().map(|t| EditRequest { image: t.source.clone(), instruction: t.instruction.text.clone(), reward: condition.clone() }).collect();
    for scheduler in SchedulerKind::ALL {
        for (text_cfg, image_cfg) in [(1.0, 1.0), (3.0, 1.2)] {
            let settings = EditSettings { steps: 20, text_cfg, image_cfg, reward_cfg: 1.0, seed: 0, scheduler, max_side: None };
            let edits = edit(&editor, &requests, &settings, &mut |_, _| {}).expect("the editor edits");
            println!("  {:<8} 20 steps, text {text_cfg} / image {image_cfg}: {}", scheduler.name(), judge(&triplets, &edits, &rewards(&triplets, &edits)));
        }
    }
}
