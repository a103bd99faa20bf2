//! Micro runs of both stages (tiny UNet, 16 px world): the objective lowers the loss, a resumed
//! run reproduces an uninterrupted one, dropout rates match the recipe, zero-initialised reward
//! modules leave a stage-1 editor's predictions unchanged, a damaged checkpoint is skipped, and
//! every train recipe in recipes/ parses.

#[macro_use]
mod support;

use std::path::Path;


use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rewardedit_models::schedulers::NoiseSchedule;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs};
use rewardedit_train::checkpoint::{self, CHECKPOINTS_DIR};
use rewardedit_train::data::{DataSource, Dataset};
use rewardedit_train::editor::{attach_reward, Editor, EditorConfig};
use rewardedit_train::export::export_checkpoint;
use rewardedit_train::metrics;
use rewardedit_train::recipe::{DropoutConfig, Init, Stage, TrainRecipe, WeightsKind};
use rewardedit_train::timesteps::TimestepSampling;
use rewardedit_train::trainer::{draw_rng, frozen_encoders, initial_editor, micro_batch_loss, optimizer, StepMetrics, METRICS_FILE};
use rewardedit_train::{dropout, train, TrainOptions};
use support::{device, serial};

const MICRO: &str = concat!(
    r#"
stage = "instruct"
[model]
resolution = 16
[model.unet]
in_channels = 6
out_channels = 3
block_out_channels = [8, 16]
layers_per_block = 1
down_block_types = ["DownBlock2D", "CrossAttnDownBlock2D"]
up_block_types = ["CrossAttnUpBlock2D", "UpBlock2D"]
attention_head_dim = 2
cross_attention_dim = 16
norm_num_groups = 4
[model.text]
kind = "world"
dim = 16
layers = 1
heads = 2
max_tokens = 32
[model.reward]
zero_init = true
null_dropout = 0.1
"#,
    world_data!(),
    r#"[optim]
seed = 7
steps = 6
batch_size = 4
grad_accum = 2
lr = 2e-3
warmup_steps = 2
[noise]
beta_start = 0.0001
beta_end = 0.02
beta_schedule = "linear"
[run]
log_every = 1
checkpoint_every = 2
keep_checkpoints = 3
"#
);


fn micro() -> TrainRecipe {
    TrainRecipe::from_toml(MICRO).unwrap()
}

/// Trains on one fixed batch and one fixed draw of noise/timesteps; the loss on it must fall.
fn fixed_batch_loss_falls(recipe: &TrainRecipe) {
    let device = device();
    let data = Dataset::open(&recipe.data, recipe.model.resolution).unwrap();
    let (config, mut model) = initial_editor(recipe, &data, &device, &mut |_| {}).unwrap();
    let schedule = NoiseSchedule::new(&config.noise);
    let batch = data.batch(recipe.optim.seed, 0, 8).unwrap();
    let frozen = frozen_encoders(&config, &device, &mut |_| {}).unwrap();
    let frozen = frozen.as_ref();
    let loss_of = |m: &Editor| {
        micro_batch_loss(m, &config, frozen, recipe, &schedule, &batch, &mut draw_rng(1, 0), &device).unwrap().into_scalar::<f32>()
    };
    let before = loss_of(&model);
    let mut optim = optimizer(&recipe.optim);
    for _ in 0..25 {
        let loss = micro_batch_loss(&model, &config, frozen, recipe, &schedule, &batch, &mut draw_rng(1, 0), &device).unwrap();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(2e-3, model, grads);
    }
    let after = loss_of(&model);
    assert!(after < 0.7 * before, "{:?}: loss {before} -> {after}", recipe.stage);
}

#[test]
fn stage_1_lowers_the_loss_on_a_fixed_batch() {
    let _serial = serial();
    let mut r = micro();
    r.dropout = DropoutConfig { text: 0.0, image: 0.0, both: 0.0 };
    fixed_batch_loss_falls(&r);
}

#[test]
fn stage_2_lowers_the_loss_on_a_fixed_batch() {
    let _serial = serial();
    let mut r = micro();
    r.stage = Stage::Reward;
    r.dropout = DropoutConfig { text: 0.0, image: 0.0, both: 0.0 };
    r.model.reward.null_dropout = 0.0;
    r.model.reward.zero_init = false;
    fixed_batch_loss_falls(&r);
}

