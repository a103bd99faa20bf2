//! An image folder as diffusers' InstructPix2Pix training script reads it: `metadata.jsonl`
//! with one JSON object per line and the columns `input_image`, `edit_prompt`,
//! `edited_image` (file names relative to the folder). Two optional extra columns, which that
//! script ignores, are read and written here: `id` and `edit_type`; any other column is ignored.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::slash_relative;
use crate::classify::classify_instruction;
use crate::jsonl::JsonlReader;
use crate::{EditExample, EditType, Error, Result};

/// The metadata file inside an image folder.
pub const METADATA_FILE: &str = "metadata.jsonl";

#[derive(Serialize, Deserialize)]
struct Row {
    input_image: String,
    edit_prompt: String,
    edited_image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edit_type: Option<EditType>,
}

/// Streams the rows of `<dir>/metadata.jsonl` as examples (no rewards). Paths are joined to
/// `dir`. Without an `id` column the id is `metadata.jsonl:<line>`; without an `edit_type`
/// column the type is guessed by [`classify_instruction`] and the provenance says so.
pub struct ImageFolderReader {
    dir: PathBuf,
    reader: JsonlReader,
}

impl ImageFolderReader {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let reader = JsonlReader::open(dir.join(METADATA_FILE))?;
        Ok(ImageFolderReader { dir, reader })
    }
}

/// The example of one metadata row on 1-based `line` of the folder `dir`.
fn example(dir: &Path, line: usize, row: Row) -> Result<EditExample> {
    let mut provenance = json!({"format": "imagefolder"});
    let edit_type = row.edit_type.unwrap_or_else(|| {
        provenance["edit_type_source"] = "classified".into();
        classify_instruction(&row.edit_prompt)
    });
    let example = EditExample {
        id: row.id.unwrap_or_else(|| format!("{METADATA_FILE}:{line}")),
        source: dir.join(row.input_image),
        edited: dir.join(row.edited_image),
        instruction: row.edit_prompt,
        edit_type,
        rewards: None,
        target: None,
        mask: None,
        provenance,
    };
    example.validate()?;
    Ok(example)
}

impl Iterator for ImageFolderReader {
    /// An example, or an error naming the file and 1-based line.
    type Item = Result<EditExample>;

    fn next(&mut self) -> Option<Self::Item> {
        let dir = &self.dir;
        self.reader.next_with(|text, line| {
            let row = serde_json::from_str::<Row>(text).map_err(|e| {
                format!("{e}; expected {{\"input_image\", \"edit_prompt\", \"edited_image\"}}")
            })?;
            example(dir, line, row).map_err(|e| e.to_string())
        })
    }
}

/// Writes `<dir>/metadata.jsonl` for examples whose images already lie inside `dir`
/// (rewards, target, mask and provenance are not part of this format and are not written).
/// Returns the number of rows.
pub fn write_imagefolder<'a>(
    dir: impl AsRef<Path>,
    examples: impl IntoIterator<Item = &'a EditExample>,
) -> Result<usize> {
    let dir = dir.as_ref();
    let path = dir.join(METADATA_FILE);
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut out = BufWriter::new(file);
    let mut rows = 0;
    for example in examples {
        example.validate()?;
        let row = Row {
            input_image: inside(dir, &example.source, &path, rows + 1)?,
            edit_prompt: example.instruction.clone(),
            edited_image: inside(dir, &example.edited, &path, rows + 1)?,
            id: Some(example.id.clone()),
            edit_type: Some(example.edit_type),
        };
        let line = serde_json::to_string(&row).map_err(|e| Error::Record {
            path: path.clone(),
            line: rows + 1,
            reason: e.to_string(),
        })?;
        writeln!(out, "{line}").map_err(|e| Error::io(&path, e))?;
        rows += 1;
    }
    out.flush().map_err(|e| Error::io(&path, e))?;
    Ok(rows)
}

/// `image` relative to `dir` for the metadata column, or an error naming the row.
fn inside(dir: &Path, image: &Path, path: &Path, line: usize) -> Result<String> {
    slash_relative(dir, image).ok_or_else(|| Error::Record {
        path: path.into(),
        line,
        reason: format!(
            "{} is not inside {}; copy the images into the folder first",
            image.display(),
            dir.display()
        ),
    })
}
