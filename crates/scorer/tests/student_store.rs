//! The student folder (fp32 + int8 safetensors, config.json) and the StudentScorer on bad input.

mod student_support;

use std::sync::Arc;

use burn::prelude::*;
use image::RgbImage;
use rewardedit_scorer::student::batch::{image_tensor, token_tensor};
use rewardedit_models::int8::{dequantize_file, file_format, quantize_file, Granularity, FORMAT_V1, SCALE_SUFFIX};
use rewardedit_scorer::student::store::{to_safetensors_bytes, FP32_FILE, INT8_FILE};
use rewardedit_scorer::student::{load_student, save_student, Precision, StudentConfig, StudentNet, StudentOutput, TeacherExample};
use rewardedit_scorer::{ScoreError, ScoreRequest, Scorer, StudentScorer};
use safetensors::tensor::{Dtype, SafeTensors};
use student_support::{serial, tiny_config, world_examples};

fn forward(model: &StudentNet, config: &StudentConfig, ex: &[TeacherExample], device: &Device) -> StudentOutput {
    let pairs: Vec<_> = ex.iter().map(|e| (&e.source, &e.edited)).collect();
    let texts: Vec<&str> = ex.iter().map(|e| e.instruction.as_str()).collect();
    model.forward(image_tensor(&pairs, config.resolution, device), token_tensor(config, &texts, device))
}

fn flat(tensors: impl IntoIterator<Item = Tensor<2>>) -> Vec<f32> {
    tensors.into_iter().flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap()).collect()
}

/// Every output, the thresholded scores included: a round trip must reproduce them bit for bit.
fn outputs(model: &StudentNet, config: &StudentConfig, ex: &[TeacherExample], device: &Device) -> Vec<f32> {
    let out = forward(model, config, ex, device);
    flat([out.scores, out.verdict_logits])
}

/// The continuous outputs only. A score is exactly 5 where its perfect logit is positive, so on
/// an untrained network with a logit near 0 any weight change can move a score by ~2.5; int8
/// closeness is a property of the logits and the regression, not of that threshold.
fn continuous_outputs(model: &StudentNet, config: &StudentConfig, ex: &[TeacherExample], device: &Device) -> Vec<f32> {
    let out = forward(model, config, ex, device);
    flat([out.raw_scores, out.verdict_logits, out.perfect_logits])
}

#[test]
fn save_load_round_trip_gives_identical_outputs_and_int8_stays_close() {
    let _serial = serial();
    let ex = world_examples(21, 14);
    // The plain layout, per-block cross-attention, and the fusion transformer: every layout
    // must survive the folder.
    for (block_attention, fusion_layers) in [(false, 0), (true, 0), (false, 1)] {
        let config = StudentConfig { block_attention, fusion_layers, ..tiny_config(&ex) };
        let device = Device::flex();
        device.seed(4);
        let model = StudentNet::new(&config, &device);
        let dir = tempfile::tempdir().unwrap();
        save_student(dir.path(), &config, &model).unwrap();
        let fp32 = std::fs::read(dir.path().join(FP32_FILE)).unwrap();
        let names = SafeTensors::deserialize(&fp32).unwrap().names().into_iter().map(String::from).collect::<Vec<_>>();
        assert_eq!(names.iter().any(|n| n.contains("attention.proj_in")), block_attention, "{names:?}");
        assert_eq!(names.iter().any(|n| n.starts_with("fusion.")), fusion_layers > 0, "{names:?}");

        let (loaded_config, loaded) = load_student(dir.path(), Precision::Fp32, &device).unwrap();
        assert_eq!(loaded_config, config);
        assert_eq!(outputs(&model, &config, &ex, &device), outputs(&loaded, &config, &ex, &device));

        let (_, int8) = load_student(dir.path(), Precision::Int8, &device).unwrap();
        let (a, b) = (continuous_outputs(&model, &config, &ex, &device), continuous_outputs(&int8, &config, &ex, &device));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst > 0.0, "int8 weights should not be bit-identical to fp32");
        assert!(worst < 0.05, "int8 changes an output by {worst} (block_attention {block_attention}, fusion {fusion_layers})");
        let size = |f: &str| std::fs::metadata(dir.path().join(f)).unwrap().len();
        assert!(size(INT8_FILE) * 2 < size(FP32_FILE), "{} vs {}", size(INT8_FILE), size(FP32_FILE));
    }
}