/// The loss of one fresh micro model (built from the first recipe) on the same world batch and
/// draws under each recipe's loss settings.
fn same_batch_losses(recipes: [&TrainRecipe; 2]) -> [f32; 2] {
    let device = device();
    let first = recipes[0];
    let data = Dataset::open(&first.data, first.model.resolution).unwrap();
    let (config, model) = initial_editor(first, &data, &device, &mut |_| {}).unwrap();
    let schedule = NoiseSchedule::new(&config.noise);
    let batch = data.batch(first.optim.seed, 0, 8).unwrap();
    assert!(batch.iter().all(|e| e.region.is_some()), "world examples carry their edit region");
    recipes.map(|recipe| {
        micro_batch_loss(&model, &config, None, recipe, &schedule, &batch, &mut draw_rng(1, 0), &device).unwrap().into_scalar::<f32>()
    })
}

#[test]
fn region_weighting_changes_the_loss_and_still_trains() {
    let _serial = serial();
    let mut r = micro();
    r.dropout = DropoutConfig { text: 0.0, image: 0.0, both: 0.0 };
    // Left out, the table does not appear in the resolved recipe, so older runs still resume.
    assert!(!r.resolved_toml().unwrap().contains("[loss]"));
    let plain = r.clone();
    r.loss.region_weight = 4.0;
    let resolved = r.resolved_toml().unwrap();
    assert!(resolved.contains("region_weight = 4.0"), "{resolved}");
    assert_eq!(TrainRecipe::from_toml(&resolved).unwrap(), r);
    let mut folder = r.clone();
    folder.data = DataSource::Folder { spec: "manifest:/nowhere".into(), bucket_multiple: 8 };
    let err = folder.validate().unwrap_err().to_string();
    assert!(err.contains("edit regions") && err.contains("set it to 0"), "{err}");

    let [l_plain, l_weighted] = same_batch_losses([&plain, &r]);
    assert!((l_plain - l_weighted).abs() > 1e-4 * l_plain, "weighting changed nothing: {l_plain} vs {l_weighted}");
    fixed_batch_loss_falls(&r);
}

#[test]
fn a_logit_normal_timestep_draw_is_kept_in_the_resolved_recipe_and_changes_the_batch() {
    let _serial = serial();
    let uniform = micro();
    let mut r = uniform.clone();
    r.loss.timesteps = TimestepSampling::LogitNormal { mean: 0.5, std: 1.0 };
    let resolved = r.resolved_toml().unwrap();
    assert!(resolved.contains("kind = \"logit_normal\""), "{resolved}");
    assert_eq!(TrainRecipe::from_toml(&resolved).unwrap(), r, "a resumed run must draw as it did");
    let mut bad = r.clone();
    bad.loss.timesteps = TimestepSampling::LogitNormal { mean: 0.0, std: -1.0 };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("loss.timesteps") && err.contains("std > 0"), "{err}");

    let [l_uniform, l_logit] = same_batch_losses([&uniform, &r]);
    assert!((l_uniform - l_logit).abs() > 1e-4 * l_uniform, "the draw did not reach the batch: {l_uniform} vs {l_logit}");
}

/// A world batch is the triplets its draw names, in order, however many threads render them:
/// an endless stream's draw `d` holds triplets `d * batch ..`, and a fixed set's draws are
/// reproducible. Resume equivalence rests on this.
#[test]
fn a_world_batch_is_the_triplets_its_draw_names_in_order() {
    let world = rewardedit_world::WorldConfig { size: 16, ..Default::default() };
    let stream = Dataset::open(&DataSource::World { seed: 7, n: None, vocab_samples: 10, world: world.clone() }, 16).unwrap();
    let batch = stream.batch(3, 5, 6).unwrap();
    assert_eq!(batch.len(), 6);
    for (j, example) in batch.iter().enumerate() {
        let t = rewardedit_world::sample_triplet(&world, 7, 5 * 6 + j as u64).unwrap();
        assert_eq!(example.instruction, t.instruction.text, "example {j} of draw 5");
        assert_eq!(example.edited.as_raw(), t.edited.as_raw(), "example {j} of draw 5");
    }
    let fixed = Dataset::open(&DataSource::World { seed: 7, n: Some(1000), vocab_samples: 10, world }, 16).unwrap();
    let (a, b) = (fixed.batch(3, 5, 6).unwrap(), fixed.batch(3, 5, 6).unwrap());
    let texts = |v: &[rewardedit_train::data::TrainExample]| v.iter().map(|e| e.instruction.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&fixed.batch(3, 6, 6).unwrap()), "another draw, other triplets");
}

fn losses(run: &Path) -> Vec<(u64, f32)> {
    metrics::read::<StepMetrics>(&run.join(METRICS_FILE)).unwrap().into_iter().map(|m| (m.step, m.loss)).collect()
}

