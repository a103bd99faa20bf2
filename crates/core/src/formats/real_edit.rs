//! The Real-Edit benchmark layout (paper-notes.md, "Real-Edit"): `instructions.json` maps an
//! image file name (in `imgs/`) to seven strings `"N. Type: instruction"`, e.g.
//! `"2. Remove: Remove the basket from the boat."`. Some entries of the released file write
//! `"1. Local Edit: ..."`; the `Edit` suffix is accepted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::read_json_entries;
use crate::{EditType, Error, Result, validate_instruction};

/// The instructions file inside a Real-Edit folder.
pub const INSTRUCTIONS_FILE: &str = "instructions.json";
/// The image folder inside a Real-Edit folder.
pub const IMAGES_DIR: &str = "imgs";

/// One edit to perform on a real photo: no edited image yet, no rewards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditRequest {
    /// `"<image file>#<N>"`, e.g. `"10.jpeg#2"`: unique within the benchmark.
    pub id: String,
    /// The photo to edit (`<dir>/imgs/<file>`).
    pub image: PathBuf,
    pub instruction: String,
    pub edit_type: EditType,
}

/// Reads `<dir>/instructions.json`. Fails only if the file cannot be read or is not a JSON
/// object; each malformed instruction is a separate `Err` item ([`Error::Entry`]), so one bad
/// line does not hide the other 559. Images are not opened here (see `formats::check`).
pub fn read_real_edit(dir: &Path) -> Result<impl Iterator<Item = Result<EditRequest>> + use<>> {
    let file = dir.join(INSTRUCTIONS_FILE);
    let entries = read_json_entries(&file)?;
    let images = dir.join(IMAGES_DIR);
    Ok(entries.into_iter().flat_map(move |(name, value)| parse_entry(&file, &images, &name, value)))
}

/// The requests of one image; a value that is not a list of strings is one bad item.
fn parse_entry(
    file: &Path,
    images: &Path,
    name: &str,
    value: serde_json::Value,
) -> Vec<Result<EditRequest>> {
    let bad = |key: String, reason: String| Err(Error::Entry { path: file.into(), key, reason });
    if name.contains(['/', '\\']) || name.trim().is_empty() {
        return vec![bad(name.into(), "the key must be an image file name inside imgs/".into())];
    }
    let serde_json::Value::Array(items) = value else {
        return vec![bad(
            name.into(),
            "expected a list of instruction strings \"N. Type: instruction\"".into(),
        )];
    };
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let position_key = format!("{name}#{}", i + 1);
            let Some(text) = item.as_str() else {
                return bad(
                    position_key,
                    format!("expected a string \"N. Type: instruction\", found {item}"),
                );
            };
            let (n, edit_type, instruction) = parse_instruction(text).map_err(|reason| {
                Error::Entry { path: file.into(), key: position_key.clone(), reason }
            })?;
            let id = format!("{name}#{n}");
            if !seen.insert(n) {
                return bad(id, format!("number {n} appears twice for this image"));
            }
            Ok(EditRequest { id, image: images.join(name), instruction, edit_type })
        })
        .collect()
}

/// Splits `"N. Type: instruction"` (or `"N. Type Edit: instruction"`) into its parts.
pub fn parse_instruction(text: &str) -> std::result::Result<(u32, EditType, String), String> {
    let expected = || {
        format!(
            "{text:?} does not match \"N. Type: instruction\" (e.g. \"2. Remove: Remove the basket.\")"
        )
    };
    let (number, rest) = text.trim().split_once('.').ok_or_else(expected)?;
    let n: u32 = number.trim().parse().map_err(|_| expected())?;
    let (type_name, instruction) = rest.split_once(':').ok_or_else(expected)?;
    let type_name = type_name.trim();
    let type_name = type_name
        .strip_suffix(" Edit")
        .or_else(|| type_name.strip_suffix(" edit"))
        .unwrap_or(type_name);
    let edit_type: EditType = type_name.parse().map_err(|e: Error| format!("{text:?}: {e}"))?;
    let instruction = instruction.trim().to_string();
    validate_instruction(&instruction).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((n, edit_type, instruction))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_spellings_and_rejects_others() {
        assert_eq!(
            parse_instruction("2. Remove: Remove the basket: all of it.").unwrap(),
            (2, EditType::Remove, "Remove the basket: all of it.".into())
        );
        assert_eq!(
            parse_instruction("1. Local Edit: Change the eyes to red.").unwrap().1,
            EditType::Local
        );
        for bad in ["Remove the basket", "x. Remove: a", "2. Recolor: a", "3. Add:  ", "4 Add: a"] {
            assert!(parse_instruction(bad).is_err(), "{bad}");
        }
    }
}
