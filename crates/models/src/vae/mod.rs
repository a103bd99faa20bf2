//! The Stable Diffusion 1.5 VAE: diffusers' `AutoencoderKL` (module names as in
//! `vae/diffusion_pytorch_model.safetensors`).

#[allow(clippy::module_inception)]
pub mod autoencoder;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod gaussian;
pub mod mid_block;

pub use autoencoder::AutoencoderKL;
pub use config::AutoencoderKLConfig;
pub use gaussian::DiagonalGaussian;
