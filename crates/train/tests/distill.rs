//! Micro runs of the student editor (tiny world editors, 16 px): compression narrows the
//! student-teacher gap, one progressive round makes one student step land where two teacher
//! steps do, a killed run resumes, and the world student recipe parses.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rewardedit_models::import::editor::load_editor_config;
use rewardedit_models::schedulers::{NoiseSchedule, PredictionType, SchedulerKind};
use rewardedit_models::unet::DownBlockType;
use rewardedit_train::batch::{mse, timestep_values, NoisedBatch};
use rewardedit_train::data::Dataset;
use rewardedit_train::distill::loss::{sampler_timesteps, RoundPlan};
use rewardedit_train::distill::student::{copy_matching, student_config};
use rewardedit_train::distill::{ddim, distill, CompressTimesteps, DistillRecipe};
use rewardedit_train::editor::{Editor, EditorConfig, Encoders};
use rewardedit_train::export::save_editor_with;
use rewardedit_train::recipe::{SamplingDefaults, TrainRecipe};
use rewardedit_train::timesteps::TimestepSampling;
use rewardedit_train::trainer::{draw_rng, initial_editor};
use rewardedit_train::TrainOptions;
use support::{device, serial};

const TEACHER: &str = concat!(
    r#"
stage = "reward"
[model]
resolution = 16
[model.unet]
in_channels = 6
out_channels = 3
block_out_channels = [16, 32]
layers_per_block = 1
down_block_types = ["DownBlock2D", "CrossAttnDownBlock2D"]
up_block_types = ["CrossAttnUpBlock2D", "UpBlock2D"]
attention_head_dim = 2
cross_attention_dim = 16
norm_num_groups = 8
[model.text]
kind = "world"
dim = 16
layers = 1
heads = 2
max_tokens = 32
[model.reward]
null_dropout = 0.1
"#,
    world_data!(),
    r#"[noise]
beta_start = 0.0001
beta_end = 0.02
beta_schedule = "linear"
prediction_type = "v_prediction"
clip_sample = true
"#
);

/// The student recipe; `{teacher}` is replaced by the teacher's folder.
const STUDENT: &str = concat!(
    r#"
teacher = "{teacher}"
teacher_steps = 4
resolution = 16
[student]
block_out_channels = [8, 16]
[compress]
steps = 12
lr = 3e-3
[progressive]
rounds = 1
steps = 12
lr = 2e-3
"#,
    world_data!(),
    r#"[optim]
seed = 5
batch_size = 4
warmup_steps = 0
schedule = "constant"
ema_decay = 0.5
[dropout]
text = 0.0
image = 0.0
both = 0.0
[run]
log_every = 1
checkpoint_every = 4
keep_checkpoints = 2
"#
);


/// A random (untrained) reward teacher saved as an editor folder under `dir`.
fn teacher(dir: &Path) -> PathBuf {
    teacher_of(dir, TEACHER)
}

/// A random teacher of the recipe text `recipe` saved under `dir`.
fn teacher_of(dir: &Path, recipe: &str) -> PathBuf {
    let recipe = TrainRecipe::from_toml(recipe).unwrap();
    let data = Dataset::open(&recipe.data, 16).unwrap();
    let (config, editor) = initial_editor(&recipe, &data, &device(), &mut |_| {}).unwrap();
    let out = dir.join("teacher");
    // Guidance of its own (not the paper's), which its students must inherit.
    let sampling = SamplingDefaults { text_cfg: Some(3.0), image_cfg: Some(1.2), reward_cfg: Some(1.5), ..Default::default() };
    save_editor_with(&editor, &config, None, &sampling, &out).unwrap();
    out
}

fn student_recipe(teacher: &Path, edit: impl FnOnce(&mut DistillRecipe)) -> DistillRecipe {
    let mut r = DistillRecipe::from_toml(&STUDENT.replace("{teacher}", &teacher.display().to_string())).unwrap();
    edit(&mut r);
    r.validate().unwrap();
    r
}

/// A fixed batch and draw of noise, timesteps and conditions.
fn fixed_batch(recipe: &DistillRecipe, config: &EditorConfig, pick: &mut dyn FnMut(&mut rand_chacha::ChaCha8Rng) -> usize) -> NoisedBatch {
    let data = Dataset::open(&recipe.data, recipe.resolution).unwrap();
    let batch = data.batch(99, 0, 8).unwrap();
    let schedule = NoiseSchedule::new(&config.noise);
    NoisedBatch::draw(&batch, &schedule, &recipe.dropout, true, None, pick, &mut draw_rng(99, 0), &Device::flex()).unwrap()
}