fn assert_same_curve(a: &[(u64, f32)], b: &[(u64, f32)]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for ((sa, la), (sb, lb)) in a.iter().zip(b) {
        assert_eq!(sa, sb);
        assert!((la - lb).abs() <= 1e-5 * la.abs().max(1.0), "step {sa}: {la} vs {lb}");
    }
}

#[test]
fn resume_reproduces_the_uninterrupted_loss_curve_and_skips_a_damaged_checkpoint() {
    let _serial = serial();
    let recipe = micro();
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let out = train(&recipe, &whole, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    assert_eq!(out.step, 6);
    // The exported EMA editor is a folder the sampling pipeline loads.
    let editor = rewardedit_models::pipeline::Editor::load(out.editor_dir.unwrap(), &Device::flex()).unwrap();
    assert!(!editor.has_reward());

    // Killed after step 5: checkpoints at 2 and 4 survive (the step-5 one is what a kill
    // during its write leaves: nothing, here a damaged folder).
    let cut = tmp.path().join("cut");
    train(&recipe, &cut, &TrainOptions { resume: false, stop_after: Some(5) }, &device(), &mut |_| {}).unwrap();
    let ckpts = cut.join(CHECKPOINTS_DIR);
    let newest = ckpts.join(checkpoint::step_dir_name(5));
    assert!(newest.exists());
    let model = newest.join(checkpoint::MODEL);
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let (found, skipped) = checkpoint::latest_intact(&ckpts);
    assert_eq!(found.unwrap().0, 4, "the damaged step-5 checkpoint must be skipped");
    assert_eq!(skipped.len(), 1);

    let mut events = Vec::new();
    let resumed = train(&recipe, &cut, &TrainOptions { resume: true, stop_after: None }, &device(), &mut |e| events.push(format!("{e:?}"))).unwrap();
    assert_eq!(resumed.step, 6);
    assert!(events.iter().any(|e| e.contains("SkippedCheckpoint")), "{events:?}");
    assert!(events.iter().any(|e| e.contains("Start { start: 4")), "{events:?}");
    assert_same_curve(&losses(&whole), &losses(&cut));
    // Rotation kept at most keep_checkpoints.
    assert!(checkpoint::list(&ckpts).len() <= 3);
}

#[test]
fn stage_2_from_a_stage_1_run_trains_and_starts_where_stage_1_ended() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let s1 = tmp.path().join("s1");
    let mut r1 = micro();
    r1.optim.steps = 2;
    train(&r1, &s1, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let mut r2 = micro();
    r2.stage = Stage::Reward;
    r2.optim.steps = 2;
    r2.init = Init::Checkpoint { path: s1.clone(), weights: WeightsKind::Raw };
    r2.run.validate_every = 2;
    let out = train(&r2, &tmp.path().join("s2"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    assert_eq!(out.losses.len(), 2);
    // source | target | null-reward edit | 5,5,5 edit, four rows.
    let grid = image::open(tmp.path().join("s2/validation/step-00000002.png")).unwrap();
    assert!(grid.width() > 4 * 16 && grid.height() > 4 * 16, "{}x{}", grid.width(), grid.height());
    let editor = rewardedit_models::pipeline::Editor::load(out.editor_dir.unwrap(), &Device::flex()).unwrap();
    assert!(editor.has_reward());
    assert!(out.losses.iter().all(|l| l.is_finite()));
    // A world reward editor asks for 5, 5, 5 in its data's words for "no flaw", which its word
    // encoder learnt, not the paper's "None" (a word world data never holds).
    let clean = rewardedit_core::Reward::perfect().joined_text();
    assert_eq!(editor.config.reward_text.as_deref(), Some(clean.as_str()));
    assert_eq!(editor.default_condition(), rewardedit_core::RewardCondition::Given { scores: [5.0; 3], text: clean });
    let stage1 = rewardedit_models::pipeline::Editor::load(s1.join("editor"), &Device::flex()).unwrap();
    assert_eq!(stage1.config.reward_text, None, "an editor without reward modules has no reward text");
}

#[test]
fn stage_2_from_an_exported_editor_folder_starts_from_its_weights() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mut r1 = micro();
    r1.optim.steps = 2;
    let s1 = train(&r1, &tmp.path().join("s1"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let folder = s1.editor_dir.unwrap();
    // Saved as fp16, as the committed checkpoints are: the trainer reads what `edit` reads.
    let half = tmp.path().join("fp16");
    rewardedit_models::pipeline::Editor::load(&folder, &Device::flex()).unwrap().save_as(&half, rewardedit_models::store::WeightFormat::F16).unwrap();

    let mut r2 = micro();
    r2.stage = Stage::Reward;
    r2.model.reward = RewardConditioningConfig { zero_init: true, null_dropout: 0.0 };
    r2.init = Init::Editor { path: half.clone() };
    let flex = Device::flex();
    let data = Dataset::open(&r2.data, r2.model.resolution).unwrap();
    let (config, editor) = initial_editor(&r2, &data, &flex, &mut |_| {}).unwrap();
    assert!(config.reward.is_some(), "stage 2 attaches the reward modules");
    let exported = rewardedit_models::pipeline::Editor::load(&half, &flex).unwrap();
    let n = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([2, 6, 16, 16], n, &flex);
    let t = Tensor::<1>::from_floats([100.0, 900.0], &flex);
    let text = editor.text_encoder.as_ref().unwrap().encode(config.vocab().unwrap(), &["make the circle red", ""], &flex);
    let ours = editor.unet.forward(x.clone(), t.clone(), text.hidden.clone(), None);
    let theirs = exported.unet.forward(x, t, text.hidden, None);
    let diff = (ours - theirs).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "the run starts from the folder's weights: {diff}");
    let out = train(&r2, &tmp.path().join("s2"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    assert!(out.losses.iter().all(|l| l.is_finite()));

    // A stage-1 run cannot start from a reward editor folder.
    let mut back = micro();
    back.init = Init::Editor { path: out.editor_dir.unwrap() };
    let err = initial_editor(&back, &data, &flex, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("cannot start from a reward editor"), "{err}");
}

/// Every file under `dir`, relative path -> content: bytes, or for safetensors files each
/// tensor's name, dtype, shape and bytes (the header's metadata order is not fixed).
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let mut bytes = std::fs::read(&path).unwrap();
                if path.extension().is_some_and(|e| e == "safetensors") {
                    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
                    let mut tensors = st.tensors();
                    tensors.sort_by(|a, b| a.0.cmp(&b.0));
                    bytes = tensors.into_iter().flat_map(|(name, t)| [name.into_bytes(), format!("{:?}{:?}", t.dtype(), t.shape()).into_bytes(), t.data().to_vec()]).flatten().collect();
                }
                files.insert(path.strip_prefix(dir).unwrap().display().to_string(), bytes);
            }
        }
    }
    files
}

#[test]
fn a_checkpoint_exports_as_the_editor_folder_the_run_ends_with() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mut recipe = micro();
    recipe.optim.steps = 4;
    recipe.sampling.steps = Some(7);
    let run = tmp.path().join("run");
    let end = train(&recipe, &run, &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let flex = Device::flex();
    let out = tmp.path().join("export");
    assert_eq!(export_checkpoint(&run, WeightsKind::Ema, &out, &flex, &mut |_| {}).unwrap(), 4);
    let (ours, theirs) = (tree(&out), tree(&end.editor_dir.unwrap()));
    assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
    let differ: Vec<_> = ours.iter().filter(|(k, v)| theirs[*k] != **v).map(|(k, _)| k).collect();
    assert!(differ.is_empty(), "the newest checkpoint's EMA editor is the folder the run exported; these differ: {differ:?}");
    assert_eq!(rewardedit_models::pipeline::Editor::load(&out, &flex).unwrap().config.defaults.steps, 7);

    // Nothing is overwritten; a folder without checkpoints is named.
    let err = export_checkpoint(&run, WeightsKind::Ema, &out, &flex, &mut |_| {}).unwrap_err();
    assert!(err.is_bad_input() && err.to_string().contains("already holds files"), "{err}");
    let err = export_checkpoint(tmp.path(), WeightsKind::Ema, &tmp.path().join("none"), &flex, &mut |_| {}).unwrap_err();
    assert!(err.is_bad_input() && err.to_string().contains("no intact checkpoint"), "{err}");

    // A run stopped early, whose checkpoint predates the sampling record (as runs written
    // before it): the raw weights of step 2 export, with the recipe's sampling defaults.
    let cut = tmp.path().join("cut");
    train(&recipe, &cut, &TrainOptions { resume: false, stop_after: Some(2) }, &device(), &mut |_| {}).unwrap();
    assert!(!cut.join("editor").exists());
    let step2 = cut.join(CHECKPOINTS_DIR).join(checkpoint::step_dir_name(2));
    std::fs::remove_file(step2.join(checkpoint::SAMPLING)).unwrap();
    let manifest_path = step2.join(checkpoint::MANIFEST);
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["sha256"].as_object_mut().unwrap().remove(checkpoint::SAMPLING);
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let early = tmp.path().join("early");
    assert_eq!(export_checkpoint(&step2, WeightsKind::Raw, &early, &flex, &mut |_| {}).unwrap(), 2);
    let editor = rewardedit_models::pipeline::Editor::load(&early, &flex).unwrap();
    assert_eq!(editor.config.defaults.steps, 7, "from the run's recipe.toml");
    let config: EditorConfig = checkpoint::read_json(&step2.join(checkpoint::CONFIG)).unwrap();
    let raw = Editor::new(&config, &flex).unwrap().load_weights(&step2.join(checkpoint::MODEL)).unwrap();
    let x = Tensor::<4>::random([1, 6, 16, 16], Distribution::Normal(0.0, 1.0), &flex);
    let t = Tensor::<1>::from_floats([500.0], &flex);
    let text = raw.text_encoder.as_ref().unwrap().encode(config.vocab().unwrap(), &["make the circle red"], &flex);
    let diff = (raw.unet.forward(x.clone(), t.clone(), text.hidden.clone(), None) - editor.unet.forward(x, t, text.hidden, None)).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "raw weights exported: {diff}");
}

