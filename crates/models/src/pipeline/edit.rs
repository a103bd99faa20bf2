//! The edit: InstructPix2Pix sampling (Brooks et al. 2023, section 3.4) with the reward
//! condition, following diffusers' `StableDiffusionInstructPix2PixPipeline`: initial noise times
//! the sampler's `init_noise_sigma`; per step the sample is repeated once per guidance branch,
//! scaled by the sampler, concatenated with the source condition along channels (zeros for the
//! unconditional branch), run through the UNet in ONE batched call, guided
//! ([`super::guidance`]) and stepped. Latent-space image conditions are the VAE's mode,
//! unscaled, as diffusers does.

use burn::prelude::*;
use image::RgbImage;
use rewardedit_core::image_io::{fit_to_multiple, resize_keep_aspect, resize_to};
use rewardedit_core::reward::check_score;
use rewardedit_core::{validate_instruction, RewardCondition};

use super::editor::{EditSettings, Editor};
use super::guidance::{guide, Branch, Branches};
use super::convert::{to_images, to_tensor};
use super::noise::NoiseStream;
use crate::unet::RewardInputs;
use crate::{ModelError, Result};

/// One image to edit.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub image: RgbImage,
    pub instruction: String,
    /// The reward condition (scores and reward text), or `Null` for "no reward".
    pub reward: RewardCondition,
}