fn output_gap(student: (&EditorConfig, &Editor), teacher: (&EditorConfig, &Editor), nb: &NoisedBatch) -> f32 {
    let t = timestep_values(&nb.timesteps);
    let dev = Device::flex();
    let (s, _) = student.1.predict(student.0, &nb.conditions, nb.noisy.clone(), &t, &dev).unwrap();
    let (w, _) = teacher.1.predict(teacher.0, &nb.conditions, nb.noisy.clone(), &t, &dev).unwrap();
    mse(s, w).into_scalar()
}

#[test]
fn compression_narrows_the_student_teacher_gap() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let recipe = student_recipe(&teacher_dir, |r| r.progressive.rounds = 0);
    let flex = Device::flex();
    let (t_config, t_editor) = Editor::open_dir(&teacher_dir, recipe.null_dropout, &flex).unwrap();

    // The student as the run starts: a narrower UNet, seeded, from the teacher where shapes allow.
    let s_config = student_config(&t_config, &recipe.student).unwrap();
    flex.seed(recipe.optim.seed);
    let mut initial = Editor::new(&s_config, &flex).unwrap();
    let copied = copy_matching(&mut initial, &t_editor);
    assert!(copied > 0, "the prompt encoder at least keeps the teacher's shapes");
    assert!(initial.unet.num_params() * 2 < t_editor.unet.num_params(), "half the channels: a much smaller UNet");

    let out = distill(&recipe, &tmp.path().join("student"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let dir = out.editor_dir.expect("every phase ran");
    let (config, trained) = Editor::open_dir(&dir, recipe.null_dropout, &flex).unwrap();
    assert_eq!(config.unet.block_out_channels, vec![8, 16]);
    assert!(config.reward.is_some(), "the student keeps the reward conditioning");

    let schedule = NoiseSchedule::new(&t_config.noise);
    let nb = fixed_batch(&recipe, &t_config, &mut TimestepSampling::Uniform.sampler(schedule.num_train_timesteps()));
    let before = output_gap((&s_config, &initial), (&t_config, &t_editor), &nb);
    let after = output_gap((&config, &trained), (&t_config, &t_editor), &nb);
    assert!(after < 0.7 * before, "student-teacher output gap {before} -> {after}");
    // The final student samples with the teacher's steps (no rounds), its guidance, and DDIM.
    let defaults = rewardedit_models::import::editor::load_editor_config(&dir).unwrap().defaults;
    let teacher = rewardedit_models::import::editor::load_editor_config(&recipe.teacher).unwrap().defaults;
    assert_eq!((defaults.steps, defaults.scheduler), (4, rewardedit_models::schedulers::SchedulerKind::Ddim));
    assert_eq!((defaults.text_cfg, defaults.image_cfg, defaults.reward_cfg), (teacher.text_cfg, teacher.image_cfg, teacher.reward_cfg));
}

#[test]
fn compression_can_train_at_the_timesteps_the_student_samples_with() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let (t_config, _) = Editor::open_dir(&teacher_dir, 0.1, &Device::flex()).unwrap();
    // Euler-A's linspace plan rounded to training timesteps: where a 5-step student samples.
    assert_eq!(sampler_timesteps(SchedulerKind::EulerA, &t_config.noise, 5), [999, 749, 500, 250, 0]);
    assert_eq!(sampler_timesteps(SchedulerKind::Ddim, &t_config.noise, 4), [751, 501, 251, 1], "DDIM's leading plan, offset 1");

    let recipe = student_recipe(&teacher_dir, |r| {
        r.progressive.rounds = 0;
        r.sampling.scheduler = Some(SchedulerKind::EulerA);
        r.sampling.steps = Some(2);
        r.compress.timesteps = CompressTimesteps::Sampler;
    });
    let out = tmp.path().join("student");
    let dir = distill(&recipe, &out, &TrainOptions::default(), &device(), &mut |_| {}).unwrap().editor_dir.unwrap();
    let defaults = load_editor_config(&dir).unwrap().defaults;
    assert_eq!((defaults.steps, defaults.scheduler), (2, SchedulerKind::EulerA));
    let resolved = std::fs::read_to_string(out.join("compress").join("recipe.toml")).unwrap();
    assert!(resolved.contains("timesteps = \"sampler\""), "{resolved}");
    // Recipes without the option resolve as before, so their runs still resume.
    let uniform = student_recipe(&teacher_dir, |r| r.progressive.rounds = 0);
    assert!(!uniform.resolved_toml().unwrap().contains("timesteps"));
}