#[test]
fn int8_file_round_trip_error_is_within_half_a_step_per_weight() {
    let ex = world_examples(22, 7);
    let config = tiny_config(&ex);
    let device = Device::flex();
    let fp32 = to_safetensors_bytes(&StudentNet::new(&config, &device)).unwrap();
    let int8 = quantize_file(&fp32, Granularity::PerTensor).unwrap();
    assert_eq!(file_format(&int8).unwrap().as_deref(), Some(FORMAT_V1));
    let back = dequantize_file(&int8).unwrap();
    let (orig, q, back) = (SafeTensors::deserialize(&fp32).unwrap(), SafeTensors::deserialize(&int8).unwrap(), SafeTensors::deserialize(&back).unwrap());
    let f32s = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    let mut quantized = 0;
    for name in orig.names() {
        let (o, r) = (orig.tensor(name).unwrap(), back.tensor(name).unwrap());
        assert_eq!(o.shape(), r.shape(), "{name}");
        let (ov, rv) = (f32s(o.data()), f32s(r.data()));
        if o.shape().len() >= 2 {
            quantized += 1;
            assert_eq!(q.tensor(name).unwrap().dtype(), Dtype::I8, "{name}");
            let scale = f32s(q.tensor(&format!("{name}{SCALE_SUFFIX}")).unwrap().data())[0];
            let max = ov.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!((scale - max / 127.0).abs() <= 1e-6 * max.max(1.0), "{name}: scale {scale}");
            for (x, y) in ov.iter().zip(&rv) {
                assert!((x - y).abs() <= scale / 2.0 + 1e-6, "{name}: {x} -> {y} (scale {scale})");
            }
        } else {
            assert_eq!(ov, rv, "{name}: rank-1 tensors stay f32");
        }
    }
    assert!(quantized >= 5, "only {quantized} tensors were quantized");
}

/// The committed students' int8 files were written before the format moved to the models crate
/// and gained per-channel scales: they are v1 (one scale per tensor) and still load.
#[test]
fn committed_v1_int8_students_still_load() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints");
    let device = Device::flex();
    // Whichever committed students are still v1 (a newly committed one is written as v2); at
    // least one must be, or v1 loading needs a fixture of its own.
    let mut v1 = 0;
    for name in ["student-scorer", "student-scorer-noisy"] {
        let dir = root.join(name);
        let bytes = std::fs::read(dir.join(INT8_FILE)).unwrap();
        if file_format(&bytes).unwrap().as_deref() != Some(FORMAT_V1) {
            continue;
        }
        v1 += 1;
        let (config, int8) = load_student(&dir, Precision::Int8, &device).unwrap();
        let (_, fp32) = load_student(&dir, Precision::Fp32, &device).unwrap();
        let ex = world_examples(27, 7);
        let (a, b) = (outputs(&fp32, &config, &ex, &device), outputs(&int8, &config, &ex, &device));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst > 0.0 && worst < 0.5, "{name}: int8 vs fp32 output gap {worst}");
    }
    assert!(v1 > 0, "no committed student scorer has a v1 int8 file");
}

fn request(source: RgbImage, edited: RgbImage, instruction: &str) -> ScoreRequest {
    ScoreRequest {
        id: "t".into(),
        source: Arc::new(source),
        edited: Arc::new(edited),
        instruction: instruction.into(),
        edit_type: None,
        provenance: serde_json::json!({}),
    }
}

