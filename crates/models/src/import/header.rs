//! Reads a safetensors header (names, dtypes, shapes) without reading the tensors, so a
//! multi-GB checkpoint can be inspected cheaply.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::{ModelError, Result};

/// One tensor's entry in a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TensorInfo {
    /// safetensors dtype name (`F32`, `F16`, `BF16`, ...).
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// Headers larger than this are not safetensors files we wrote or expect.
const MAX_HEADER: u64 = 100 << 20;

/// Every tensor of the file at `path`, by name (the `__metadata__` entry left out).
pub fn read_header(path: impl AsRef<Path>) -> Result<BTreeMap<String, TensorInfo>> {
    let path = path.as_ref();
    let err = |message: String| ModelError::Store { path: path.display().to_string(), message };
    let mut file = File::open(path).map_err(|e| err(e.to_string()))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| err(format!("reading header length: {e}")))?;
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER {
        return Err(err(format!("header of {len} bytes is not plausible")));
    }
    let mut json = vec![0u8; len as usize];
    file.read_exact(&mut json).map_err(|e| err(format!("reading header: {e}")))?;
    let mut entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|e| err(format!("header is not JSON: {e}")))?;
    entries.remove("__metadata__");
    entries
        .into_iter()
        .map(|(name, v)| {
            let info = serde_json::from_value(v).map_err(|e| err(format!("header entry {name}: {e}")))?;
            Ok((name, info))
        })
        .collect()
}