#[test]
fn one_progressive_round_makes_one_student_step_match_two_teacher_steps() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let recipe = student_recipe(&teacher_dir, |r| {
        r.compress.steps = 0;
        r.progressive.steps = 25;
    });
    let flex = Device::flex();
    let (t_config, t_editor) = Editor::open_dir(&teacher_dir, recipe.null_dropout, &flex).unwrap();
    assert_eq!(t_config.noise.prediction_type, PredictionType::VPrediction);
    let out = distill(&recipe, &tmp.path().join("student"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    assert_eq!(out.student_steps, 2);
    let (s_config, student) = Editor::open_dir(&out.editor_dir.unwrap(), recipe.null_dropout, &flex).unwrap();

    // From x_t at each student timestep: the teacher's two DDIM steps, against one step of
    // the student and one (twice as long) step of the teacher itself (the student's start).
    let schedule = NoiseSchedule::new(&t_config.noise);
    let plan = RoundPlan::new(&schedule, 2);
    let mut starts = Vec::new();
    let mut pick = |rng: &mut rand_chacha::ChaCha8Rng| {
        let j = 2 * (starts.len() % 2);
        let _ = rng;
        starts.push(j);
        plan.teacher_timesteps[j]
    };
    let nb = fixed_batch(&recipe, &t_config, &mut pick);
    let a_at = |j: usize| plan.teacher_timesteps.get(j).map_or(schedule.alphas_cumprod[0], |&t| schedule.alphas_cumprod[t]);
    let a: Vec<f64> = starts.iter().map(|&j| a_at(j)).collect();
    let a_mid: Vec<f64> = starts.iter().map(|&j| a_at(j + 1)).collect();
    let a_next: Vec<f64> = starts.iter().map(|&j| a_at(j + 2)).collect();
    let t = timestep_values(&nb.timesteps);
    let t_mid: Vec<f32> = starts.iter().map(|&j| plan.teacher_timesteps[j + 1] as f32).collect();
    let c = &nb.conditions;
    let x_t = nb.noisy.clone();
    let (o1, _) = t_editor.predict(&t_config, c, x_t.clone(), &t, &flex).unwrap();
    let x_mid = ddim::step(&t_config.noise, o1.clone(), x_t.clone(), &a, &a_mid);
    let (o2, _) = t_editor.predict(&t_config, c, x_mid.clone(), &t_mid, &flex).unwrap();
    let two_teacher_steps = ddim::step(&t_config.noise, o2, x_mid, &a_mid, &a_next);
    let one_teacher_step = ddim::step(&t_config.noise, o1, x_t.clone(), &a, &a_next);
    let (os, _) = student.predict(&s_config, c, x_t.clone(), &t, &flex).unwrap();
    let one_student_step = ddim::step(&s_config.noise, os, x_t, &a, &a_next);
    let before: f32 = mse(one_teacher_step, two_teacher_steps.clone()).into_scalar();
    let after: f32 = mse(one_student_step, two_teacher_steps).into_scalar();
    assert!(after < 0.7 * before, "one step vs two teacher steps: {before} (teacher) -> {after} (student)");
}

#[test]
fn a_killed_distillation_resumes_where_it_stopped() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let recipe = student_recipe(&teacher_dir, |r| {
        r.compress.steps = 8;
        r.progressive.steps = 4;
    });
    let out = tmp.path().join("student");
    // Stopped inside the compression phase, then again inside the round.
    let first = distill(&recipe, &out, &TrainOptions { resume: false, stop_after: Some(5) }, &device(), &mut |_| {}).unwrap();
    assert!(first.editor_dir.is_none());
    let again = distill(&recipe, &out, &TrainOptions { resume: false, stop_after: None }, &device(), &mut |_| {});
    assert!(again.unwrap_err().to_string().contains("--resume"), "a re-run without --resume must not overwrite checkpoints");
    let second = distill(&recipe, &out, &TrainOptions { resume: true, stop_after: Some(5) }, &device(), &mut |_| {}).unwrap();
    assert!(second.editor_dir.is_none());
    assert!(out.join("compress/editor/editor.json").is_file(), "compression finished at step 8");
    let done = distill(&recipe, &out, &TrainOptions { resume: true, stop_after: None }, &device(), &mut |_| {}).unwrap();
    let dir = done.editor_dir.unwrap();
    let defaults = rewardedit_models::import::editor::load_editor_config(&dir).unwrap().defaults;
    assert_eq!(defaults.steps, 2);
    // Every phase logged each of its steps exactly once.
    for (phase, steps) in [("compress", 8), ("round-1", 4)] {
        let lines = std::fs::read_to_string(out.join(phase).join("metrics.jsonl")).unwrap();
        let logged: Vec<u64> = lines.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect();
        assert_eq!(logged, (1..=steps).collect::<Vec<_>>(), "{phase}");
    }
}

