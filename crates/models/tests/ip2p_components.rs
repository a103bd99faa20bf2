//! The components of `tests/golden/ip2p_tiny/` reproduce their parts of diffusers' whole edit
//! run (`ip2p_edit.safetensors`): prompt ids, source-image latents, the first step's three
//! UNet predictions (text+image, image only, unconditional), and the final decode. The whole
//! loop (scheduler + guidance) is the pipeline's test.

mod common;

use burn::prelude::*;
use common::{assert_close, golden, to_vec, Golden};
use rewardedit_models::import::{load_text_encoder_dir, load_tokenizer_dir, load_unet_dir, load_vae_dir};

const TOL: f64 = 1e-4;

#[test]
fn ip2p_folder_components_reproduce_the_diffusers_edit_run() {
    let device = Device::flex();
    let dir = golden("ip2p_tiny");
    let g = Golden::open("ip2p_edit.safetensors");
    let tokenizer = load_tokenizer_dir(&dir).unwrap();
    let clip = load_text_encoder_dir(&dir, &device).unwrap().model;
    let vae = load_vae_dir(&dir, &device).unwrap();
    let unet = load_unet_dir(&dir, &device).unwrap().model;

    // Prompt ids: the pipeline's prompt and its empty negative prompt.
    let ids = tokenizer.encode_batch(&["Turn the cat into a dog!", ""], &device).unwrap();
    let ours: Vec<f64> = ids.clone().into_data().iter::<i64>().map(|x| x as f64).collect();
    assert_eq!(ours[..77], g.vec("prompt_ids")[..], "prompt ids");
    assert_eq!(ours[77..], g.vec("negative_prompt_ids")[..], "negative prompt ids");

    // Source image latents: VAE mode of the image mapped to [-1, 1], unscaled (as the pipeline).
    let image: Tensor<4> = g.tensor("image", &device);
    let image_latents = vae.model.encode(image * 2.0 - 1.0).mode();
    assert_close("image latents", &to_vec(image_latents.clone()), &g.vec("image_latents"), TOL);

    // First step: batch (text + image, image only, unconditional), DDIM input scaling is 1.
    let text = clip.forward(ids).unwrap().hidden;
    let [_, t, d] = text.dims();
    let cond = text.clone().slice([0..1, 0..t, 0..d]);
    let uncond = text.slice([1..2, 0..t, 0..d]);
    let context = Tensor::cat(vec![cond, uncond.clone(), uncond], 0);
    let latents: Tensor<4> = g.tensor("initial_latents", &device);
    let images = Tensor::cat(vec![image_latents.clone(), image_latents.clone(), image_latents.zeros_like()], 0);
    let sample = Tensor::cat(vec![Tensor::cat(vec![latents; 3], 0), images], 1);
    let t0 = g.vec("timesteps")[0] as f32;
    let timestep = Tensor::<1>::from_floats([t0, t0, t0], &device);
    let eps = unet.forward(sample, timestep, context, None);
    let reference = g.vec("unet_outputs");
    assert_close("step 0 unet outputs", &to_vec(eps), &reference[..reference.len() / 3], TOL);

    // Final decode of the last latents.
    let (last, shape) = g.values("step_latents");
    let inner: usize = shape[1..].iter().product();
    let last: Vec<f32> = last[last.len() - inner..].iter().map(|&x| x as f32).collect();
    let z = Tensor::<4>::from_data(TensorData::new(last, shape[1..].to_vec()), &device);
    let decoded = vae.model.decode(z / vae.config.scaling_factor);
    assert_close("decoded image", &to_vec(decoded), &g.vec("decoded"), TOL);
}
