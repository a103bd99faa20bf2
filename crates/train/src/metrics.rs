//! `metrics.jsonl`: one JSON object per line, appended as the run goes; a resumed run first
//! cuts the lines after its checkpoint, so the file always reads as one uninterrupted curve.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Result, TrainError};

/// Lines that carry a step number.
pub trait Stepped {
    fn step(&self) -> u64;
}

/// An append-only JSONL writer.
pub struct MetricsWriter {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsWriter {
    /// Opens `path` keeping only lines of type `T` with step <= `keep_up_to` (0 on a fresh run:
    /// the file is emptied).
    pub fn open<T: Stepped + DeserializeOwned>(path: &Path, keep_up_to: u64) -> Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let kept: String = text
                .lines()
                .filter(|l| serde_json::from_str::<T>(l).is_ok_and(|m| m.step() <= keep_up_to))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(path, kept).map_err(|e| TrainError::io(path, e))?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| TrainError::io(path, e))?;
        Ok(MetricsWriter { path: path.to_path_buf(), file })
    }

    pub fn write<T: Serialize>(&mut self, line: &T) -> Result<()> {
        let json = serde_json::to_string(line).map_err(|e| TrainError::Config(e.to_string()))?;
        writeln!(self.file, "{json}").map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Reads every line of type `T`.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    text.lines().map(|l| serde_json::from_str(l).map_err(|e| TrainError::format(path, e))).collect()
}
