//! SD (latent-space) training on the tiny golden InstructPix2Pix folder (tests/golden/ip2p_tiny:
//! CLIP text encoder, AutoencoderKL, 8-channel UNet): stage 2 from a vanilla InstructPix2Pix
//! folder lowers the loss on a fixed batch, keeps the folder's noise schedule, leaves the VAE
//! and CLIP untouched, resumes exactly, and exports an editor folder that `edit` loads; stage 2
//! also continues the authors' reward checkpoint; an SD teacher distils into an SD student; the
//! recipe refuses what latent training cannot do.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use rewardedit_core::RewardCondition;
use rewardedit_models::pipeline::{self, edit, EditRequest, EditSettings, SpaceKind};
use rewardedit_models::schedulers::{NoiseSchedule, SchedulerKind};
use rewardedit_train::data::Dataset;
use rewardedit_models::store::tensor_layout;
use rewardedit_models::unet::{RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel};
use rewardedit_train::distill::student::student_config;
use rewardedit_train::distill::{distill, DistillRecipe};
use rewardedit_train::editor::{Editor, EditorConfig, Encoders};
use rewardedit_train::recipe::{Init, TrainRecipe};
use rewardedit_train::trainer::{draw_rng, frozen_encoders, initial_editor, micro_batch_loss, optimizer};
use rewardedit_train::{train, TrainOptions};
use support::{device, serial};

fn ip2p_tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/ip2p_tiny")
}

/// Stage 2 of the tiny SD editor on 16 px world triplets (8 x 8 latents).
fn recipe() -> TrainRecipe {
    let text = format!(
        concat!(
            r#"
stage = "reward"
[model]
space = "latent"
resolution = 16
[model.text]
kind = "clip"
[model.reward]
zero_init = false
null_dropout = 0.1
[init]
from = "editor"
path = "{}"
"#,
            world_data!(),
            r#"[optim]
seed = 5
steps = 4
batch_size = 4
lr = 2e-3
warmup_steps = 0
[run]
log_every = 1
checkpoint_every = 2
keep_checkpoints = 2
"#
        ),
        ip2p_tiny().display()
    );
    TrainRecipe::from_toml(&text).unwrap()
}

#[test]
fn sd_stage_2_from_an_instructpix2pix_folder_lowers_the_loss_on_a_fixed_batch() {
    let _serial = serial();
    let recipe = recipe();
    let device = device();
    let data = Dataset::open(&recipe.data, recipe.model.resolution).unwrap();
    let (config, mut model) = initial_editor(&recipe, &data, &device, &mut |_| {}).unwrap();
    assert!(matches!(config.encoders, Encoders::Frozen { .. }) && model.text_encoder.is_none(), "only the UNet trains");
    assert!(config.reward.is_some(), "stage 2 attaches the reward modules");
    let folder = pipeline::Editor::load(ip2p_tiny(), &Device::flex()).unwrap();
    assert_eq!(config.noise, folder.schedule, "no [noise] in the recipe: the folder's schedule is kept");

    let frozen = frozen_encoders(&config, &device, &mut |_| {}).unwrap();
    let frozen = frozen.as_ref();
    assert!(frozen.is_some());
    let schedule = NoiseSchedule::new(&config.noise);
    let batch = data.batch(recipe.optim.seed, 0, 4).unwrap();
    let loss = |m: &Editor| micro_batch_loss(m, &config, frozen, &recipe, &schedule, &batch, &mut draw_rng(1, 0), &device).unwrap();
    let before = loss(&model).into_scalar::<f32>();
    let mut optim = optimizer(&recipe.optim);
    for _ in 0..25 {
        let l = loss(&model);
        let grads = GradientsParams::from_grads(l.backward(), &model);
        assert!(!grads.is_empty());
        model = optim.step(2e-3, model, grads);
    }
    let after = loss(&model).into_scalar::<f32>();
    assert!(after < 0.7 * before, "loss {before} -> {after}");
}