/// Edits every request; each output has its input's size. Inputs are resized so each side is
/// the nearest multiple of [`Editor::resolution_multiple`] (aspect ratio kept up to that
/// rounding) and the results resized back. Requests of the same model size share one batch.
/// `progress(done, total)` is called after every denoising step.
pub fn edit(editor: &Editor, requests: &[EditRequest], settings: &EditSettings, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<RgbImage>> {
    settings.validate()?;
    for r in requests {
        validate_instruction(&r.instruction).map_err(|e| ModelError::InvalidInput(e.to_string()))?;
        check_reward(editor, &r.reward)?;
    }
    let device = editor.device();
    let fitted: Vec<RgbImage> = requests.iter().map(|r| model_size(editor, &r.image, settings.max_side)).collect();
    // Same model size, same batch; groups in order of first appearance.
    let mut groups: Vec<((u32, u32), Vec<usize>)> = Vec::new();
    for (i, f) in fitted.iter().enumerate() {
        match groups.iter_mut().find(|(size, _)| *size == f.dimensions()) {
            Some((_, members)) => members.push(i),
            None => groups.push((f.dimensions(), vec![i])),
        }
    }

    let total = groups.len() * settings.steps;
    let mut noise = NoiseStream::new(settings.seed);
    let mut out: Vec<Option<RgbImage>> = vec![None; requests.len()];
    for (g, (_, members)) in groups.iter().enumerate() {
        let images: Vec<RgbImage> = members.iter().map(|&i| fitted[i].clone()).collect();
        let instructions: Vec<&str> = members.iter().map(|&i| requests[i].instruction.as_str()).collect();
        let rewards: Vec<RewardCondition> = members.iter().map(|&i| requests[i].reward.clone()).collect();
        let source = to_tensor(&images, &device);
        let sample = denoise(editor, source, &instructions, &rewards, settings, &mut noise, None, &mut |i, _| progress(g * settings.steps + i, total))?;
        for (k, edited) in to_images(editor.space.to_images(sample)).into_iter().enumerate() {
            let i = members[k];
            out[i] = Some(resize_to(&edited, requests[i].image.width(), requests[i].image.height()));
        }
    }
    Ok(out.into_iter().map(|o| o.expect("every request is in one group")).collect())
}

/// `image` at the size the editor edits it: each side the nearest multiple of
/// [`Editor::resolution_multiple`], after scaling down to `max_side` if it is larger.
pub fn model_size(editor: &Editor, image: &RgbImage, max_side: Option<u32>) -> RgbImage {
    let multiple = editor.resolution_multiple();
    match max_side {
        Some(max) if image.width().max(image.height()) > max => resize_keep_aspect(image, max, multiple),
        _ => fit_to_multiple(image, multiple),
    }
}

fn check_reward(editor: &Editor, reward: &RewardCondition) -> Result<()> {
    match reward {
        RewardCondition::Null => Ok(()),
        RewardCondition::Given { .. } if !editor.has_reward() => Err(ModelError::InvalidInput(
            "this model has no reward modules (a plain InstructPix2Pix UNet): it cannot be given rewards".into(),
        )),
        RewardCondition::Given { scores, .. } => {
            scores.iter().try_for_each(|&s| check_score(s)).map_err(|e| ModelError::InvalidInput(e.to_string()))
        }
    }
}

/// The denoising loop on a batch of source images `[B, 3, H, W]` in `[-1, 1]` whose sides are
/// multiples of the editor's resolution multiple; returns the final sample (latents, or pixels
/// in pixel space). `initial` replaces the seeded initial noise (unit variance, before
/// `init_noise_sigma`); step noise is drawn from `noise`.
#[allow(clippy::too_many_arguments)]
pub fn denoise(
    editor: &Editor,
    source: Tensor<4>,
    instructions: &[&str],
    rewards: &[RewardCondition],
    settings: &EditSettings,
    noise: &mut NoiseStream,
    initial: Option<Tensor<4>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Tensor<4>> {
    let device = source.device();
    let [b, _, h, w] = source.dims();
    assert_eq!(instructions.len(), b, "one instruction per image");
    assert_eq!(rewards.len(), b, "one reward condition per image");
    let ds = editor.space.downscale();
    let shape = [b, editor.space.channels(), h / ds, w / ds];

    let scales = settings.scales();
    let reward_guidance = editor.has_reward() && rewards.iter().any(|r| matches!(r, RewardCondition::Given { .. }));
    let branches = Branches::needed(&scales, reward_guidance);
    let n = branches.len();

    // Everything but the sample is the same at every step: build the branch rows once.
    let condition = editor.space.condition(source);
    let image_rows = Tensor::cat(
        branches.0.iter().map(|br| if br.has_image() { condition.clone() } else { condition.zeros_like() }).collect(),
        0,
    );
    let prompts = editor.text.encode(instructions, &device)?.hidden;
    let empty = editor.text.encode(&[""], &device)?.hidden.repeat_dim(0, b);
    let hidden_rows = Tensor::cat(branches.0.iter().map(|br| if br.has_text() { prompts.clone() } else { empty.clone() }).collect(), 0);
    let reward_rows = if !editor.has_reward() {
        None
    } else {
        let texts: Vec<&str> = rewards.iter().map(RewardCondition::text).collect();
        let pooled = editor.text.encode(&texts, &device)?.pooled;
        let conditions: Vec<RewardCondition> = branches
            .0
            .iter()
            .flat_map(|br| rewards.iter().map(move |r| if br.has_reward() { r.clone() } else { RewardCondition::Null }))
            .collect();
        Some(RewardInputs::from_conditions(&conditions, pooled.repeat_dim(0, n)))
    };
    debug_assert_eq!(branches.index(Branch::Full), Some(0));

    let mut scheduler = settings.scheduler.build(&editor.schedule);
    scheduler.set_timesteps(settings.steps);
    let timesteps = scheduler.timesteps().to_vec();
    let initial = match initial {
        Some(x) => x,
        None => noise.next(shape, &device),
    };
    let mut x = initial * scheduler.init_noise_sigma();
    for (i, &t) in timesteps.iter().enumerate() {
        let scaled = scheduler.scale_model_input(x.clone(), i);
        let input = Tensor::cat(vec![scaled.clone().repeat_dim(0, n), image_rows.clone()], 1);
        let t = Tensor::<1>::from_data(TensorData::new(vec![t as f32; n * b], [n * b]), &device);
        let output = editor.unet.forward(input, t, hidden_rows.clone(), reward_rows.clone());
        let eps = scheduler.epsilon(guide(branches.split(output), &scales), i, scaled);
        let step_noise = scheduler.needs_noise().then(|| noise.next(shape, &device));
        x = scheduler.step(eps, i, x, step_noise)?;
        progress(i + 1, timesteps.len());
    }
    Ok(x)
}