#[test]
fn zero_initialised_reward_modules_reproduce_stage_1_at_step_0() {
    let _serial = serial();
    let recipe = micro();
    let device = Device::flex();
    let data = Dataset::open(&recipe.data, recipe.model.resolution).unwrap();
    let (config, editor) = initial_editor(&recipe, &data, &device, &mut |_| {}).unwrap();
    let n = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([3, 6, 16, 16], n, &device);
    let t = Tensor::<1>::from_floats([10.0, 500.0, 990.0], &device);
    let text = editor.text_encoder.as_ref().unwrap().encode(config.vocab().unwrap(), &["make the circle red", "remove the square", ""], &device);
    let before = editor.unet.forward(x.clone(), t.clone(), text.hidden.clone(), None);

    let reward = RewardConditioningConfig { zero_init: true, null_dropout: 0.0 };
    let staged = attach_reward(editor, &config, &reward);
    let rewards = RewardInputs {
        scores: Tensor::from_floats([[5.0, 5.0, 5.0], [1.0, 2.5, 4.0], [0.0, 0.0, 0.0]], &device),
        pooled_text: Tensor::random([3, 16], n, &device),
        null: None,
    };
    let with_rewards = staged.unet.forward(x.clone(), t.clone(), text.hidden.clone(), Some(rewards));
    let with_null = staged.unet.forward(x, t, text.hidden, None);
    for after in [with_rewards, with_null] {
        let diff = (after - before.clone()).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-6, "zero-init reward modules changed the prediction by {diff}");
    }
}

