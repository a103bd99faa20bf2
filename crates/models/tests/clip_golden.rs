//! The CLIP tokenizer and text encoder against transformers: ids, hidden states, pooled states;
//! both key layouts; fp16; strict loading; save and reload.

mod common;

use burn::prelude::*;
use common::{assert_close, edited, expect_mismatch, golden, rename_keys, to_vec, Golden, TempDir};
use rewardedit_models::import::{
    load_text_encoder_dir, load_tokenizer_dir, read_header, save_text_encoder_dir, TEXT_ENCODER_CONFIG,
    TEXT_ENCODER_WEIGHTS,
};
use rewardedit_models::store::{load_safetensors, load_safetensors_bytes, LoadOptions, WeightFormat};
use rewardedit_models::text::{CLIPTextConfig, CLIPTextModel, ClipTokenizer};
use rewardedit_models::ModelError;
use safetensors::Dtype;

const TOL: f64 = 1e-4;

fn sentences() -> Vec<String> {
    serde_json::from_str(&std::fs::read_to_string(golden("clip_tiny_sentences.json")).unwrap()).unwrap()
}

fn folder_weights() -> std::path::PathBuf {
    golden(&format!("ip2p_tiny/{TEXT_ENCODER_WEIGHTS}"))
}

fn config() -> CLIPTextConfig {
    CLIPTextConfig::from_file(golden(&format!("ip2p_tiny/{TEXT_ENCODER_CONFIG}"))).unwrap()
}

fn load_bytes(bytes: Vec<u8>) -> Result<CLIPTextModel, ModelError> {
    let mut clip = CLIPTextModel::new(&config(), &Device::flex())?;
    load_safetensors_bytes(&mut clip, bytes, &LoadOptions::strict())?;
    Ok(clip)
}

fn ids(g: &Golden, name: &str, device: &Device) -> Tensor<2, Int> {
    let (v, shape) = g.values(name);
    Tensor::from_data(TensorData::new(v.into_iter().map(|x| x as i64).collect::<Vec<_>>(), shape), device)
}

/// Encodes the golden ids and compares hidden and pooled states with transformers'.
fn check_against_transformers(clip: &CLIPTextModel, io: &str, what: &str) {
    let device = Device::flex();
    let g = Golden::open(io);
    let out = clip.forward(ids(&g, "ids", &device)).unwrap();
    assert_close(&format!("{what}: hidden"), &to_vec(out.hidden), &g.vec("hidden"), TOL);
    assert_close(&format!("{what}: pooled"), &to_vec(out.pooled), &g.vec("pooled"), TOL);
}

#[test]
fn tokenizer_matches_transformers_clip_tokenizer() {
    let tok = load_tokenizer_dir(golden("ip2p_tiny")).unwrap();
    assert_eq!((tok.bos_id, tok.eos_id, tok.pad_id, tok.max_length), (765, 766, 766, 77));
    let g = Golden::open("clip_tiny_io.safetensors");
    let (reference, _) = g.values("ids");
    let lengths = g.vec("lengths");
    for (i, text) in sentences().iter().enumerate() {
        let ours: Vec<f64> = tok.encode(text).unwrap().into_iter().map(f64::from).collect();
        assert_eq!(ours, reference[i * 77..(i + 1) * 77], "ids of {text:?}");
        // The framing: unpadded length as transformers' attention mask counts it.
        assert_eq!((tok.tokenize(text).unwrap().len() + 2).min(77) as f64, lengths[i], "length of {text:?}");
    }
}

#[test]
fn tokenizer_json_gives_the_same_ids() {
    // A folder with transformers' fast-tokenizer file instead of vocab.json + merges.txt.
    let dir = TempDir::new("tok-json");
    // With padding and truncation settings of its own, which must not change our framing.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden("clip_tiny_tokenizer.json")).unwrap()).unwrap();
    json["padding"] = serde_json::json!({"strategy": {"Fixed": 10}, "direction": "Right", "pad_to_multiple_of": null,
        "pad_id": 0, "pad_type_id": 0, "pad_token": "!"});
    json["truncation"] = serde_json::json!({"direction": "Right", "max_length": 5, "strategy": "LongestFirst", "stride": 0});
    dir.write("tokenizer.json", json.to_string().as_bytes());
    dir.copy(&golden("ip2p_tiny/tokenizer/tokenizer_config.json"), "tokenizer_config.json");
    let from_json = ClipTokenizer::from_dir(&dir.0).unwrap();
    let from_bpe = load_tokenizer_dir(golden("ip2p_tiny")).unwrap();
    assert_eq!((from_json.bos_id, from_json.eos_id, from_json.pad_id), (765, 766, 766));
    for text in sentences() {
        assert_eq!(from_json.encode(&text).unwrap(), from_bpe.encode(&text).unwrap(), "{text:?}");
    }
}

