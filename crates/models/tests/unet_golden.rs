//! Our UNet against diffusers' (tests/golden, made by scripts/make_golden.py): plain, with the
//! authors' reward modules, with zero-initialised reward modules, and the null reward.

mod common;

use burn::prelude::*;
use common::{assert_close, golden, to_vec, Golden};
use rewardedit_core::RewardCondition;
use rewardedit_models::store::{load_safetensors, save_safetensors, LoadOptions, WeightFormat};
use rewardedit_models::unet::reward::{NUM_SCORES, SCORE_EMBED_DIM};
use rewardedit_models::unet::embeddings::timestep_embedding;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs, UNet2DConditionConfig, UNet2DConditionModel};

const TOL: f64 = 1e-4;

fn config() -> UNet2DConditionConfig {
    UNet2DConditionConfig::from_file(golden("unet_tiny_config.json")).unwrap()
}

fn plain(device: &Device) -> UNet2DConditionModel {
    let mut unet = UNet2DConditionModel::new(&config(), None, device).unwrap();
    load_safetensors(&mut unet, golden("unet_tiny.safetensors"), &LoadOptions::strict()).unwrap();
    unet
}

fn rewarded(device: &Device) -> UNet2DConditionModel {
    let mut unet = UNet2DConditionModel::new(&config(), Some(&RewardConditioningConfig::default()), device).unwrap();
    load_safetensors(&mut unet, golden("reward_unet_tiny.safetensors"), &LoadOptions::authors_checkpoint()).unwrap();
    unet
}

struct Inputs {
    sample: Tensor<4>,
    timestep: Tensor<1>,
    text: Tensor<3>,
}

fn inputs(g: &Golden, device: &Device) -> Inputs {
    Inputs {
        sample: g.tensor("sample", device),
        timestep: g.tensor("timestep", device),
        text: g.tensor("encoder_hidden_states", device),
    }
}

fn reward_inputs(g: &Golden, device: &Device) -> RewardInputs {
    RewardInputs { scores: g.tensor("scores", device), pooled_text: g.tensor("pooled_text", device), null: None }
}

#[test]
fn plain_unet_matches_diffusers() {
    let device = Device::flex();
    let g = Golden::open("unet_tiny_io.safetensors");
    let x = inputs(&g, &device);
    let out = plain(&device).forward(x.sample, x.timestep, x.text, None);
    assert_eq!(out.dims(), [2, 4, 16, 16]);
    assert_close("unet output", &to_vec(out), &g.vec("output"), TOL);
}

#[test]
fn reward_unet_matches_reference_forward() {
    let device = Device::flex();
    let g = Golden::open("reward_unet_tiny_io.safetensors");
    let x = inputs(&g, &device);
    let out = rewarded(&device).forward(x.sample, x.timestep, x.text, Some(reward_inputs(&g, &device)));
    assert_close("reward unet output", &to_vec(out), &g.vec("output"), TOL);
}

#[test]
fn zero_initialised_reward_modules_reproduce_the_plain_unet() {
    let device = Device::flex();
    let g = Golden::open("unet_tiny_io.safetensors");
    let zero = RewardConditioningConfig { zero_init: true, null_dropout: 0.0 };
    let unet = plain(&device).attach_reward(&config(), &zero);
    let rewards = RewardInputs::from_conditions(
        &[RewardCondition::Given { scores: [1.0, 4.5, 2.0], text: String::new() }, RewardCondition::Null],
        Tensor::random([2, 32], burn::tensor::Distribution::Normal(0.0, 1.0), &device),
    );
    let x = inputs(&g, &device);
    let out = unet.forward(x.sample, x.timestep, x.text, Some(rewards));
    assert_close("zero-init reward unet vs plain diffusers output", &to_vec(out), &g.vec("output"), TOL);
}

