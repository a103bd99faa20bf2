//! JSON Lines reading shared by the manifest and image-folder readers: one record per non-blank
//! line, every error tagged with the file and its 1-based line.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub(crate) struct JsonlReader {
    path: PathBuf,
    lines: Lines<BufReader<File>>,
    line: usize,
}

impl JsonlReader {
    pub(crate) fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(JsonlReader { path, lines: BufReader::new(file).lines(), line: 0 })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The next non-blank line, parsed by `parse(text, line)`; `None` at the end of the file.
    pub(crate) fn next_with<T>(
        &mut self,
        parse: impl FnOnce(&str, usize) -> std::result::Result<T, String>,
    ) -> Option<Result<T>> {
        loop {
            let text = match self.lines.next()? {
                Ok(t) => t,
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            };
            self.line += 1;
            if text.trim().is_empty() {
                continue;
            }
            let line = self.line;
            return Some(parse(&text, line).map_err(|reason| Error::Record { path: self.path.clone(), line, reason }));
        }
    }
}
