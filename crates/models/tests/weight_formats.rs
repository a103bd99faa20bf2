//! Editor folders saved as fp16, bf16 and int8 (`Editor::save_as`): half (or a quarter of) the
//! bytes, every tensor in the promised dtype, loaded by `Editor::load` as they are, with the
//! reward modules, and one UNet call close to the fp32 editor's.

use burn::prelude::*;
use rewardedit_core::{RewardCondition, Vocab};
use rewardedit_models::import::{check_editor_dir, read_header, UNET_WEIGHTS};
use rewardedit_models::int8::{FORMAT_V2, SCALE_SUFFIX};
use rewardedit_models::pipeline::presets::{world_editor, world_tiny_unet};
use rewardedit_models::pipeline::Editor;
use rewardedit_models::store::WeightFormat;
use rewardedit_models::unet::{RewardConditioningConfig, RewardInputs};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// burn's seed is global to the backend: tests that seed it run one at a time, so that each
/// test's two `unet_call`s draw the same inputs.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn editor(device: &Device) -> Editor {
    device.seed(5);
    let vocab = Vocab::build(["make the red circle blue", "none no unintended changes"]);
    world_editor(world_tiny_unet(), vocab, Some(&RewardConditioningConfig::default()), device).unwrap()
}

/// One conditional UNet call on fixed random inputs, with rewards (5, 4, 5).
fn unet_call(editor: &Editor) -> Tensor<4> {
    let device = editor.device();
    device.seed(11);
    let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
    let sample = Tensor::<4>::random([2, 6, 16, 16], normal, &device);
    let hidden = editor.text.encode(&["make the red circle blue"; 2], &device).unwrap().hidden;
    let pooled = editor.text.encode(&["None; None; None"; 2], &device).unwrap().pooled;
    let reward = RewardCondition::Given { scores: [5.0, 4.0, 5.0], text: "None; None; None".into() };
    let rewards = RewardInputs::from_conditions(&[reward.clone(), reward], pooled);
    let t = Tensor::<1>::from_data(TensorData::new(vec![500.0f32, 100.0], [2]), &device);
    editor.unet.forward(sample, t, hidden, Some(rewards))
}

fn relative_error(ours: Tensor<4>, reference: Tensor<4>) -> f32 {
    let d = ours - reference.clone();
    ((d.clone() * d).sum() / (reference.clone() * reference).sum()).sqrt().into_scalar::<f32>()
}

fn file_len(dir: &std::path::Path, name: &str) -> u64 {
    std::fs::metadata(dir.join(name)).unwrap().len()
}

#[test]
fn half_precision_folders_are_half_the_size_and_stay_within_half_precision_of_fp32() {
    let _serial = serial();
    let device = Device::flex();
    let fp32 = editor(&device);
    let reference = unet_call(&fp32);
    let dir32 = tempfile::tempdir().unwrap();
    fp32.save(dir32.path()).unwrap();
    // bf16 keeps 8 mantissa bits (relative step 2^-8), f16 11 (2^-11).
    for (format, dtype, tolerance) in [(WeightFormat::F16, "F16", 2e-3), (WeightFormat::Bf16, "BF16", 2e-2)] {
        let dir = tempfile::tempdir().unwrap();
        fp32.save_as(dir.path(), format).unwrap();
        let header = read_header(dir.path().join(UNET_WEIGHTS)).unwrap();
        assert!(header.values().all(|t| t.dtype == dtype), "{format:?}: every tensor is {dtype}");
        let (half, full) = (file_len(dir.path(), UNET_WEIGHTS), file_len(dir32.path(), UNET_WEIGHTS));
        // Half, plus the header (tensor names and shapes), which does not shrink.
        assert!(half * 100 < full * 52, "{format:?}: {half} bytes vs {full}");

        let loaded = Editor::load(dir.path(), &device).unwrap();
        assert!(loaded.has_reward());
        let err = relative_error(unet_call(&loaded), reference.clone());
        assert!(err > 0.0 && err < tolerance, "{format:?}: relative error {err}");
    }
}

#[test]
fn int8_folders_load_as_they_are_and_stay_close_to_fp32() {
    let _serial = serial();
    let device = Device::flex();
    let fp32 = editor(&device);
    let dir32 = tempfile::tempdir().unwrap();
    fp32.save(dir32.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fp32.save_as(dir.path(), WeightFormat::Int8).unwrap();

    let check = check_editor_dir(dir.path()).unwrap();
    assert!(check.ok(), "{:?}", check.parts);
    for part in &check.parts {
        assert_eq!(part.format.as_deref(), Some(FORMAT_V2), "{}", part.name);
        assert!(part.dtypes.get("I8").is_some_and(|&n| n > 0), "{}: {:?}", part.name, part.dtypes);
    }
    // Only weights of rank >= 2 are int8; biases and norms stay f32.
    let header = read_header(dir.path().join(UNET_WEIGHTS)).unwrap();
    assert_eq!(header["conv_in.weight"].dtype, "I8");
    assert_eq!(header["conv_in.weight"].scale, Some(vec![16]), "one scale per output channel");
    assert_eq!(header["conv_in.bias"].dtype, "F32");
    let (q, full) = (file_len(dir.path(), UNET_WEIGHTS), file_len(dir32.path(), UNET_WEIGHTS));
    assert!(q * 10 < full * 4, "{q} bytes vs {full}");

    let loaded = Editor::load(dir.path(), &device).unwrap();
    assert!(loaded.has_reward(), "the reward modules survive");
    let err = relative_error(unet_call(&loaded), unet_call(&fp32));
    assert!(err > 0.0 && err < 5e-2, "relative error {err}");
}

#[test]
fn an_int8_weight_without_its_scale_is_named_by_the_check_and_the_load() {
    let _serial = serial();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    editor(&device).save_as(dir.path(), WeightFormat::Int8).unwrap();
    let weights = dir.path().join(UNET_WEIGHTS);
    let bytes = std::fs::read(&weights).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let dropped = format!("conv_in.weight{SCALE_SUFFIX}");
    let kept: Vec<(String, TensorView)> = st.tensors().into_iter().filter(|(k, _)| *k != dropped).collect();
    let metadata = SafeTensors::read_metadata(&bytes).unwrap().1.metadata().clone();
    safetensors::serialize_to_file(kept, metadata, &weights).unwrap();

    let check = check_editor_dir(dir.path()).unwrap();
    assert!(!check.ok());
    assert!(check.parts[0].mismatched.iter().any(|m| m.starts_with("conv_in.weight: int8 tensor without")), "{:?}", check.parts[0].mismatched);
    let err = Editor::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("conv_in.weight") && err.contains("without its"), "{err}");
    assert!(st.tensor("conv_in.weight").unwrap().dtype() == Dtype::I8);
}
