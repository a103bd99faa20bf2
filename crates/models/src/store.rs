//! Loading and saving modules as safetensors in their reference layout (PyTorch names and
//! layouts), with every tensor accounted for: anything missing, unexpected or mis-shaped is an
//! error that names it by its key in the file.
//!
//! Weights are written as f32, f16, bf16 or our int8 format ([`WeightFormat`]); any of them
//! loads, cast to the module's float dtype (int8 dequantised first, [`crate::int8`]).
//!
//! Our field names are the reference's state-dict keys. Where Rust cannot spell a key, or a
//! published checkpoint differs, each model says so in its [`CheckpointKeys`] impl (the UNet's
//! below; the VAE's in `vae::autoencoder`, CLIP's in `text::clip`) and nowhere else.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor};
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot,
    PyTorchToBurnAdapter, SafetensorsStore,
};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::canonical::canonical_safetensors;
use crate::import::header::read_format;
use crate::int8::{dequantize_file, is_int8_format, quantize_file, Granularity};
use crate::unet::UNet2DConditionModel;
use crate::{ModelError, Result};

/// How weights are written. Every format loads back through [`load_safetensors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// Full precision (4 bytes per weight).
    #[default]
    F32,
    /// IEEE half precision (2 bytes; diffusers' `fp16` variant).
    F16,
    /// bfloat16 (2 bytes; f32's range, fewer mantissa bits).
    Bf16,
    /// Our int8 format, one scale per output channel ([`crate::int8`], `rewardedit-int8-v2`;
    /// about 1 byte per weight).
    Int8,
}

impl WeightFormat {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
            WeightFormat::Bf16 => "bf16",
            WeightFormat::Int8 => "int8",
        }
    }

    /// The dtype float tensors are cast to before writing (int8 quantizes from f32).
    fn float_dtype(self) -> DType {
        match self {
            WeightFormat::F16 => DType::F16,
            WeightFormat::Bf16 => DType::BF16,
            WeightFormat::F32 | WeightFormat::Int8 => DType::F32,
        }
    }
}

/// A `(regex, replacement)` rule on tensor names.
pub type Remap = (&'static str, &'static str);

/// How a model's module paths differ from its checkpoints' keys.
pub trait CheckpointKeys: Module {
    /// File key -> module path, applied in order when loading.
    const LOAD_REMAP: &'static [Remap];
    /// Module path -> file key, applied in order when saving (the inverse of [`LOAD_REMAP`]
    /// on the keys we write).
    ///
    /// [`LOAD_REMAP`]: CheckpointKeys::LOAD_REMAP
    const SAVE_REMAP: &'static [Remap];
}

/// The UNet (diffusers' `UNet2DConditionModel`) and the authors' reward modules:
/// - `ff.net.0.proj` / `ff.net.2` (numeric, heterogeneous list) <-> `ff.net_0.proj` / `ff.net_2`;
/// - the authors' top-level reward modules `add_embedding`, ..., `ca` (official-checkpoint.md)
///   and our `null_reward` <-> the UNet's `reward` field;
/// - `ca.attention.self` (`self` is a keyword) <-> `ca.attention.self_`;
/// - BERT's `LayerNorm` <-> `layer_norm` (burn's derive turns field names into local variables,
///   so a CamelCase field trips the non-snake-case lint in generated code).
impl CheckpointKeys for UNet2DConditionModel {
    const LOAD_REMAP: &'static [Remap] = &[
        (r"^(add_embedding2?|text_linear2?|proj_deal|ca|null_reward)\.", "reward.$1."),
        (r"\.attention\.self\.", ".attention.self_."),
        (r"\.LayerNorm\.", ".layer_norm."),
        (r"\.ff\.net\.0\.", ".ff.net_0."),
        (r"\.ff\.net\.2\.", ".ff.net_2."),
    ];
    const SAVE_REMAP: &'static [Remap] = &[
        (r"^reward\.", ""),
        (r"\.attention\.self_\.", ".attention.self."),
        (r"\.layer_norm\.", ".LayerNorm."),
        (r"\.ff\.net_0\.", ".ff.net.0."),
        (r"\.ff\.net_2\.", ".ff.net.2."),
    ];
}

fn apply_remap(name: &str, rules: &[Remap]) -> String {
    let mut key = name.to_string();
    for (from, to) in rules {
        key = Regex::new(from).expect("static regex").replace(&key, *to).into_owned();
    }
    key
}

