//! What every scorer is asked: one edit triplet (source, instruction, edited).

use std::sync::Arc;

use image::RgbImage;
use rewardedit_core::{validate_instruction, EditType};
use sha2::{Digest, Sha256};

use crate::ScoreError;

/// One edit to score. Images are shared (`Arc`) so a batch, its retries and its cache lookups
/// never copy pixels.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// The caller's name for the edit (a manifest id); echoed back, never sent to a judge.
    pub id: String,
    /// The image before the edit.
    pub source: Arc<RgbImage>,
    /// The image after the edit.
    pub edited: Arc<RgbImage>,
    /// The edit instruction, as given to the editor.
    pub instruction: String,
    /// The Real-Edit type of the edit, where known.
    pub edit_type: Option<EditType>,
    /// The manifest line's provenance object, passed through untouched so that a scorer that
    /// knows the data's origin (the world oracle) can recover what it needs.
    pub provenance: serde_json::Value,
}

impl ScoreRequest {
    /// Checks what every scorer needs: a valid instruction and non-empty images.
    pub fn validate(&self) -> Result<(), ScoreError> {
        validate_instruction(&self.instruction)
            .map_err(|e| ScoreError::InvalidRequest(format!("{}: {e}", self.id)))?;
        for (name, img) in [("source", &self.source), ("edited", &self.edited)] {
            if img.width() == 0 || img.height() == 0 {
                return Err(ScoreError::InvalidRequest(format!("{}: the {name} image is empty", self.id)));
            }
        }
        Ok(())
    }
}

/// SHA-256 of an image's size and pixels: the identity of an image in cache keys.
pub fn image_hash(img: &RgbImage) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(img.width().to_le_bytes());
    h.update(img.height().to_le_bytes());
    h.update(img.as_raw());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(instruction: &str, w: u32) -> ScoreRequest {
        ScoreRequest {
            id: "x".into(),
            source: Arc::new(RgbImage::new(4, 4)),
            edited: Arc::new(RgbImage::new(w, 4)),
            instruction: instruction.into(),
            edit_type: None,
            provenance: serde_json::json!({}),
        }
    }

    #[test]
    fn rejects_empty_instruction_and_empty_image() {
        assert!(request("make it blue", 4).validate().is_ok());
        assert!(matches!(request(" ", 4).validate(), Err(ScoreError::InvalidRequest(_))));
        assert!(matches!(request("make it blue", 0).validate(), Err(ScoreError::InvalidRequest(_))));
    }

    #[test]
    fn hash_sees_size_and_pixels() {
        let a = RgbImage::new(4, 2);
        let b = RgbImage::new(2, 4);
        assert_ne!(image_hash(&a), image_hash(&b), "same bytes, different shape");
        let mut c = a.clone();
        c.put_pixel(0, 0, image::Rgb([1, 0, 0]));
        assert_ne!(image_hash(&a), image_hash(&c));
        assert_eq!(image_hash(&a), image_hash(&a.clone()));
    }
}
