//! The edit world (mission.md, "The edit world"): rendered scenes, instructions of the seven
//! Real-Edit types, the exact target and edit region of every instruction, a flaw injector, an
//! exact oracle scorer (optionally made noisy like an LVLM judge), and deterministic data sets.

pub mod edit;
pub mod error;
pub mod flaw;
pub mod grid;
pub mod instruction;
pub mod noise;
pub mod oracle;
pub mod pixels;
pub mod render;
pub mod sample;
pub mod scene;
pub mod sentence;

pub use edit::{EditCase, EditOp};
pub use error::Error;
pub use flaw::{Flaw, FlawFamily, FlawKind, FlawWeights};
pub use grid::grid;
pub use instruction::{Instruction, PhrasingSet};
pub use noise::JudgeNoise;
pub use oracle::{Measures, Oracle, OracleConfig};
pub use sample::{sample_case, sample_triplet, show, write_dataset, Triplet, WorldConfig};
pub use scene::{Background, Cell, Colour, Light, Object, Pattern, Scene, Shape, Size, Style, Texture, Tint};
