//! The manifest: one [`EditExample`] JSON object per line (JSONL). Appendable, read as a stream.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::jsonl::JsonlReader;
use crate::{EditExample, Error, Result};

/// Conventional file name of a manifest inside a data folder.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

/// Streams examples from a manifest, one line at a time, validating each.
pub struct ManifestReader {
    reader: JsonlReader,
}

impl ManifestReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(ManifestReader { reader: JsonlReader::open(path)? })
    }

    /// The folder that relative paths in this manifest are relative to.
    pub fn base_dir(&self) -> &Path {
        self.reader.path().parent().unwrap_or(Path::new("."))
    }
}

impl Iterator for ManifestReader {
    /// Each item is an example, or an error naming the file and 1-based line.
    type Item = Result<EditExample>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_with(|text, _| {
            let example = serde_json::from_str::<EditExample>(text).map_err(|e| e.to_string())?;
            example.validate().map_err(|e| e.to_string())?;
            Ok(example)
        })
    }
}

/// Reads a whole manifest; the first bad line is an error.
pub fn read_manifest(path: impl AsRef<Path>) -> Result<Vec<EditExample>> {
    ManifestReader::open(path)?.collect()
}

/// Appends examples to a manifest, one flushed line each, so a killed writer leaves at most
/// one partial last line.
pub struct ManifestWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl ManifestWriter {
    /// Creates (or truncates) a manifest.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), OpenOptions::new().write(true).create(true).truncate(true))
    }

    /// Opens a manifest for appending, creating it if needed.
    pub fn append(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), OpenOptions::new().append(true).create(true))
    }

    fn open_with(path: &Path, options: &OpenOptions) -> Result<Self> {
        let file = options.open(path).map_err(|e| Error::io(path, e))?;
        Ok(ManifestWriter { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    pub fn write(&mut self, example: &EditExample) -> Result<()> {
        example.validate()?;
        let line = serde_json::to_string(example).map_err(|e| Error::Record {
            path: self.path.clone(),
            line: 0,
            reason: e.to_string(),
        })?;
        writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Cuts a file back to its last newline: a line without one was being written when the
/// process died, and its edit is redone.
pub fn truncate_partial_line(path: &Path) -> Result<()> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let io = |e| Error::io(path, e);
    let len = file.metadata().map_err(io)?.len();
    // Scan backwards in blocks for the last '\n'; lines are short, so this reads little.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(chunk).map_err(io)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep).map_err(io)?;
            }
            return Ok(());
        }
        end = start;
    }
    file.set_len(0).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EditType, Reward};

    fn example(id: &str) -> EditExample {
        EditExample {
            id: id.into(),
            source: "s.png".into(),
            edited: "e.png".into(),
            instruction: "remove the square".into(),
            edit_type: EditType::Remove,
            rewards: Some(Reward::perfect()),
            target: Some("t.png".into()),
            mask: Some("m.png".into()),
            provenance: serde_json::json!({"seed": 3}),
        }
    }

    #[test]
    fn round_trips_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        ManifestWriter::create(&path).unwrap().write(&example("a")).unwrap();
        ManifestWriter::append(&path).unwrap().write(&example("b")).unwrap();
        let read = read_manifest(&path).unwrap();
        assert_eq!(read, vec![example("a"), example("b")]);
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        let good = serde_json::to_string(&example("a")).unwrap();
        std::fs::write(&path, format!("{good}\n\n{{\"id\": \"b\", \"sour")).unwrap();
        let items: Vec<_> = ManifestReader::open(&path).unwrap().collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let err = items[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("manifest.jsonl:3"), "{err}");
    }

    #[test]
    fn partial_last_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        for (content, kept) in [("a\nb\npart", "a\nb\n"), ("a\n", "a\n"), ("part", ""), ("", "")] {
            std::fs::write(&p, content).unwrap();
            truncate_partial_line(&p).unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), kept);
        }
        truncate_partial_line(&dir.path().join("missing")).unwrap();
    }
}
