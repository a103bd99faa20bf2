//! Checkpoints: `RUN/checkpoints/step-NNNNNNNN/` holding the editor config, raw and EMA
//! weights, optimiser state, the step, the sampling defaults, and `MANIFEST.json` with the
//! SHA-256 of every file.
//!
//! Each is written into a hidden temporary folder and renamed into place, so a kill leaves
//! either the whole checkpoint or none; the manifest is written last and checked on load, so
//! a checkpoint damaged later (a truncated copy, a bad disk) is detected and the previous one
//! is used. The newest `keep` are kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Result, TrainError};

pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const MANIFEST: &str = "MANIFEST.json";
pub const STATE: &str = "state.json";
pub const CONFIG: &str = "config.json";
pub const MODEL: &str = "model.bpk";
pub const EMA: &str = "ema.bpk";
pub const OPTIM: &str = "optim.bpk";
/// The run's sampling defaults, for exporting the checkpoint as an editor folder (absent from
/// checkpoints written before 2026-11-28).
pub const SAMPLING: &str = "sampling.json";

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimiser steps done.
    pub step: u64,
    /// Loss of the last step.
    pub loss: f32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    step: u64,
    /// File name -> lowercase hex SHA-256.
    sha256: BTreeMap<String, String>,
}

/// The folder name of step `step`'s checkpoint.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Writes a checkpoint of step `step` under `root` (the run's `checkpoints/`): `write(tmp)`
/// fills the temporary folder, then the manifest is added and the folder renamed into place.
/// Older checkpoints beyond `keep` are removed afterwards.
pub fn save(root: &Path, step: u64, keep: usize, write: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    std::fs::create_dir_all(root).map_err(|e| TrainError::io(root, e))?;
    let name = step_dir_name(step);
    let tmp = root.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    write(&tmp)?;
    let mut sha256 = BTreeMap::new();
    for entry in std::fs::read_dir(&tmp).map_err(|e| TrainError::io(&tmp, e))? {
        let entry = entry.map_err(|e| TrainError::io(&tmp, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        sha256.insert(name, sha256_file(&entry.path())?);
    }
    let manifest = serde_json::to_string_pretty(&Manifest { step, sha256 }).map_err(|e| TrainError::Config(e.to_string()))?;
    write_synced(&tmp.join(MANIFEST), manifest.as_bytes())?;
    let dir = root.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| TrainError::io(&dir, e))?;
    prune(root, keep)?;
    Ok(dir)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    f.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    f.sync_all().map_err(|e| TrainError::io(path, e))
}

/// Checkpoint folders under `root`, newest first.
pub fn list(root: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut v: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    v
}

/// Checks `dir` against its manifest: every listed file present with its checksum.
pub fn verify(dir: &Path) -> Result<u64> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| TrainError::format(&path, e))?;
    for required in [STATE, CONFIG, MODEL, EMA] {
        if !manifest.sha256.contains_key(required) {
            return Err(TrainError::format(&path, format!("does not list {required}")));
        }
    }
    for (name, want) in &manifest.sha256 {
        let got = sha256_file(&dir.join(name))?;
        if &got != want {
            return Err(TrainError::format(dir.join(name), "checksum differs from the manifest (damaged checkpoint)"));
        }
    }
    Ok(manifest.step)
}

/// The newest intact checkpoint under `root`, with the reasons the newer ones were skipped.
pub fn latest_intact(root: &Path) -> (Option<(u64, PathBuf)>, Vec<String>) {
    let mut skipped = Vec::new();
    for (step, dir) in list(root) {
        match verify(&dir) {
            Ok(_) => return (Some((step, dir)), skipped),
            Err(e) => skipped.push(format!("{}: {e}", dir.display())),
        }
    }
    (None, skipped)
}

/// The checkpoint a path names: a checkpoint folder itself, or a run folder (its newest intact
/// checkpoint).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join(MANIFEST).exists() {
        verify(path)?;
        return Ok(path.to_path_buf());
    }
    let root = path.join(CHECKPOINTS_DIR);
    latest_intact(&root).0.map(|(_, d)| d).ok_or(TrainError::NoCheckpoint(path.to_path_buf()))
}

fn prune(root: &Path, keep: usize) -> Result<()> {
    for (_, dir) in list(root).into_iter().skip(keep) {
        std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
    }
    Ok(())
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::format(path, e))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Config(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| TrainError::io(path, e))
}