#[test]
fn the_scorer_resizes_odd_images_and_rejects_empty_instructions() {
    let ex = world_examples(23, 7);
    let config = tiny_config(&ex);
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    save_student(dir.path(), &config, &StudentNet::new(&config, &device)).unwrap();
    let scorer = StudentScorer::load(dir.path(), Precision::Int8, &device).unwrap();

    let odd = [(1, 1), (200, 7), (3, 90), (16, 16)];
    for (w, h) in odd {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 3) as u8, 200]));
        let r = scorer.score(&request(img, RgbImage::new(33, 17), "make the red circle blue")).unwrap();
        for s in r.scores() {
            assert!((0.0..=5.0).contains(&s));
        }
        for a in rewardedit_core::Axis::ALL {
            assert!(!r.axis(a).flaw().is_empty());
        }
    }
    // An instruction of unknown words only still scores (all unknown tokens).
    assert!(scorer.score(&request(RgbImage::new(8, 8), RgbImage::new(8, 8), "zzz qqq ???")).is_ok());
    let err = scorer.score(&request(RgbImage::new(8, 8), RgbImage::new(8, 8), "   ")).unwrap_err();
    assert!(matches!(err, ScoreError::InvalidRequest(_)), "{err:?}");
    let err = scorer.score(&request(RgbImage::new(0, 0), RgbImage::new(8, 8), "make it blue")).unwrap_err();
    assert!(matches!(err, ScoreError::InvalidRequest(_)), "{err:?}");

    // Batched scoring agrees with one-at-a-time scoring, and fails bad requests alone.
    let reqs: Vec<_> = ex.iter().map(|e| request(e.source.clone(), e.edited.clone(), &e.instruction)).chain([request(RgbImage::new(4, 4), RgbImage::new(4, 4), "")]).collect();
    let many = scorer.score_many(&reqs, 3);
    for (r, m) in reqs.iter().zip(&many).take(ex.len()) {
        let one = scorer.score(r).unwrap();
        let m = m.as_ref().unwrap();
        for (a, b) in one.scores().iter().zip(m.scores()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
    assert!(matches!(many.last().unwrap(), Err(ScoreError::InvalidRequest(_))));
}

#[test]
fn a_folder_with_mismatched_weights_is_a_typed_error() {
    let ex = world_examples(24, 7);
    let config = tiny_config(&ex);
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    save_student(dir.path(), &config, &StudentNet::new(&config, &device)).unwrap();
    let mut wider = config.clone();
    wider.hidden = 32;
    std::fs::write(dir.path().join("config.json"), serde_json::to_string(&wider).unwrap()).unwrap();
    assert!(load_student(dir.path(), Precision::Fp32, &device).is_err());
    assert!(matches!(StudentScorer::load(dir.path(), Precision::Fp32, &device), Err(ScoreError::Config(_))));
    assert!(StudentScorer::load(&dir.path().join("missing"), Precision::Fp32, &device).is_err());
}

/// A folder written by an older network layout (config.json without `version`, or another
/// version) is refused with an error that names the version and says to retrain.
#[test]
fn a_config_of_another_version_is_refused_with_a_clear_error() {
    let ex = world_examples(26, 7);
    let config = tiny_config(&ex);
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    save_student(dir.path(), &config, &StudentNet::new(&config, &device)).unwrap();
    let path = dir.path().join("config.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["version"], 2);
    // Version 1 folders were written before the field existed.
    json.as_object_mut().unwrap().remove("version");
    for field in ["blocks", "groups"] {
        json.as_object_mut().unwrap().remove(field);
    }
    std::fs::write(&path, json.to_string()).unwrap();
    let err = load_student(dir.path(), Precision::Fp32, &device).unwrap_err().to_string();
    assert!(err.contains("version 1") && err.contains("retrain"), "{err}");
    json["version"] = 7.into();
    json["blocks"] = 1.into();
    json["groups"] = 4.into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = load_student(dir.path(), Precision::Fp32, &device).unwrap_err().to_string();
    assert!(err.contains("version 7") && err.contains("retrain"), "{err}");
}

/// burn's own in-memory int8 (Q8S, symmetric, per tensor) on the same weights agrees with our
/// int8 file: both store `round(w / (max|w| / 127))`.
#[test]
fn burn_q8s_quantization_matches_the_int8_file() {
    let _serial = serial();
    use burn::module::{Module, Quantizer};
    use burn::tensor::quantization::{Calibration, QuantValue, ScaleDtype};

    let ex = world_examples(25, 14);
    let config = tiny_config(&ex);
    let device = Device::flex();
    device.seed(9);
    let dir = tempfile::tempdir().unwrap();
    save_student(dir.path(), &config, &StudentNet::new(&config, &device)).unwrap();
    let (_, fp32) = load_student(dir.path(), Precision::Fp32, &device).unwrap();
    let (_, int8) = load_student(dir.path(), Precision::Int8, &device).unwrap();
    let scheme = device.settings().quantization.scheme.with_value(QuantValue::Q8S).per_tensor(ScaleDtype::F32);
    let burn_q8 = fp32.clone().quantize_weights(&mut Quantizer::new(Calibration::MinMax, scheme));
    let (ours, theirs, full) = (outputs(&int8, &config, &ex, &device), outputs(&burn_q8, &config, &ex, &device), outputs(&fp32, &config, &ex, &device));
    let gap = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    // burn also quantizes rank-1 tensors (biases), which our format keeps in f32, so the two
    // int8 models are close to each other and to fp32, not identical.
    assert!(gap(&ours, &theirs) < 0.05, "ours vs burn Q8S: {}", gap(&ours, &theirs));
    assert!(gap(&theirs, &full) < 0.05, "burn Q8S vs fp32: {}", gap(&theirs, &full));
}