/// The file key of a module path of `M` (as reported by burn-store, with norm params
/// `gamma`/`beta`).
pub fn file_key<M: CheckpointKeys>(module_path: &str) -> String {
    file_key_with(module_path, M::SAVE_REMAP)
}

fn file_key_with(module_path: &str, save_remap: &[Remap]) -> String {
    let mut key = apply_remap(module_path, save_remap);
    // Only normalisation layers have gamma/beta; PyTorch calls them weight/bias.
    if let Some(stem) = key.strip_suffix(".gamma") {
        key = format!("{stem}.weight");
    } else if let Some(stem) = key.strip_suffix(".beta") {
        key = format!("{stem}.bias");
    }
    key
}

/// What a load may tolerate. Everything else must match one-to-one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// File-key prefixes the file may lack; those tensors keep their initial values.
    pub may_lack: Vec<String>,
}

impl LoadOptions {
    /// Every tensor on both sides must match.
    pub fn strict() -> Self {
        Self::default()
    }

    /// The authors' reward checkpoint (official-checkpoint.md) has no null reward, which is
    /// ours: it stays at its initial value (zeros) until trained.
    pub fn authors_checkpoint() -> Self {
        Self { may_lack: vec!["null_reward.".into()] }
    }
}

/// Loads `module` from a diffusers-layout safetensors file. Float tensors of any precision
/// (fp16/bf16/fp32) are cast to the dtype of the module's parameters; an int8 file
/// ([`crate::int8`], told by its metadata) is dequantised first.
pub fn load_safetensors<M: CheckpointKeys>(module: &mut M, path: impl AsRef<Path>, options: &LoadOptions) -> Result<ApplyResult> {
    let path = path.as_ref();
    let store = match read_format(path)? {
        Some(format) if is_int8_format(&format) => {
            let bytes = std::fs::read(path).map_err(|e| store_err(path, e))?;
            SafetensorsStore::from_bytes(Some(dequantize_file(&bytes).map_err(|e| store_err(path, e))?))
        }
        _ => SafetensorsStore::from_file(path),
    };
    load_from_store(module, store, &path.display().to_string(), options)
}

/// [`load_safetensors`] from the bytes of a (float) safetensors file.
pub fn load_safetensors_bytes<M: CheckpointKeys>(module: &mut M, bytes: Vec<u8>, options: &LoadOptions) -> Result<ApplyResult> {
    load_from_store(module, SafetensorsStore::from_bytes(Some(bytes)), "<memory>", options)
}

fn load_from_store<M: CheckpointKeys>(module: &mut M, store: SafetensorsStore, origin: &str, options: &LoadOptions) -> Result<ApplyResult> {
    let mut store = with_load_settings(store, module);
    let result = module.load_from(&mut store).map_err(|e| ModelError::Store { path: origin.into(), message: e.to_string() })?;
    check_complete(&result, options, M::SAVE_REMAP)?;
    Ok(result)
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Store { path: path.display().to_string(), message: e.to_string() }
}

fn with_load_settings<M: CheckpointKeys>(store: SafetensorsStore, module: &M) -> SafetensorsStore {
    // We account for every tensor ourselves, naming them by file key.
    let mut store = store.allow_partial(true).validate(false);
    store = match module_float_dtype(module) {
        Some(dtype) => store.with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(dtype))),
        None => store.with_from_adapter(PyTorchToBurnAdapter),
    };
    for (from, to) in M::LOAD_REMAP {
        store = store.with_key_remapping(*from, *to);
    }
    store
}

/// The float dtype of the module's device. Read from a one-element probe: collecting the
/// module's own tensors would initialise every lazy parameter (GBs for SD 1.5) just to be
/// overwritten by the load.
fn module_float_dtype<M: Module>(module: &M) -> Option<DType> {
    let device = module.devices().into_iter().next()?;
    Some(Tensor::<1>::zeros([1], &device).dtype())
}

/// Every float parameter of `module` by file key, with its shape in PyTorch layout, without
/// initialising lazy parameters (cheap even for SD 1.5).
pub fn tensor_layout<M: CheckpointKeys>(module: &M) -> BTreeMap<String, Vec<usize>> {
    let mut layout = Layout { save_remap: M::SAVE_REMAP, ..Layout::default() };
    module.visit(&mut layout);
    layout.shapes
}

#[derive(Default)]
struct Layout {
    save_remap: &'static [Remap],
    path: Vec<String>,
    containers: Vec<String>,
    shapes: BTreeMap<String, Vec<usize>>,
}

