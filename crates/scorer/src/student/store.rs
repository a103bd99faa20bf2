//! A student folder: `config.json` (shape + vocabulary), `model.safetensors` (fp32, burn's own
//! parameter names and layouts) and `model.int8.safetensors` (our int8 format,
//! [`rewardedit_models::int8`], one scale per tensor: `rewardedit-int8-v1`). Per-tensor, not per
//! channel: burn keeps linear weights as `[in, out]`, so the format's per-row scales would be
//! per input, and the committed students' agreement figures were measured per tensor.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{ApplyResult, ModuleSnapshot, SafetensorsStore};
use rewardedit_models::canonical::canonical_safetensors;
use rewardedit_models::int8::{dequantize_file, quantize_file, Granularity};

use super::config::StudentConfig;
use super::network::StudentNet;
use super::StudentError;

pub const CONFIG_FILE: &str = "config.json";
pub const FP32_FILE: &str = "model.safetensors";
pub const INT8_FILE: &str = "model.int8.safetensors";

/// Which weights of a student folder to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `model.safetensors`.
    Fp32,
    /// `model.int8.safetensors`, dequantised at load.
    Int8,
}

impl Precision {
    pub fn file(self) -> &'static str {
        match self {
            Precision::Fp32 => FP32_FILE,
            Precision::Int8 => INT8_FILE,
        }
    }
}

/// The fp32 safetensors bytes of `model`.
pub fn to_safetensors_bytes(model: &StudentNet) -> Result<Vec<u8>, StudentError> {
    let mut store = SafetensorsStore::from_bytes(None);
    let fail = |e: String| StudentError::Config(format!("cannot serialize the student: {e}"));
    model.save_into(&mut store).map_err(|e| fail(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| fail(e.to_string()))?;
    canonical_safetensors(&bytes).map_err(fail)
}

/// Writes `config.json`, `model.safetensors` and `model.int8.safetensors` into `dir` (created).
/// Returns the paths of the two weight files.
pub fn save_student(dir: &Path, config: &StudentConfig, model: &StudentNet) -> Result<(PathBuf, PathBuf), StudentError> {
    std::fs::create_dir_all(dir).map_err(|e| StudentError::io(dir, e))?;
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| StudentError::io(&p, e)).map(|_| p)
    };
    let json = serde_json::to_string_pretty(config).map_err(|e| StudentError::Config(e.to_string()))?;
    write(CONFIG_FILE, (json + "\n").as_bytes())?;
    let fp32 = to_safetensors_bytes(model)?;
    let int8 = quantize_file(&fp32, Granularity::PerTensor).map_err(|e| StudentError::Config(format!("int8 export: {e}")))?;
    Ok((write(FP32_FILE, &fp32)?, write(INT8_FILE, &int8)?))
}

/// Reads `dir/config.json`.
pub fn load_config(dir: &Path) -> Result<StudentConfig, StudentError> {
    let p = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&p).map_err(|e| StudentError::io(&p, e))?;
    StudentConfig::from_json(&text).map_err(|e| StudentError::format(&p, e))
}

/// Loads the student of `dir` at `precision` onto `device`.
pub fn load_student(dir: &Path, precision: Precision, device: &Device) -> Result<(StudentConfig, StudentNet), StudentError> {
    let config = load_config(dir)?;
    let p = dir.join(precision.file());
    let bytes = std::fs::read(&p).map_err(|e| StudentError::io(&p, e))?;
    let fp32 = match precision {
        Precision::Fp32 => bytes,
        Precision::Int8 => dequantize_file(&bytes).map_err(|e| StudentError::format(&p, e))?,
    };
    let mut model = StudentNet::new(&config, device);
    let mut store = SafetensorsStore::from_bytes(Some(fp32)).allow_partial(true).validate(false);
    let result = model.load_from(&mut store).map_err(|e| StudentError::format(&p, e))?;
    check_complete(&p, &result)?;
    Ok((config, model))
}

/// Every parameter loaded, nothing left over, no shape mismatch.
fn check_complete(path: &Path, r: &ApplyResult) -> Result<(), StudentError> {
    if r.missing.is_empty() && r.unused.is_empty() && r.errors.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = r.missing.iter().map(|(p, _)| p.as_str()).collect();
    Err(StudentError::format(
        path,
        format!("weights do not match config.json: missing {missing:?}, unexpected {:?}, errors {:?}", r.unused, r.errors),
    ))
}
