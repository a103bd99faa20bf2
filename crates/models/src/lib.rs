//! Burn modules of the reward-conditioned editor (issue 3): the UNet (diffusers layout) with the
//! authors' reward conditioning, the VAE, the CLIP text encoder and tokenizer, the schedulers,
//! and safetensors loading/saving (f32, f16, bf16 and our int8 format).
//!
//! burn 0.22 tensors carry their backend in the `Device`, not in a type parameter, so these
//! modules are backend-generic without a `B: Backend` parameter (architecture.md rule 2 as 0.22
//! allows it): pick the device (`Device::flex()`, `Device::cuda(0)`, `.autodiff()`) at the edge.

pub mod canonical;
pub mod error;
pub mod fused;
pub mod import;
pub mod int8;
pub mod pipeline;
pub mod schedulers;
pub mod store;
pub mod text;
pub mod unet;
pub mod vae;

pub use error::{ModelError, Result};