#[test]
fn the_world_student_recipe_parses_and_bad_recipes_are_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("world-student") && n.ends_with(".toml"))
        .collect();
    names.sort();
    assert_eq!(names, ["world-student-lite.toml", "world-student-long-2.toml", "world-student-long.toml", "world-student.toml"]);
    for name in &names {
        let r = DistillRecipe::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.student_steps(), 5, "{name}");
        assert_eq!(r.sampling.scheduler, Some(rewardedit_models::schedulers::SchedulerKind::EulerA), "{name}");
    }
    let lite = DistillRecipe::load(&dir.join("world-student-lite.toml")).unwrap();
    assert!(lite.student_warm_start.is_some() && lite.student.contains_key("down_block_types"));
    // The long student continues the light one: the same shape, against the long teacher.
    let long = DistillRecipe::load(&dir.join("world-student-long.toml")).unwrap();
    assert_eq!(long.student, lite.student);
    assert_eq!(long.student_init.as_deref(), Some(Path::new("runs/world-student-lite/editor")));
    let long_2 = DistillRecipe::load(&dir.join("world-student-long-2.toml")).unwrap();
    assert_eq!((&long_2.student, &long_2.teacher), (&lite.student, &long.teacher));
    assert_eq!(long_2.student_init.as_deref(), Some(Path::new("runs/world-student-long/editor")));
    assert_eq!(long_2.compress.timesteps, CompressTimesteps::Sampler);
    let bad = format!("{STUDENT}\n[sampling]\nsteps = 2\n");
    assert!(DistillRecipe::from_toml(&bad).unwrap_err().to_string().contains("leave sampling.steps out"));
    // Without rounds a compressed student may sample with fewer steps than its teacher.
    let compressed = format!("{}\n[sampling]\nsteps = 2\n", STUDENT.replace("rounds = 1", "rounds = 0"));
    assert_eq!(DistillRecipe::from_toml(&compressed).unwrap().student_steps(), 2);
    assert_eq!(DistillRecipe::from_toml(&STUDENT.replace("rounds = 1", "rounds = 0")).unwrap().student_steps(), 4, "the teacher's steps by default");
    let zero = compressed.replace("steps = 2\n", "steps = 0\n");
    assert!(DistillRecipe::from_toml(&zero).unwrap_err().to_string().contains("sampling.steps must be positive"));
    let sampler_with_rounds = STUDENT.replace("[compress]\n", "[compress]\ntimesteps = \"sampler\"\n");
    assert!(DistillRecipe::from_toml(&sampler_with_rounds).unwrap_err().to_string().contains("progressive.rounds = 0"));
    let bad = STUDENT.replace("teacher_steps = 4", "teacher_steps = 3");
    assert!(DistillRecipe::from_toml(&bad).unwrap_err().to_string().contains("teacher_steps"));
    let narrow = STUDENT.replace("block_out_channels = [8, 16]", "block_out_channels = [4, 8]\nnorm_num_groups = 4");
    let r = DistillRecipe::from_toml(&narrow).unwrap();
    let teacher_recipe = TrainRecipe::from_toml(TEACHER).unwrap();
    let with_reward = EditorConfig { reward: Some(Default::default()), ..config_of(&teacher_recipe) };
    assert!(student_config(&with_reward, &r.student).unwrap_err().to_string().contains("reward"));
    let bad = STUDENT.replace("[student]\n", "[student]\nwidth = 3\n");
    let r = DistillRecipe::from_toml(&bad).unwrap();
    assert!(student_config(&config_of(&teacher_recipe), &r.student).unwrap_err().to_string().contains("student.width"));
}

fn config_of(teacher: &TrainRecipe) -> EditorConfig {
    EditorConfig {
        unet: teacher.model.unet.clone().unwrap(),
        encoders: Encoders::World {
            text: rewardedit_models::text::world::WorldTextConfig { dim: 16, layers: 1, heads: 2, max_tokens: 32, vocab_size: 10 },
            vocab: rewardedit_core::Vocab::build(["a b"]),
        },
        reward: None,
        noise: teacher.noise.clone().unwrap_or_default(),
    }
}

