//! The drift of a quantized editor (`rewardedit quantize`'s measurement): an int8 editor folder,
//! opened as `--editor DIR` opens it, edits world scenes close to its fp32 source; calibration
//! sets are the world benchmark or a manifest.

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;
use rewardedit_core::manifest::{ManifestWriter, MANIFEST_FILE};
use rewardedit_core::{EditExample, EditType, Vocab};
use rewardedit_eval::quantization::{measure_drift, CalibrationSet};
use rewardedit_eval::stats::PSNR_CAP_DB;
use rewardedit_eval::{open_editor_dir, EditInput, WorldSpec};
use rewardedit_models::pipeline::presets::{world_editor, world_tiny_unet};
use rewardedit_models::pipeline::{EditSettings, Editor};
use rewardedit_models::store::WeightFormat;
use rewardedit_models::unet::RewardConditioningConfig;

/// A random-weight reward editor saved in `dir/fp32` and `dir/int8`.
fn save_both(dir: &Path, device: &Device) {
    let vocab = Vocab::build(["make the red circle blue", "remove the star", "none no unintended changes"]);
    let editor = world_editor(world_tiny_unet(), vocab, Some(&RewardConditioningConfig::default()), device).unwrap();
    editor.save(dir.join("fp32")).unwrap();
    editor.save_as(dir.join("int8"), WeightFormat::Int8).unwrap();
}

#[test]
fn an_int8_editor_edits_world_scenes_close_to_its_fp32_source() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    save_both(dir.path(), &device);
    let reference = Editor::load(dir.path().join("fp32"), &device).unwrap();
    let quantized = Editor::load(dir.path().join("int8"), &device).unwrap();
    let items = CalibrationSet::World.items(&WorldSpec::builtin(), 3).unwrap();
    let settings = EditSettings { steps: 4, max_side: Some(32), ..EditSettings::default() };

    let drift = measure_drift(&reference, &quantized, &items, &settings, &mut |_| {}).unwrap();
    assert_eq!((drift.items, drift.per_item.len()), (3, 3));
    assert!(drift.unet_relative_error_max > 0.0 && drift.unet_relative_error_max < 0.05, "{drift:?}");
    // Below the cap: the int8 edit is not the fp32 edit, but within 30 dB of it.
    assert!(drift.psnr_db_min > 30.0 && drift.psnr_db_min < PSNR_CAP_DB, "{drift:?}");

    // An editor against itself: no error at all.
    let same = measure_drift(&reference, &reference, &items[..1], &settings, &mut |_| {}).unwrap();
    assert_eq!((same.unet_relative_error_max, same.psnr_db_min), (0.0, PSNR_CAP_DB));

    // The int8 folder is an ordinary editor to a benchmark run.
    let editor = open_editor_dir(&dir.path().join("int8"), &device).unwrap();
    let source = items[0].source.load().unwrap();
    let settings = rewardedit_eval::EditSettings { steps: Some(2), max_side: Some(32), ..Default::default() };
    let edited = editor.edit(&EditInput { source: &source, instruction: &items[0].instruction, settings: &settings, seed: 0 }).unwrap();
    assert_eq!(edited.dimensions(), source.dimensions());
}

#[test]
fn calibration_sets_are_the_world_or_a_manifest() {
    assert_eq!("world".parse::<CalibrationSet>().unwrap(), CalibrationSet::World);
    let dir = tempfile::tempdir().unwrap();
    for name in ["s.png", "e.png"] {
        RgbImage::new(8, 8).save(dir.path().join(name)).unwrap();
    }
    let mut writer = ManifestWriter::create(dir.path().join(MANIFEST_FILE)).unwrap();
    for id in ["a", "b"] {
        writer
            .write(&EditExample {
                id: id.into(),
                source: "s.png".into(),
                edited: "e.png".into(),
                instruction: "make it blue".into(),
                edit_type: EditType::Global,
                rewards: None,
                target: None,
                mask: None,
                provenance: serde_json::json!({}),
            })
            .unwrap();
    }
    drop(writer);
    // A bare folder is a manifest folder.
    let set: CalibrationSet = dir.path().to_str().unwrap().parse().unwrap();
    let items = set.items(&WorldSpec::builtin(), 1).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].id.as_str(), items[0].instruction.as_str()), ("a", "make it blue"));
    assert_eq!(items[0].source.load().unwrap().dimensions(), (8, 8));

    let err = "nosuchformat:x".parse::<CalibrationSet>().unwrap_err();
    assert!(err.is_bad_input() && err.to_string().contains("world"), "{err}");
    let missing: CalibrationSet = dir.path().join("missing").to_str().unwrap().parse().unwrap();
    assert!(missing.items(&WorldSpec::builtin(), 1).unwrap_err().is_bad_input());
}
