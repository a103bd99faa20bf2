//! A manual check of a trained world editor folder, run by hand:
//! `REWARDEDIT_EDITOR=DIR cargo test --release --workspace --test diagnose -- --ignored --nocapture`.
//! One denoising step at several timesteps on world triplets, through the pipeline's loaded
//! editor: the epsilon MSE (the training loss) and the x0 error, beside the error of simply
//! copying the source. Tells a sampler problem (good one-step predictions) from a model or
//! export problem (bad ones).

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rewardedit_models::pipeline::Editor;
use rewardedit_models::schedulers::NoiseSchedule;
use rewardedit_train::data::images_tensor;
use rewardedit_world::{sample_triplet, WorldConfig};

#[test]
#[ignore = "needs REWARDEDIT_EDITOR=<editor folder>"]
fn one_step_predictions_of_a_trained_editor() {
    let dir = std::env::var("REWARDEDIT_EDITOR").expect("set REWARDEDIT_EDITOR");
    let device = Device::flex();
    let editor = Editor::load(&dir, &device).unwrap();
    let world = WorldConfig { size: 32, ..WorldConfig::default() };
    let triplets: Vec<_> = (0..16).map(|i| sample_triplet(&world, 1, i).unwrap()).collect();
    let source = images_tensor(&triplets.iter().map(|t| &t.source).collect::<Vec<_>>(), &device);
    let edited = images_tensor(&triplets.iter().map(|t| &t.edited).collect::<Vec<_>>(), &device);
    let prompts: Vec<&str> = triplets.iter().map(|t| t.instruction.text.as_str()).collect();
    let hidden = editor.text.encode(&prompts, &device).unwrap().hidden;
    let schedule = NoiseSchedule::new(&editor.schedule);
    let mse = |a: Tensor<4>, b: Tensor<4>| {
        let d = a - b;
        (d.clone() * d).mean().into_scalar::<f32>()
    };
    println!("copy-the-source x0 MSE: {:.4}", mse(source.clone(), edited.clone()));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for t in [1usize, 20, 100, 300, 500, 800, 999] {
        let dims = edited.dims();
        let noise: Vec<f32> = (0..dims.iter().product::<usize>()).map(|_| rand_distr::Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect();
        let noise = Tensor::<4>::from_data(TensorData::new(noise, dims), &device);
        let ts = vec![t; 16];
        let noisy = schedule.add_noise(edited.clone(), noise.clone(), &ts);
        let input = Tensor::cat(vec![noisy.clone(), source.clone()], 1);
        let tt = Tensor::<1>::from_data(TensorData::new(vec![t as f32; 16], [16]), &device);
        let eps = editor.unet.forward(input, tt, hidden.clone(), None);
        let a = schedule.alphas_cumprod[t];
        let x0 = (noisy - eps.clone() * (1.0 - a).sqrt()) / a.sqrt();
        println!(
            "t {t:4}: eps MSE {:.4}, x0 MSE {:.4}, pred eps mean {:.3} sd-ish {:.3}",
            mse(eps.clone(), noise),
            mse(x0.clamp(-1.0, 1.0), edited.clone()),
            eps.clone().mean().into_scalar::<f32>(),
            (eps.clone() * eps).mean().into_scalar::<f32>().sqrt()
        );
    }
}