/// A null row must equal a given row whose reward equals the learned null reward.
#[test]
fn null_rows_take_the_learned_null_reward() {
    let device = Device::flex();
    let g = Golden::open("reward_unet_tiny_io.safetensors");
    let mut unet = rewarded(&device);
    let scores = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 2.0, 4.0], [1, NUM_SCORES]), &device);
    let pooled = g.tensor::<2>("pooled_text", &device).narrow(0, 0, 1);
    let module = unet.reward.as_mut().unwrap();
    let sinusoid = timestep_embedding(scores.clone().reshape([NUM_SCORES]), SCORE_EMBED_DIM, true, 0.0)
        .reshape([NUM_SCORES * SCORE_EMBED_DIM]);
    module.null_reward.scores = burn::module::Param::from_tensor(sinusoid);
    module.null_reward.text = burn::module::Param::from_tensor(pooled.clone().reshape([32]));

    // Two identical rows: row 0 null, row 1 given the same reward as the null one.
    let x = inputs(&g, &device);
    let row = |t: Tensor<4>| Tensor::cat(vec![t.clone().narrow(0, 0, 1), t.narrow(0, 0, 1)], 0);
    let text = x.text.clone().narrow(0, 0, 1);
    let rewards = RewardInputs {
        scores: Tensor::cat(vec![Tensor::zeros([1, 3], &device), scores], 0),
        pooled_text: Tensor::cat(vec![Tensor::zeros([1, 32], &device), pooled], 0),
        null: Some(Tensor::from_data(TensorData::new(vec![true, false], [2]), &device)),
    };
    let out = unet.forward(
        row(x.sample.clone()),
        Tensor::cat(vec![x.timestep.clone().narrow(0, 0, 1); 2], 0),
        Tensor::cat(vec![text.clone(), text], 0),
        Some(rewards),
    );
    let rows = to_vec(out);
    let half = rows.len() / 2;
    assert_close("null row vs equivalent given row", &rows[..half], &rows[half..], 1e-5);

    // `reward = None` means every row is null, so it differs from the golden given rewards.
    let none = unet.forward(x.sample, x.timestep, x.text, None);
    let diff = assert_close("(difference check)", &to_vec(none), &g.vec("output"), f64::INFINITY);
    assert!(diff > 1e-3, "null reward must differ from the given rewards");
}

#[test]
fn reward_dropout_marks_rows_below_the_probability() {
    let device = Device::flex();
    let cfg = RewardConditioningConfig { zero_init: false, null_dropout: 0.3 };
    let unet = UNet2DConditionModel::new(&config(), Some(&cfg), &device).unwrap();
    let module = unet.reward.as_ref().unwrap();
    let inputs = RewardInputs::from_conditions(
        &[RewardCondition::paper_default(), RewardCondition::Null, RewardCondition::paper_default()],
        Tensor::zeros([3, 32], &device),
    );
    let uniforms = Tensor::<1>::from_data(TensorData::new(vec![0.29f32, 0.9, 0.31], [3]), &device);
    let dropped = module.drop_rewards_with(inputs, uniforms);
    let mask = dropped.null.unwrap().into_data().try_to_vec::<bool>().unwrap();
    assert_eq!(mask, vec![true, true, false]);
}

