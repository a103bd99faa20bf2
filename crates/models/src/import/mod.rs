//! Importing and exporting models in diffusers' folder layout (issue 3, "Import from
//! safetensors"): vanilla InstructPix2Pix and the authors' reward checkpoint.

pub mod diffusers;
pub mod editor;
pub mod header;

pub use diffusers::{
    load_scheduler_config, load_unet_dir, save_unet_dir, UNetImport, SCHEDULER_CONFIG, UNET_CONFIG, UNET_WEIGHTS,
    UNET_WEIGHTS_FP16,
};
pub use editor::{check_editor_dir, FolderCheck, PartCheck, TextEncoderKind, EDITOR_CONFIG};
pub use header::{read_header, TensorInfo};
