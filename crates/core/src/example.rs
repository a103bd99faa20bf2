//! One edit triplet (source, instruction, edited) with its optional rewards: a manifest line.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{EditType, Error, Result, Reward};

/// Longest instruction accepted, in characters. Real-Edit's longest is ~200; the CLIP text
/// encoder sees 77 tokens, so anything near this limit is certainly a mistake.
pub const MAX_INSTRUCTION_CHARS: usize = 1000;

/// An edit example, exactly one JSON object per manifest line. Paths are relative to the
/// manifest's folder (or absolute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditExample {
    /// Unique within its manifest.
    pub id: String,
    /// The image to edit.
    pub source: PathBuf,
    /// The edited image.
    pub edited: PathBuf,
    pub instruction: String,
    pub edit_type: EditType,
    /// The three-axis measurement of this triplet, when it has been scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards: Option<Reward>,
    /// The exact target image, where known (the edit world).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
    /// The edit region (white = may change), where known (the edit world).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<PathBuf>,
    /// Where the example came from: generator, seed, flaws injected... Free-form object.
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub provenance: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn is_empty_object(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

impl EditExample {
    /// Checks what serde cannot: a usable id and instruction, an object provenance.
    pub fn validate(&self) -> Result<()> {
        if self.id.trim().is_empty() {
            return Err(Error::InvalidInstruction("example has an empty id".into()));
        }
        validate_instruction(&self.instruction)?;
        if !self.provenance.is_object() {
            return Err(Error::InvalidInstruction(format!(
                "example {}: provenance must be a JSON object",
                self.id
            )));
        }
        Ok(())
    }
}

/// An instruction must have visible text and at most [`MAX_INSTRUCTION_CHARS`] characters.
pub fn validate_instruction(instruction: &str) -> Result<()> {
    if instruction.trim().is_empty() {
        return Err(Error::InvalidInstruction("the instruction is empty: say what to change".into()));
    }
    let n = instruction.chars().count();
    if n > MAX_INSTRUCTION_CHARS {
        return Err(Error::InvalidInstruction(format!(
            "the instruction has {n} characters; at most {MAX_INSTRUCTION_CHARS} are accepted"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> EditExample {
        EditExample {
            id: "a".into(),
            source: "src/a.png".into(),
            edited: "out/a.png".into(),
            instruction: "make the circle blue".into(),
            edit_type: EditType::Local,
            rewards: Some(Reward::perfect()),
            target: None,
            mask: None,
            provenance: empty_object(),
        }
    }

    #[test]
    fn json_uses_the_manifest_field_names() {
        let j = serde_json::to_value(example()).unwrap();
        let keys: Vec<_> = j.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["edit_type", "edited", "id", "instruction", "rewards", "source"]);
        assert_eq!(serde_json::from_value::<EditExample>(j).unwrap(), example());
    }

    #[test]
    fn rejects_empty_and_overlong_instructions() {
        let mut e = example();
        e.instruction = "  ".into();
        assert!(e.validate().is_err());
        e.instruction = "x".repeat(MAX_INSTRUCTION_CHARS + 1);
        assert!(e.validate().is_err());
        e.instruction = "x".repeat(MAX_INSTRUCTION_CHARS);
        assert!(e.validate().is_ok());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let mut j = serde_json::to_value(example()).unwrap();
        j["reward"] = serde_json::json!(1);
        assert!(serde_json::from_value::<EditExample>(j).is_err());
    }
}