impl ModuleVisitor for Layout {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        let mut shape = param.lazy_shape().to_vec();
        // The innermost user struct decides, as in burn-store's PyTorch adapter: burn's Linear
        // stores [in, out], PyTorch [out, in].
        let module = self.containers.iter().rev().find(|c| c.starts_with("Struct:"));
        if module.map(String::as_str) == Some("Struct:Linear") && path.ends_with(".weight") {
            shape.reverse();
        }
        self.shapes.insert(file_key_with(&path, self.save_remap), shape);
    }
}

/// Turns burn-store's report into an error naming every tensor that did not match.
fn check_complete(result: &ApplyResult, options: &LoadOptions, save_remap: &[Remap]) -> Result<()> {
    let file_key = |path: &str| file_key_with(path, save_remap);
    let missing: Vec<String> = result
        .missing
        .iter()
        .map(|(path, _)| file_key(path))
        .filter(|key| !options.may_lack.iter().any(|prefix| key.starts_with(prefix.as_str())))
        .collect();
    let unexpected: Vec<String> = result.unused.iter().map(|path| file_key(path)).collect();
    let mismatched: Vec<String> = result
        .errors
        .iter()
        .map(|e| match e {
            ApplyError::ShapeMismatch { path, expected, found } => {
                format!("{}: expected {:?}, found {:?}", file_key(path), expected.as_slice(), found.as_slice())
            }
            ApplyError::DTypeMismatch { path, expected, found } => {
                format!("{}: expected {expected:?}, found {found:?}", file_key(path))
            }
            ApplyError::AdapterError { path, message } | ApplyError::LoadError { path, message } => {
                format!("{}: {message}", file_key(path))
            }
        })
        .collect();
    if missing.is_empty() && unexpected.is_empty() && mismatched.is_empty() {
        Ok(())
    } else {
        Err(ModelError::WeightMismatch { missing, unexpected, mismatched })
    }
}

/// Saves `module` as safetensors in diffusers' layout (PyTorch names, `[out, in]` linears), its
/// float tensors as `format`.
pub fn save_safetensors<M: CheckpointKeys>(module: &M, path: impl AsRef<Path>, format: WeightFormat) -> Result<()> {
    let path = path.as_ref();
    let adapter = BurnToPyTorchAdapter.chain(FloatCastAdapter::to(format.float_dtype()));
    // In memory first: int8 is quantized from the f32 bytes (PyTorch layout, so rows are output
    // channels), and the rest is made byte-stable before it is written.
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(adapter);
    for (from, to) in M::SAVE_REMAP {
        store = store.with_key_remapping(*from, *to);
    }
    module.save_into(&mut store).map_err(|e| store_err(path, e))?;
    let bytes = store.get_bytes().map_err(|e| store_err(path, e))?;
    let bytes = match format {
        WeightFormat::Int8 => quantize_file(&bytes, Granularity::PerChannel).map_err(|e| store_err(path, e))?,
        _ => canonical_safetensors(&bytes).map_err(|e| store_err(path, e))?,
    };
    std::fs::write(path, bytes).map_err(|e| store_err(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type UNet = UNet2DConditionModel;

    #[test]
    fn file_keys_undo_every_rename() {
        let file_key = file_key::<UNet>;
        assert_eq!(file_key("reward.ca.attention.self_.query.weight"), "ca.attention.self.query.weight");
        assert_eq!(file_key("reward.ca.output.layer_norm.gamma"), "ca.output.LayerNorm.weight");
        assert_eq!(
            file_key("down_blocks.0.attentions.0.transformer_blocks.0.ff.net_0.proj.bias"),
            "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.bias"
        );
        assert_eq!(file_key("mid_block.resnets.1.norm2.beta"), "mid_block.resnets.1.norm2.bias");
        assert_eq!(file_key("reward.null_reward.scores"), "null_reward.scores");
        // LOAD_REMAP is the inverse of SAVE_REMAP on every renamed key.
        for key in ["ca.attention.self.key.bias", "up_blocks.1.attentions.2.transformer_blocks.0.ff.net.2.weight", "add_embedding2.linear_1.weight", "text_linear.bias", "ca.attention.output.LayerNorm.bias"] {
            let path = apply_remap(key, UNet::LOAD_REMAP);
            assert_ne!(path, key);
            assert_eq!(file_key(&path), key);
        }
    }
}
