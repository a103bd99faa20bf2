//! The student's word-level tokenizer is the world vocabulary shared with the editor's encoder.

pub use rewardedit_core::vocab::{words, Vocab, PAD, UNK};
