//! Importing and exporting models in diffusers' folder layout (issue 3, "Import from
//! safetensors"): vanilla InstructPix2Pix (UNet, VAE, text encoder, tokenizer, scheduler) and
//! the authors' reward checkpoint.

pub mod diffusers;
pub mod editor;
pub mod header;

pub use diffusers::{
    load_scheduler_config, load_text_encoder_dir, load_tokenizer_dir, load_unet_dir, load_vae_dir, save_text_encoder_dir,
    save_unet_dir, save_vae_dir, Import, TextEncoderImport, UNetImport, VaeImport, SCHEDULER_CONFIG, TEXT_ENCODER_CONFIG,
    TEXT_ENCODER_WEIGHTS, TEXT_ENCODER_WEIGHTS_FP16, TOKENIZER_DIR, UNET_CONFIG, UNET_WEIGHTS, UNET_WEIGHTS_FP16,
    VAE_CONFIG, VAE_WEIGHTS, VAE_WEIGHTS_FP16,
};
pub use editor::{check_editor_dir, FolderCheck, PartCheck, TextEncoderKind, EDITOR_CONFIG};
pub use header::{read_header, TensorInfo};