#[test]
fn compression_continues_from_an_earlier_student_of_the_same_shape_only() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let out = tmp.path().join("first");
    let earlier = compressed_student(&teacher_dir, 4, &out);

    // Continued: its first step starts from the earlier student's weights, so its loss there is
    // the earlier run's end, not a fresh student's start.
    let fresh_start = first_loss(&out.join("compress"));
    let more = student_recipe(&teacher_dir, |r| {
        r.compress.steps = 4;
        r.progressive.rounds = 0;
        r.student_init = Some(earlier.clone());
        r.sampling.steps = Some(2);
    });
    let again = tmp.path().join("again");
    let outcome = distill(&more, &again, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let continued_start = first_loss(&again.join("compress"));
    assert!(continued_start < fresh_start, "continued from the earlier student: {continued_start} vs {fresh_start}");
    // Without rounds the student samples with the recipe's steps, not its teacher's 4.
    assert_eq!(outcome.student_steps, 2);
    assert_eq!(load_editor_config(&again.join("editor")).unwrap().defaults.steps, 2);

    // Another [student] shape cannot continue it.
    let other = student_recipe(&teacher_dir, |r| {
        r.progressive.rounds = 0;
        r.student.insert("block_out_channels".into(), toml::Value::Array(vec![toml::Value::Integer(16), toml::Value::Integer(16)]));
        r.student_init = Some(earlier.clone());
    });
    let err = distill(&other, &tmp.path().join("other"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("not the recipe's student"), "{err}");
}

#[test]
fn a_student_with_blocks_removed_warm_starts_from_the_earlier_student() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = teacher(tmp.path());
    let earlier = compressed_student(&teacher_dir, 8, &tmp.path().join("first"));

    // The same student without its attention blocks (BK-SDM-style removal).
    let strings = |v: &[&str]| toml::Value::Array(v.iter().map(|s| toml::Value::String(s.to_string())).collect());
    let no_attention = |r: &mut DistillRecipe| {
        r.compress.steps = 2;
        r.progressive.rounds = 0;
        r.student.insert("down_block_types".into(), strings(&["DownBlock2D", "DownBlock2D"]));
        r.student.insert("up_block_types".into(), strings(&["UpBlock2D", "UpBlock2D"]));
    };
    let fresh = tmp.path().join("fresh");
    distill(&student_recipe(&teacher_dir, no_attention), &fresh, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let warm = tmp.path().join("warm");
    let mut details = Vec::new();
    let recipe = student_recipe(&teacher_dir, |r| {
        no_attention(r);
        r.student_warm_start = Some(earlier.clone());
    });
    distill(&recipe, &warm, &TrainOptions::default(), &device(), &mut |e| {
        if let rewardedit_train::distill::DistillEvent::Phase { detail, .. } = e {
            details.push(detail);
        }
    })
    .unwrap();
    // Its resnets are the earlier student's trained ones, so it starts nearer the teacher.
    let (fresh_start, warm_start) = (first_loss(&fresh.join("compress")), first_loss(&warm.join("compress")));
    assert!(warm_start < fresh_start, "warm-started from the earlier student: {warm_start} vs {fresh_start}");
    assert!(details.iter().any(|d| d.contains("from the student")), "{details:?}");
    let (config, _) = Editor::open_dir(&warm.join("compress/editor"), recipe.null_dropout, &Device::flex()).unwrap();
    assert_eq!(config.unet.down_block_types, vec![DownBlockType::DownBlock2D; 2], "the recipe's shape, not the earlier student's");

    // Not together with student_init; not from a student of another prompt encoder.
    let mut both = recipe.clone();
    both.student_init = Some(earlier.clone());
    assert!(both.validate().unwrap_err().to_string().contains("set one of them"));
    let mut other = recipe.clone();
    other.teacher = teacher_of(&tmp.path().join("other"), &TEACHER.replace("max_tokens = 32", "max_tokens = 24"));
    let err = distill(&other, &tmp.path().join("other-run"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("student_warm_start") && err.contains("prompt encoder"), "{err}");
}

/// A student compressed `steps` steps (no rounds) into the distillation folder `out`; its editor.
fn compressed_student(teacher: &Path, steps: u64, out: &Path) -> PathBuf {
    let recipe = student_recipe(teacher, |r| {
        r.compress.steps = steps;
        r.progressive.rounds = 0;
    });
    distill(&recipe, out, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    out.join("compress/editor")
}

fn first_loss(run: &Path) -> f32 {
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    serde_json::from_str::<serde_json::Value>(lines.lines().next().unwrap()).unwrap()["loss"].as_f64().unwrap() as f32
}
