//! The editing pipeline end to end on tiny pixel-space world editors (random weights): the
//! reward modules' zero initialisation, sizes and aspect ratios, reward guidance at scale 1, and
//! the editor folder (save/load round trip, tensor check).

use burn::prelude::*;
use image::RgbImage;
use rewardedit_core::{RewardCondition, Vocab};
use rewardedit_models::import::check_editor_dir;
use rewardedit_models::pipeline::presets::{world_editor, world_tiny_unet};
use rewardedit_models::pipeline::{edit, EditRequest, EditSettings, Editor};
use rewardedit_models::schedulers::SchedulerKind;
use rewardedit_models::unet::RewardConditioningConfig;

fn vocab() -> Vocab {
    Vocab::build(["make the red circle blue", "remove the star", "none no unintended changes"])
}

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 11 % 256) as u8, ((x + y) * 5 % 256) as u8]))
}

fn request(image: RgbImage, reward: RewardCondition) -> EditRequest {
    EditRequest { image, instruction: "make the red circle blue".into(), reward }
}

fn settings() -> EditSettings {
    EditSettings { steps: 3, seed: 7, ..EditSettings::default() }
}

fn run(editor: &Editor, requests: &[EditRequest], settings: &EditSettings) -> Vec<RgbImage> {
    edit(editor, requests, settings, &mut |_, _| {}).unwrap()
}

fn max_diff(a: &RgbImage, b: &RgbImage) -> i32 {
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as i32 - *y as i32).abs()).max().unwrap()
}

#[test]
fn zero_initialised_reward_modules_reproduce_the_plain_edit() {
    let device = Device::flex();
    let plain = world_editor(world_tiny_unet(), vocab(), None, &device).unwrap();
    let zero = RewardConditioningConfig { zero_init: true, null_dropout: 0.0 };
    let Editor { unet, unet_config, text, space, schedule, config } = plain;
    let plain_unet = unet.clone();
    let rewarded = Editor::new(unet.attach_reward(&unet_config, &zero), unet_config.clone(), text, space, schedule.clone(), config.clone()).unwrap();

    let image = picture(20, 12);
    let rewarded_out = run(&rewarded, &[request(image.clone(), RewardCondition::paper_default())], &settings());
    // With reward guidance too: the null-reward branch predicts the same, so nothing moves.
    let guided = EditSettings { reward_cfg: 3.0, ..settings() };
    let rewarded_guided = run(&rewarded, &[request(image.clone(), RewardCondition::paper_default())], &guided);
    let Editor { text, space, .. } = rewarded;
    let plain = Editor::new(plain_unet, unet_config, text, space, schedule, config).unwrap();
    let plain_out = run(&plain, &[request(image, RewardCondition::Null)], &settings());
    assert_eq!(max_diff(&plain_out[0], &rewarded_out[0]), 0);
    // A fourth branch changes the batch, which may change float rounding, not the image.
    assert!(max_diff(&plain_out[0], &rewarded_guided[0]) <= 1);
}

#[test]
fn outputs_keep_each_inputs_size_and_aspect() {
    let device = Device::flex();
    let editor = world_editor(world_tiny_unet(), vocab(), Some(&RewardConditioningConfig::default()), &device).unwrap();
    assert_eq!(editor.resolution_multiple(), 2);
    // Landscape, portrait with odd sides, square: three model sizes, three batches.
    let shapes = [(36, 20), (15, 27), (16, 16)];
    let requests: Vec<EditRequest> = shapes.iter().map(|&(w, h)| request(picture(w, h), RewardCondition::paper_default())).collect();
    let out = run(&editor, &requests, &EditSettings { steps: 2, ..settings() });
    for (o, &(w, h)) in out.iter().zip(&shapes) {
        assert_eq!(o.dimensions(), (w, h));
    }
    // The model saw each side at its nearest multiple of 2: aspect ratio kept to that rounding.
    for &(w, h) in &shapes {
        let fitted = rewardedit_core::image_io::fit_to_multiple(&picture(w, h), 2);
        let (fw, fh) = fitted.dimensions();
        let ratio = |a: u32, b: u32| a as f64 / b as f64;
        assert!((ratio(fw, fh) / ratio(w, h) - 1.0).abs() < 0.08, "{w}x{h} -> {fw}x{fh}");
    }
    // A batch is the same as editing alone (with the same noise: one image, one group).
    let alone = run(&editor, &requests[..1], &EditSettings { steps: 2, ..settings() });
    assert_eq!(alone[0].dimensions(), out[0].dimensions());
}

