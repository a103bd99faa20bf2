//! Reads a safetensors header (names, dtypes, shapes, format) without reading the tensors, so
//! a multi-GB checkpoint can be inspected cheaply. Int8 files ([`crate::int8`]) are read as
//! their parameters: each scale is folded into the weight it scales.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::int8::{FORMAT_KEY, SCALE_SUFFIX};
use crate::{ModelError, Result};

/// One tensor's entry in a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TensorInfo {
    /// safetensors dtype name (`F32`, `F16`, `BF16`, `I8`, ...).
    pub dtype: String,
    pub shape: Vec<usize>,
    /// For an `I8` tensor, the shape of its `<key>.__scale` (`None`: the file has none).
    #[serde(skip)]
    pub scale: Option<Vec<usize>>,
}

/// Headers larger than this are not safetensors files we wrote or expect.
const MAX_HEADER: u64 = 100 << 20;

/// Every tensor of the file at `path`, by name (the `__metadata__` entry left out). The scale
/// of an `I8` tensor is not an entry of its own: it is the tensor's [`TensorInfo::scale`].
pub fn read_header(path: impl AsRef<Path>) -> Result<BTreeMap<String, TensorInfo>> {
    let path = path.as_ref();
    let err = |message: String| ModelError::Store { path: path.display().to_string(), message };
    let mut entries = read_json(path)?;
    entries.remove("__metadata__");
    let mut tensors: BTreeMap<String, TensorInfo> = entries
        .into_iter()
        .map(|(name, v)| {
            let info = serde_json::from_value(v).map_err(|e| err(format!("header entry {name}: {e}")))?;
            Ok((name, info))
        })
        .collect::<Result<_>>()?;
    let scaled: Vec<String> = tensors.iter().filter(|(_, t)| t.dtype == "I8").map(|(k, _)| k.clone()).collect();
    for key in scaled {
        let scale = tensors.remove(&format!("{key}{SCALE_SUFFIX}")).map(|s| s.shape);
        tensors.get_mut(&key).expect("listed above").scale = scale;
    }
    Ok(tensors)
}

/// The `format` in the file's metadata (e.g. `rewardedit-int8-v2`), if it has one.
pub fn read_format(path: impl AsRef<Path>) -> Result<Option<String>> {
    let metadata = read_json(path.as_ref())?.remove("__metadata__");
    Ok(metadata.and_then(|m| m.get(FORMAT_KEY)?.as_str().map(str::to_string)))
}

/// The header of the file at `path` as JSON entries.
fn read_json(path: &Path) -> Result<BTreeMap<String, serde_json::Value>> {
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
    serde_json::from_slice(&json).map_err(|e| err(format!("header is not JSON: {e}")))
}