#[test]
fn saved_reward_unet_has_the_checkpoint_layout_and_reloads() {
    let device = Device::flex();
    let unet = rewarded(&device);
    let dir = std::env::temp_dir().join(format!("rewardedit-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("unet.safetensors");
    save_safetensors(&unet, &path, WeightFormat::F32).unwrap();

    let saved = std::fs::read(&path).unwrap();
    let saved_st = safetensors::SafeTensors::deserialize(&saved).unwrap();
    let mut saved_names: Vec<String> = saved_st.names().into_iter().map(String::from).collect();
    saved_names.sort();
    let mut expected = Golden::open("reward_unet_tiny.safetensors").names();
    expected.extend(["null_reward.scores".to_string(), "null_reward.text".to_string()]);
    expected.sort();
    assert_eq!(saved_names, expected);
    // PyTorch layout: linear weights [out, in].
    assert_eq!(saved_st.tensor("text_linear2.weight").unwrap().shape(), &[64, 32]);
    // Byte-stable: saving the same weights again writes the same file (content fingerprints
    // such as the demo's cache keys depend on it).
    let second = dir.join("again.safetensors");
    for _ in 0..4 {
        save_safetensors(&unet, &second, WeightFormat::F32).unwrap();
        assert!(std::fs::read(&second).unwrap() == saved, "a second save of the same UNet wrote other bytes");
    }

    let mut again = UNet2DConditionModel::new(&config(), Some(&RewardConditioningConfig::default()), &device).unwrap();
    load_safetensors(&mut again, &path, &LoadOptions::strict()).unwrap();
    let g = Golden::open("reward_unet_tiny_io.safetensors");
    let x = inputs(&g, &device);
    let out = again.forward(x.sample, x.timestep, x.text, Some(reward_inputs(&g, &device)));
    assert_close("reloaded reward unet", &to_vec(out), &g.vec("output"), TOL);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The full-size reward UNet (SD 1.5 InstructPix2Pix + official-checkpoint.md's modules) has
/// exactly the reference's tensor names and shapes, plus our null reward. Built lazily: no
/// weights are allocated.
#[test]
fn sd15_reward_unet_layout_matches_diffusers_and_the_checkpoint_table() {
    let device = Device::flex();
    let unet = UNet2DConditionModel::new(&UNet2DConditionConfig::default(), Some(&RewardConditioningConfig::default()), &device).unwrap();
    let mut ours = rewardedit_models::store::tensor_layout(&unet);
    assert_eq!(ours.remove("null_reward.scores"), Some(vec![768]));
    assert_eq!(ours.remove("null_reward.text"), Some(vec![768]));
    let text = std::fs::read_to_string(golden("sd15_reward_unet_layout.json")).unwrap();
    let reference: std::collections::BTreeMap<String, Vec<usize>> = serde_json::from_str(&text).unwrap();
    let only_ours: Vec<_> = ours.keys().filter(|k| !reference.contains_key(*k)).collect();
    let only_ref: Vec<_> = reference.keys().filter(|k| !ours.contains_key(*k)).collect();
    assert!(only_ours.is_empty() && only_ref.is_empty(), "only ours: {only_ours:?}\nonly reference: {only_ref:?}");
    for (key, shape) in &reference {
        assert_eq!(&ours[key], shape, "{key}");
    }
    assert_eq!(reference.values().map(|s| s.iter().product::<usize>()).sum::<usize>(), ours.values().map(|s| s.iter().product::<usize>()).sum::<usize>());
}

/// `tensor_layout` reports what the loader accepts: the tiny golden file's names and shapes.
#[test]
fn tensor_layout_equals_the_loaded_files_header() {
    let device = Device::flex();
    let mut ours = rewardedit_models::store::tensor_layout(&rewarded(&device));
    ours.remove("null_reward.scores");
    ours.remove("null_reward.text");
    let header = rewardedit_models::import::read_header(golden("reward_unet_tiny.safetensors")).unwrap();
    let file: std::collections::BTreeMap<String, Vec<usize>> = header.into_iter().map(|(k, v)| (k, v.shape)).collect();
    assert_eq!(ours, file);
}

/// 15x13 inputs: the up path must upsample to the skip's odd size (nearest, floor mapping).
#[test]
fn odd_sized_input_matches_diffusers() {
    let device = Device::flex();
    let g = Golden::open("unet_tiny_odd_io.safetensors");
    let x = inputs(&g, &device);
    let out = plain(&device).forward(x.sample, x.timestep, x.text, None);
    assert_eq!(out.dims(), [1, 4, 15, 13]);
    assert_close("odd-sized unet output", &to_vec(out), &g.vec("output"), TOL);
}

/// Three blocks, two ResNets per block, two transformer blocks each, per-block head counts:
/// the skip bookkeeping and per-block lists of SD 1.5's shape, in miniature.
#[test]
fn deeper_unet_matches_diffusers() {
    let device = Device::flex();
    let config = UNet2DConditionConfig::from_file(golden("unet_deep_config.json")).unwrap();
    let mut unet = UNet2DConditionModel::new(&config, None, &device).unwrap();
    load_safetensors(&mut unet, golden("unet_deep.safetensors"), &LoadOptions::strict()).unwrap();
    let g = Golden::open("unet_deep_io.safetensors");
    let x = inputs(&g, &device);
    let out = unet.forward(x.sample, x.timestep, x.text, None);
    assert_close("deep unet output", &to_vec(out), &g.vec("output"), TOL);
}