#[test]
fn seeded_edits_repeat_and_reward_scale_one_is_no_reward_guidance() {
    let device = Device::flex();
    let editor = world_editor(world_tiny_unet(), vocab(), Some(&RewardConditioningConfig::default()), &device).unwrap();
    let req = [request(picture(16, 12), RewardCondition::given([5.0, 3.0, 4.0], "no unintended changes").unwrap())];
    for scheduler in SchedulerKind::ALL {
        let s = EditSettings { scheduler, ..settings() };
        let a = run(&editor, &req, &s);
        let b = run(&editor, &req, &EditSettings { reward_cfg: 1.0, ..s.clone() });
        assert_eq!(a[0], b[0], "{scheduler:?}");
        let c = run(&editor, &req, &EditSettings { seed: 8, ..s.clone() });
        assert_ne!(a[0], c[0], "{scheduler:?}: the seed changes nothing");
        // Random reward modules: guiding away from the null reward changes the edit.
        let g = run(&editor, &req, &EditSettings { reward_cfg: 4.0, ..s });
        assert_ne!(a[0], g[0], "{scheduler:?}: reward guidance has no effect");
    }
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    let device = Device::flex();
    let plain = world_editor(world_tiny_unet(), vocab(), None, &device).unwrap();
    let err = edit(&plain, &[request(picture(8, 8), RewardCondition::paper_default())], &settings(), &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("no reward modules"), "{err}");
    let empty = EditRequest { instruction: "  ".into(), ..request(picture(8, 8), RewardCondition::Null) };
    assert!(edit(&plain, &[empty], &settings(), &mut |_, _| {}).unwrap_err().to_string().contains("empty"));
    let zero_steps = EditSettings { steps: 0, ..settings() };
    assert!(edit(&plain, &[request(picture(8, 8), RewardCondition::Null)], &zero_steps, &mut |_, _| {}).is_err());
}

#[test]
fn editor_folder_round_trips_and_tampering_is_named() {
    let device = Device::flex();
    let editor = world_editor(world_tiny_unet(), vocab(), Some(&RewardConditioningConfig::default()), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    editor.save(dir.path()).unwrap();
    let check = check_editor_dir(dir.path()).unwrap();
    assert!(check.ok(), "{:?}", check.parts);
    assert_eq!(check.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["unet", "reward modules", "text encoder"]);

    let loaded = Editor::load(dir.path(), &device).unwrap();
    let req = [request(picture(14, 10), RewardCondition::paper_default())];
    assert_eq!(run(&editor, &req, &settings()), run(&loaded, &req, &settings()));

    // Drop one tensor and rename another: both the check and the load name them.
    let weights = dir.path().join("unet/diffusion_pytorch_model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(k, _)| k != "conv_in.bias")
        .map(|(k, v)| (if k == "ca.output.dense.bias" { "ca.output.dense.bias2".to_string() } else { k }, v))
        .collect();
    safetensors::serialize_to_file(kept, None, &weights).unwrap();
    let check = check_editor_dir(dir.path()).unwrap();
    assert!(!check.ok());
    assert_eq!(check.parts[0].missing, ["conv_in.bias"]);
    assert_eq!(check.parts[1].unexpected, ["ca.output.dense.bias2"]);
    let err = Editor::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("conv_in.bias") && err.contains("ca.output.dense.bias2"), "{err}");
}

#[test]
fn the_sd15_preset_is_sd_15_instructpix2pix_sized_and_its_parts_fit() {
    // Parameters are lazy: nothing of the 1.07 billion is allocated here.
    let tokenizer = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/ip2p_tiny/tokenizer");
    let reward = RewardConditioningConfig::default();
    let editor = rewardedit_models::pipeline::presets::sd15_editor(&tokenizer, Some(&reward), &Device::flex()).unwrap();
    let params = |layout: std::collections::BTreeMap<String, Vec<usize>>| layout.values().map(|s| s.iter().product::<usize>()).sum::<usize>();
    let unet = params(rewardedit_models::store::tensor_layout(&editor.unet));
    // diffusers' InstructPix2Pix UNet has 859,535,364 parameters; the reward modules add ~5M.
    assert!((864_000_000..866_000_000).contains(&unet), "{unet}");
    let rewardedit_models::pipeline::PromptEncoder::Clip { model, .. } = &editor.text else { panic!("a CLIP editor") };
    assert_eq!(params(rewardedit_models::store::tensor_layout(model)), 123_060_480, "CLIP ViT-L/14's text encoder");
    assert_eq!(editor.resolution_multiple(), 64);
    assert_eq!(editor.schedule, Default::default());
}