#[test]
fn tokenizer_batch_is_a_tensor_of_framed_ids() {
    let tok = load_tokenizer_dir(golden("ip2p_tiny")).unwrap();
    let batch = tok.encode_batch(&["make the sky blue", ""], &Device::flex()).unwrap();
    assert_eq!(batch.dims(), [2, 77]);
    let v: Vec<i64> = batch.into_data().iter::<i64>().collect();
    assert_eq!(&v[77..80], &[765, 766, 766]);
    assert_eq!(v[0], 765);
}

#[test]
fn tokenizer_folder_without_merges_names_the_file() {
    let dir = TempDir::new("tok-missing");
    dir.copy(&golden("ip2p_tiny/tokenizer/vocab.json"), "tokenizer/vocab.json");
    let err = ClipTokenizer::from_dir(dir.0.join("tokenizer")).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("merges.txt"), "{err}");
}

#[test]
fn text_encoder_folder_matches_transformers() {
    let import = load_text_encoder_dir(golden("ip2p_tiny"), &Device::flex()).unwrap();
    assert_eq!(import.config.hidden_size, 32);
    assert_eq!(import.tensors, 36);
    check_against_transformers(&import.model, "clip_tiny_io.safetensors", "clip");
}

#[test]
fn tokenizer_and_text_encoder_together_reproduce_the_pipeline() {
    let device = Device::flex();
    let tok = load_tokenizer_dir(golden("ip2p_tiny")).unwrap();
    let clip = load_text_encoder_dir(golden("ip2p_tiny"), &device).unwrap().model;
    let texts = sentences();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let out = clip.forward(tok.encode_batch(&refs, &device).unwrap()).unwrap();
    let g = Golden::open("clip_tiny_io.safetensors");
    assert_close("text -> hidden", &to_vec(out.hidden), &g.vec("hidden"), TOL);
    assert_close("text -> pooled", &to_vec(out.pooled), &g.vec("pooled"), TOL);
}

#[test]
fn transformers_5_keys_without_the_text_model_prefix_load() {
    let bytes = edited(&folder_weights(), |m| rename_keys(m, |k| k.strip_prefix("text_model.").map(String::from)));
    check_against_transformers(&load_bytes(bytes).unwrap(), "clip_tiny_io.safetensors", "unprefixed keys");
}

#[test]
fn fp16_text_encoder_matches_the_rounded_reference() {
    let mut clip = CLIPTextModel::new(&config(), &Device::flex()).unwrap();
    load_safetensors(&mut clip, golden("clip_tiny_fp16.safetensors"), &LoadOptions::strict()).unwrap();
    check_against_transformers(&clip, "clip_tiny_fp16_io.safetensors", "fp16 clip");
}

#[test]
fn missing_unexpected_and_mis_shaped_clip_tensors_are_named() {
    let key = "text_model.encoder.layers.1.mlp.fc2.bias";
    expect_mismatch(load_bytes(edited(&folder_weights(), |m| drop(m.remove(key).unwrap()))), &format!("missing tensors: {key}"));

    let extra = "text_model.embeddings.position_ids";
    let bytes = edited(&folder_weights(), |m| drop(m.insert(extra.into(), (Dtype::F32, vec![2], vec![0; 8]))));
    expect_mismatch(load_bytes(bytes), &format!("unexpected tensors: {extra}"));

    let key = "text_model.embeddings.token_embedding.weight";
    let bytes = edited(&folder_weights(), |m| {
        let (_, shape, data) = m.get_mut(key).unwrap();
        *shape = vec![700, 32];
        data.truncate(700 * 32 * 4);
    });
    expect_mismatch(load_bytes(bytes), key);
}

#[test]
fn text_encoder_saves_in_sd15_layout_and_reloads() {
    let device = Device::flex();
    let import = load_text_encoder_dir(golden("ip2p_tiny"), &device).unwrap();
    let out = TempDir::new("clip-saved");
    save_text_encoder_dir(&import.model, &import.config, &out.0, WeightFormat::F32).unwrap();
    assert_eq!(read_header(out.0.join(TEXT_ENCODER_WEIGHTS)).unwrap(), read_header(folder_weights()).unwrap());
    let again = load_text_encoder_dir(&out.0, &device).unwrap();
    assert_eq!(again.config, import.config);
    check_against_transformers(&again.model, "clip_tiny_io.safetensors", "reloaded clip");
}

#[test]
fn token_ids_outside_the_vocabulary_or_too_many_are_errors() {
    let device = Device::flex();
    let clip = CLIPTextModel::new(&config(), &device).unwrap();
    let too_big = Tensor::<2, Int>::from_data(TensorData::new(vec![765i64, 767, 766], [1, 3]), &device);
    assert!(matches!(clip.forward(too_big), Err(ModelError::InvalidInput(m)) if m.contains("767")));
    let too_long = Tensor::<2, Int>::zeros([1, 78], &device);
    assert!(matches!(clip.forward(too_long), Err(ModelError::InvalidInput(m)) if m.contains("78")));
}