#[test]
fn an_sd_run_resumes_exactly_keeps_vae_and_clip_frozen_and_exports_an_editor_that_edits() {
    let _serial = serial();
    let recipe = recipe();
    let tmp = tempfile::tempdir().unwrap();
    let whole = train(&recipe, &tmp.path().join("whole"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let split = tmp.path().join("split");
    let first = train(&recipe, &split, &TrainOptions { resume: false, stop_after: Some(2) }, &device(), &mut |_| {}).unwrap();
    assert!(first.editor_dir.is_none());
    let rest = train(&recipe, &split, &TrainOptions { resume: true, stop_after: None }, &device(), &mut |_| {}).unwrap();
    let resumed: Vec<f32> = first.losses.iter().chain(&rest.losses).copied().collect();
    assert_eq!(resumed, whole.losses, "a resumed SD run repeats the uninterrupted one");

    let flex = Device::flex();
    let init = pipeline::Editor::load(ip2p_tiny(), &flex).unwrap();
    let trained = pipeline::Editor::load(whole.editor_dir.unwrap(), &flex).unwrap();
    assert_eq!(trained.space.kind(), SpaceKind::Latent);
    assert!(trained.has_reward());
    assert_eq!(trained.schedule, init.schedule);

    // The frozen parts are the folder's, bit for bit; the UNet has moved.
    let prompts = ["make the circle red", ""];
    let hidden = |e: &pipeline::Editor| e.text.encode(&prompts, &flex).unwrap().hidden;
    let text_diff = (hidden(&trained) - hidden(&init)).abs().max().into_scalar::<f32>();
    assert_eq!(text_diff, 0.0, "CLIP is frozen");
    let images = Tensor::<4>::random([1, 3, 16, 16], Distribution::Uniform(-1.0, 1.0), &flex);
    let vae_diff = (trained.space.condition(images.clone()) - init.space.condition(images)).abs().max().into_scalar::<f32>();
    assert_eq!(vae_diff, 0.0, "the VAE is frozen");
    let w = |e: &pipeline::Editor| e.unet.conv_in.weight.val();
    assert!((w(&trained) - w(&init)).abs().max().into_scalar::<f32>() > 0.0, "the UNet trained");

    // The exported folder edits as any editor folder does, at the rewards the user asks for.
    let image = image::RgbImage::from_fn(20, 12, |x, y| image::Rgb([(x * 12) as u8, (y * 20) as u8, 90]));
    let request = EditRequest { image, instruction: "make the circle red".into(), reward: RewardCondition::paper_default() };
    let settings = EditSettings { steps: 2, scheduler: SchedulerKind::Ddim, ..EditSettings::default() };
    let out = edit(&trained, &[request], &settings, &mut |_, _| {}).unwrap();
    assert_eq!(out[0].dimensions(), (20, 12), "the input's size comes back");
}

#[test]
fn stage_2_continues_from_the_authors_reward_checkpoint() {
    let _serial = serial();
    // The authors' layout (official-checkpoint.md): ip2p_tiny with the golden reward UNet (fp16,
    // reward modules under the authors' names, no null reward).
    let tmp = tempfile::tempdir().unwrap();
    let authors = tmp.path().join("authors");
    copy_dir(&ip2p_tiny(), &authors);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/reward_unet_tiny.safetensors");
    std::fs::copy(golden, authors.join("unet/diffusion_pytorch_model.safetensors")).unwrap();
    let mut recipe = recipe();
    recipe.init = Init::Editor { path: authors.clone() };
    recipe.optim.steps = 2;

    // The run starts from the authors' reward modules, not fresh ones.
    let data = Dataset::open(&recipe.data, recipe.model.resolution).unwrap();
    let (_, editor) = initial_editor(&recipe, &data, &device(), &mut |_| {}).unwrap();
    let theirs = pipeline::Editor::load(&authors, &Device::flex()).unwrap();
    let w = |r: &rewardedit_models::unet::reward::RewardConditioning| r.add_embedding.linear_1.weight.val().without_autodiff();
    let diff = (w(editor.unet.reward.as_ref().unwrap()) - w(theirs.unet.reward.as_ref().unwrap())).abs().max().into_scalar::<f32>();
    assert_eq!(diff, 0.0, "the authors' reward modules are kept");

    let out = train(&recipe, &tmp.path().join("run"), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    let unet_file = "unet/diffusion_pytorch_model.safetensors";
    let saved = rewardedit_models::import::read_header(out.editor_dir.unwrap().join(unet_file)).unwrap();
    let original = rewardedit_models::import::read_header(authors.join(unet_file)).unwrap();
    let lost: Vec<&String> = original.keys().filter(|k| !saved.contains_key(*k)).collect();
    assert!(lost.is_empty(), "every tensor keeps the authors' name: {lost:?}");
    assert_eq!(saved.len(), original.len() + 2, "plus our null reward (scores, text)");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn an_sd_teacher_distils_into_a_smaller_fewer_step_sd_student() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        concat!(
            r#"
teacher = "{}"
teacher_steps = 8
resolution = 16
null_dropout = 0.0
[student]
block_out_channels = [8, 16]
[compress]
steps = 2
lr = 1e-3
[progressive]
rounds = 1
steps = 2
lr = 5e-4
"#,
            world_data!(),
            r#"[optim]
seed = 2
batch_size = 2
warmup_steps = 0
[run]
log_every = 1
checkpoint_every = 2
keep_checkpoints = 2
"#
        ),
        ip2p_tiny().display()
    );
    let recipe = DistillRecipe::from_toml(&text).unwrap();
    let out = distill(&recipe, tmp.path(), &TrainOptions::default(), &device(), &mut |_| {}).unwrap();
    assert_eq!(out.student_steps, 4);
    let flex = Device::flex();
    let teacher = pipeline::Editor::load(ip2p_tiny(), &flex).unwrap();
    let student = pipeline::Editor::load(out.editor_dir.unwrap(), &flex).unwrap();
    assert_eq!(student.space.kind(), SpaceKind::Latent);
    assert_eq!(student.unet_config.block_out_channels, vec![8, 16]);
    assert!(student.unet.num_params() * 3 < teacher.unet.num_params(), "about a quarter of the teacher's UNet");
    assert_eq!(student.config.defaults.steps, 4);
}

#[test]
fn the_sd15_student_recipe_makes_a_smaller_student_that_starts_from_the_teacher() {
    let _serial = serial();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let recipe = DistillRecipe::load(&root.join("sd15-student.toml")).unwrap();
    assert_eq!(recipe.student_steps(), 8);
    // The SD 1.5 reward editor (diffusers' InstructPix2Pix UNet config is the default).
    let teacher = EditorConfig {
        unet: UNet2DConditionConfig::default(),
        encoders: Encoders::Frozen { dir: "runs/sd15-reward-stage2/editor".into() },
        reward: Some(RewardConditioningConfig::default()),
        noise: Default::default(),
    };
    let student = student_config(&teacher, &recipe.student).unwrap();
    // Parameters are lazy: the layouts cost nothing at SD size.
    let flex = Device::flex();
    let layout = |c: &EditorConfig| tensor_layout(&UNet2DConditionModel::new(&c.unet, c.reward.as_ref(), &flex).unwrap());
    let (t, s) = (layout(&teacher), layout(&student));
    let params = |l: &BTreeMap<String, Vec<usize>>| l.values().map(|s| s.iter().product::<usize>()).sum::<usize>();
    let ratio = params(&s) as f64 / params(&t) as f64;
    assert!((0.5..0.8).contains(&ratio), "student / teacher UNet parameters = {ratio:.3}");
    let shared = s.iter().filter(|(k, shape)| t.get(*k) == Some(*shape)).count();
    assert!(shared * 10 > s.len() * 9, "{shared} of {} student tensors start from the teacher", s.len());
    assert!(s.keys().any(|k| k.starts_with("add_embedding.")), "the student keeps the reward modules");
}

#[test]
fn latent_recipes_refuse_what_latent_training_cannot_do() {
    // It loads a folder and builds reward modules: one at a time with the others (device seed).
    let _serial = serial();
    let ok = recipe().resolved_toml().unwrap();
    let world_text = ok.replace("kind = \"clip\"", "kind = \"world\"\ndim = 32\nlayers = 1\nheads = 2\nmax_tokens = 16");
    let err = TrainRecipe::from_toml(&world_text).unwrap_err().to_string();
    assert!(err.contains("CLIP"), "{err}");
    let scratch = ok.replace("from = \"editor\"", "from = \"scratch\"").replace(&format!("path = \"{}\"\n", ip2p_tiny().display()), "");
    let err = TrainRecipe::from_toml(&scratch).unwrap_err().to_string();
    assert!(err.contains("starts from an editor folder"), "{err}");

    // Folders whose parts cannot train together are refused when the run opens them.
    let data = Dataset::open(&recipe().data, 16).unwrap();
    let tmp_root = tempfile::tempdir().unwrap();
    let broken = |name: &str, change: &dyn Fn(&Path)| {
        let dir = tmp_root.path().join(name);
        copy_dir(&ip2p_tiny(), &dir);
        change(&dir);
        let mut r = recipe();
        r.init = Init::Editor { path: dir };
        initial_editor(&r, &data, &device(), &mut |_| {}).unwrap_err().to_string()
    };
    let err = broken("no-vae", &|d| std::fs::remove_dir_all(d.join("vae")).unwrap());
    assert!(err.contains("without vae/"), "{err}");
    let err = broken("wide-clip", &|d| {
        let path = d.join("text_encoder/config.json");
        let text = std::fs::read_to_string(&path).unwrap().replace("\"hidden_size\": 32", "\"hidden_size\": 64");
        std::fs::write(path, text).unwrap();
    });
    assert!(err.contains("cross_attention_dim"), "{err}");

    // 15 px images cannot pass the tiny VAE (downscale 2): refused before the first step.
    let odd = TrainRecipe::from_toml(&ok.replace("resolution = 16", "resolution = 15")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = train(&odd, tmp.path(), &TrainOptions::default(), &device(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("15x15 px") && err.contains("multiples of 2"), "{err}");
}
