//! The editing pipeline (issue 3, section 2): guidance as plain functions over predictions,
//! the text encoders behind one enum, pixel or latent space, seeded noise, and the edit itself.

pub mod edit;
pub mod editor;
pub mod guidance;
pub mod convert;
pub mod noise;
pub mod presets;
pub mod space;
pub mod text;

pub use edit::{denoise, edit, model_size, EditRequest};
pub use editor::{check_parts_fit, EditSettings, Editor, EditorConfig};
pub use guidance::{Branch, Branches, GuidanceScales, Predictions};
pub use noise::NoiseStream;
pub use space::{ImageSpace, SpaceKind};
pub use text::PromptEncoder;