#[test]
fn observed_dropout_rates_match_the_recipe() {
    let _serial = serial();
    let cfg = DropoutConfig { text: 0.10, image: 0.10, both: 0.05 };
    let n = 100_000;
    let d = dropout::draw(&cfg, n, &mut ChaCha8Rng::seed_from_u64(1));
    let rate = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / n as f64;
    let both: Vec<bool> = d.text.iter().zip(&d.image).map(|(a, b)| *a && *b).collect();
    assert!((rate(&d.text) - 0.10).abs() < 0.005, "text {}", rate(&d.text));
    assert!((rate(&d.image) - 0.10).abs() < 0.005, "image {}", rate(&d.image));
    assert!((rate(&both) - 0.05).abs() < 0.005, "both {}", rate(&both));

    // The reward embedder's null rows, fed the same draws.
    let device = Device::flex();
    let mut r = micro();
    r.stage = Stage::Reward;
    r.model.reward.null_dropout = 0.2;
    let data = Dataset::open(&r.data, 16).unwrap();
    let (_, editor) = initial_editor(&r, &data, &device, &mut |_| {}).unwrap();
    let module = editor.unet.reward.as_ref().unwrap();
    let inputs = RewardInputs { scores: Tensor::zeros([n, 3], &device), pooled_text: Tensor::zeros([n, 16], &device), null: None };
    let u = Tensor::<1>::from_data(TensorData::new(d.reward_uniforms, [n]), &device);
    let null = module.drop_rewards_with(inputs, u).null.unwrap();
    let observed = null.int().sum().into_scalar::<i64>() as f64 / n as f64;
    assert!((observed - 0.2).abs() < 0.005, "null reward rate {observed}");
}

#[test]
fn every_train_recipe_parses() {
    let _serial = serial();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "toml") && text.lines().any(|l| l.trim_start().starts_with("stage =")) {
            let recipe = TrainRecipe::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            recipe.resolved_toml().unwrap();
            n += 1;
        }
    }
    assert!(n >= 3, "expected the three teacher recipes, found {n}");
}

