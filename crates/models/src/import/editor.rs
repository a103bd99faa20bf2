//! The editor folder (diffusers style): `unet/`, `text_encoder/` + `tokenizer/`, optional `vae/`
//! (absent = pixel space), `scheduler/scheduler_config.json`, and our optional `editor.json`
//! ([`EditorConfig`]). Every tensor is accounted for on load ([`crate::store`]) and by
//! [`check_editor_dir`], which compares the files' headers with the modules the configs build
//! without reading any weights.
//!
//! Weights are saved as f32, f16, bf16 or int8 ([`Editor::save_as`], [`WeightFormat`]) under the
//! same file names; the dtype is in each file's header (int8: its metadata says
//! `rewardedit-int8-v2`), so [`Editor::load`] opens all of them alike.
//!
//! The world text encoder is stored as `text_encoder/config.json` ([`WorldTextConfig`]) +
//! `text_encoder/model.safetensors`, its vocabulary as `tokenizer/world_vocab.json` (a CLIP
//! tokenizer folder has `vocab.json` + `merges.txt` instead).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use rewardedit_core::Vocab;

use regex::Regex;

use super::diffusers::{
    load_scheduler_config, load_text_encoder_dir, load_tokenizer_dir, load_unet_dir, load_vae_dir, save_text_encoder_dir,
    save_unet_dir, save_vae_dir, SCHEDULER_CONFIG, TEXT_ENCODER_WEIGHTS, TEXT_ENCODER_WEIGHTS_FP16, TOKENIZER_DIR,
    UNET_CONFIG, UNET_WEIGHTS, UNET_WEIGHTS_FP16, VAE_CONFIG, VAE_WEIGHTS, VAE_WEIGHTS_FP16,
};
use super::header::{read_format, read_header, TensorInfo};
use crate::pipeline::{Editor, EditorConfig, ImageSpace, PromptEncoder, SpaceKind};
use crate::schedulers::NoiseScheduleConfig;
use crate::int8::scale_mismatch;
use crate::store::{file_key, load_safetensors, save_safetensors, tensor_layout, CheckpointKeys, LoadOptions, WeightFormat};
use crate::text::world::{WorldTextConfig, WorldTextEncoder};
use crate::text::{CLIPTextConfig, CLIPTextModel};
use crate::unet::{RewardConditioningConfig, UNet2DConditionConfig, UNet2DConditionModel};
use crate::vae::{AutoencoderKL, AutoencoderKLConfig};
use crate::{ModelError, Result};

/// Our settings file at the folder's root.
pub const EDITOR_CONFIG: &str = "editor.json";
/// The text encoder's config (CLIP's `CLIPTextConfig` or our [`WorldTextConfig`]).
pub const TEXT_CONFIG: &str = "text_encoder/config.json";
/// The text encoder's weights.
pub const TEXT_WEIGHTS: &str = TEXT_ENCODER_WEIGHTS;
/// The world encoder's vocabulary ([`Vocab`] as JSON).
pub const WORLD_VOCAB: &str = "tokenizer/world_vocab.json";
/// Present in a CLIP BPE tokenizer folder.
pub const CLIP_MERGES: &str = "tokenizer/merges.txt";
/// The VAE's folder; its presence makes a latent-space editor.
pub const VAE_DIR: &str = "vae";

/// File keys of the reward modules (official-checkpoint.md, plus our `null_reward`).
pub const REWARD_PREFIXES: &[&str] =
    &["add_embedding.", "add_embedding2.", "text_linear.", "text_linear2.", "proj_deal.", "ca.", "null_reward."];

fn io_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Store { path: path.display().to_string(), message: e.to_string() }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::ConfigFile { path: path.display().to_string(), message: e.to_string() })?;
    serde_json::from_str(&text).map_err(|e| ModelError::ConfigFile { path: path.display().to_string(), message: e.to_string() })
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

/// Which text encoder a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoderKind {
    World,
    Clip,
}

/// The text encoder a folder holds, from its tokenizer files.
pub fn text_encoder_kind(dir: &Path) -> Result<TextEncoderKind> {
    if dir.join(WORLD_VOCAB).is_file() {
        Ok(TextEncoderKind::World)
    } else if dir.join(CLIP_MERGES).is_file() {
        Ok(TextEncoderKind::Clip)
    } else {
        Err(ModelError::ConfigFile {
            path: dir.join("tokenizer").display().to_string(),
            message: format!("no tokenizer: expected {WORLD_VOCAB} (world encoder) or {CLIP_MERGES} (CLIP)"),
        })
    }
}

/// The folder's `editor.json`, or the defaults for what the folder holds.
pub fn load_editor_config(dir: &Path) -> Result<EditorConfig> {
    let path = dir.join(EDITOR_CONFIG);
    if path.is_file() {
        return read_json(&path);
    }
    let space = if dir.join(VAE_DIR).is_dir() { SpaceKind::Latent } else { SpaceKind::Pixel };
    Ok(EditorConfig { space, resolution_multiple: None, defaults: Default::default(), reward_text: None })
}

fn load_world_text(dir: &Path, device: &Device) -> Result<PromptEncoder> {
    let config: WorldTextConfig = read_json(&dir.join(TEXT_CONFIG))?;
    let vocab: Vocab = read_json(&dir.join(WORLD_VOCAB))?;
    if vocab.size() != config.vocab_size {
        return Err(ModelError::InvalidConfig(format!(
            "{WORLD_VOCAB} has {} tokens but {TEXT_CONFIG} says vocab_size = {}",
            vocab.size(),
            config.vocab_size
        )));
    }
    let mut encoder = WorldTextEncoder::new(&config, device)?;
    load_safetensors(&mut encoder, dir.join(TEXT_WEIGHTS), &LoadOptions::strict())?;
    Ok(PromptEncoder::World { encoder, vocab })
}

/// The config that rebuilds `encoder` (it is saved beside its weights).
pub fn world_text_config(encoder: &WorldTextEncoder, vocab: &Vocab) -> WorldTextConfig {
    let [_, dim] = encoder.start_token.dims();
    WorldTextConfig {
        dim,
        layers: encoder.encoder.layers.len(),
        heads: encoder.encoder.n_heads,
        max_tokens: encoder.max_tokens,
        vocab_size: vocab.size(),
    }
}

impl Editor {
    /// Loads an editor folder onto `device`; weights of any precision (fp16, bf16, fp32, our
    /// int8) are cast to the device's float dtype. Missing, unexpected or mis-shaped tensors are
    /// an error naming them.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = load_editor_config(dir)?;
        let unet = load_unet_dir(dir, device)?;
        let text = match text_encoder_kind(dir)? {
            TextEncoderKind::World => load_world_text(dir, device)?,
            TextEncoderKind::Clip => {
                let clip = load_text_encoder_dir(dir, device)?;
                let tokenizer = load_tokenizer_dir(dir)?;
                PromptEncoder::Clip { model: clip.model, config: clip.config, tokenizer, tokenizer_dir: dir.join(TOKENIZER_DIR) }
            }
        };
        let space = if dir.join(VAE_DIR).is_dir() {
            let vae = load_vae_dir(dir, device)?;
            ImageSpace::Latent { vae: vae.model, config: vae.config }
        } else {
            ImageSpace::Pixel
        };
        let schedule = load_scheduler_config(dir)?;
        Editor::new(unet.model, unet.config, text, space, schedule, config)
    }

    /// Writes the editor folder in fp32 (PyTorch layout, diffusers names; the reward modules
    /// under the authors' names plus `null_reward.*`).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_as(dir, WeightFormat::F32)
    }

    /// [`Editor::save`] with every weights file (UNet, text encoder, VAE) as `format`: f16 or
    /// bf16 halve the folder, int8 makes it 3.3-3.7x smaller (docs/benchmarks.md).
    pub fn save_as(&self, dir: impl AsRef<Path>, format: WeightFormat) -> Result<()> {
        let dir = dir.as_ref();
        save_unet_dir(&self.unet, &self.unet_config, dir, format)?;
        match &self.text {
            PromptEncoder::World { encoder, vocab } => {
                write_json(&dir.join(TEXT_CONFIG), &world_text_config(encoder, vocab))?;
                save_safetensors(encoder, dir.join(TEXT_WEIGHTS), format)?;
                write_json(&dir.join(WORLD_VOCAB), vocab)?;
            }
            PromptEncoder::Clip { model, config, tokenizer_dir, .. } => {
                save_text_encoder_dir(model, config, dir, format)?;
                copy_tokenizer(tokenizer_dir, &dir.join(TOKENIZER_DIR))?;
            }
        }
        if let ImageSpace::Latent { vae, config } = &self.space {
            save_vae_dir(vae, config, dir, format)?;
        }
        let mut schedule = serde_json::to_value(&self.schedule).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
        if let Some(obj) = schedule.as_object_mut() {
            obj.insert("_class_name".into(), "EulerAncestralDiscreteScheduler".into());
        }
        write_json(&dir.join(SCHEDULER_CONFIG), &schedule)?;
        write_json(&dir.join(EDITOR_CONFIG), &self.config)
    }
}

/// Copies the files of a tokenizer folder (unless it is already `to`).
fn copy_tokenizer(from: &Path, to: &Path) -> Result<()> {
    if from.canonicalize().ok() == to.canonicalize().ok() {
        return Ok(());
    }
    std::fs::create_dir_all(to).map_err(|e| io_err(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io_err(from, e))? {
        let path = entry.map_err(|e| io_err(from, e))?.path();
        if path.is_file() {
            let target = to.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &target).map_err(|e| io_err(&target, e))?;
        }
    }
    Ok(())
}

/// One weights file compared with the module its config builds.
#[derive(Debug, Clone, Default)]
pub struct PartCheck {
    /// `unet`, `reward modules`, `text encoder`, `vae`.
    pub name: String,
    pub file: PathBuf,
    /// Tensors and parameters (elements) in the file for this part.
    pub tensors: usize,
    pub params: usize,
    /// Tensors per safetensors dtype (an int8 weight counts once, as `I8`, its scale folded in).
    pub dtypes: BTreeMap<String, usize>,
    /// The `format` in the file's metadata (`rewardedit-int8-v2` for int8 weights).
    pub format: Option<String>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub mismatched: Vec<String>,
    /// Facts worth saying (e.g. the authors' checkpoint without a null reward).
    pub notes: Vec<String>,
}

impl PartCheck {
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

/// What [`check_editor_dir`] found.
#[derive(Debug, Clone)]
pub struct FolderCheck {
    pub config: EditorConfig,
    pub unet: UNet2DConditionConfig,
    pub schedule: NoiseScheduleConfig,
    pub text: TextEncoderKind,
    pub parts: Vec<PartCheck>,
}

impl FolderCheck {
    pub fn ok(&self) -> bool {
        self.parts.iter().all(PartCheck::ok)
    }
}

/// Compares every weights file of the folder with the modules its configs build, reading only
/// headers (cheap even for SD 1.5). Config errors are errors; tensor problems are reported in
/// the parts.
pub fn check_editor_dir(dir: impl AsRef<Path>) -> Result<FolderCheck> {
    let dir = dir.as_ref();
    let config = load_editor_config(dir)?;
    let schedule = load_scheduler_config(dir)?;
    let unet_config = UNet2DConditionConfig::from_file(dir.join(UNET_CONFIG))?;
    // Layouts only: nothing is initialised, so any device will do.
    let device = Device::flex();
    let weights = first_file(dir, &[UNET_WEIGHTS, UNET_WEIGHTS_FP16])?;
    let header = canonical::<UNet2DConditionModel>(read_header(&weights)?);
    let has_reward = header.keys().any(|k| k.starts_with("ca."));
    let unet = UNet2DConditionModel::new(&unet_config, has_reward.then(RewardConditioningConfig::default).as_ref(), &device)?;
    let layout = tensor_layout(&unet);
    let is_reward = |k: &str| REWARD_PREFIXES.iter().any(|p| k.starts_with(p));
    let split = |reward: bool| -> (BTreeMap<String, TensorInfo>, BTreeMap<String, Vec<usize>>) {
        (
            header.iter().filter(|(k, _)| is_reward(k) == reward).map(|(k, v)| (k.clone(), v.clone())).collect(),
            layout.iter().filter(|(k, _)| is_reward(k) == reward).map(|(k, v)| (k.clone(), v.clone())).collect(),
        )
    };
    let mut parts = Vec::new();
    let (h, l) = split(false);
    parts.push(compare("unet", &weights, &h, &l, &[]));
    if has_reward || header.keys().any(|k| is_reward(k)) {
        let (h, l) = split(true);
        let mut part = compare("reward modules", &weights, &h, &l, &["null_reward."]);
        if !h.keys().any(|k| k.starts_with("null_reward.")) {
            part.notes.push("no learned null reward (the authors' checkpoint): it starts at zero".into());
        }
        parts.push(part);
    }

    let text = text_encoder_kind(dir)?;
    match text {
        TextEncoderKind::World => {
            let tc: WorldTextConfig = read_json(&dir.join(TEXT_CONFIG))?;
            let encoder = WorldTextEncoder::new(&tc, &device)?;
            let path = dir.join(TEXT_WEIGHTS);
            parts.push(compare("text encoder", &path, &read_header(&path)?, &tensor_layout(&encoder), &[]));
        }
        TextEncoderKind::Clip => {
            let tc = CLIPTextConfig::from_file(dir.join(TEXT_CONFIG))?;
            let path = first_file(dir, &[TEXT_ENCODER_WEIGHTS, TEXT_ENCODER_WEIGHTS_FP16])?;
            let encoder = CLIPTextModel::new(&tc, &device)?;
            parts.push(compare("text encoder", &path, &canonical::<CLIPTextModel>(read_header(&path)?), &tensor_layout(&encoder), &[]));
        }
    }
    if dir.join(VAE_DIR).is_dir() {
        let vc = AutoencoderKLConfig::from_file(dir.join(VAE_CONFIG))?;
        let path = first_file(dir, &[VAE_WEIGHTS, VAE_WEIGHTS_FP16])?;
        let vae = AutoencoderKL::new(&vc, &device)?;
        parts.push(compare("vae", &path, &canonical::<AutoencoderKL>(read_header(&path)?), &tensor_layout(&vae), &[]));
    }
    Ok(FolderCheck { config, unet: unet_config, schedule, text, parts })
}

/// The first of `names` inside `dir` that exists.
fn first_file(dir: &Path, names: &[&str]) -> Result<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| ModelError::MissingFile {
        path: dir.join(names[0]).display().to_string(),
        hint: format!("expected one of {}", names.join(", ")),
    })
}

/// Header keys in the canonical spelling that `M` saves (alternative spellings a checkpoint
/// may use, such as CLIP keys without `text_model.` or the VAE's pre-0.14 attention names, are
/// mapped as the loader maps them).
fn canonical<M: CheckpointKeys>(header: BTreeMap<String, TensorInfo>) -> BTreeMap<String, TensorInfo> {
    let rules: Vec<(Regex, &str)> = M::LOAD_REMAP.iter().map(|(from, to)| (Regex::new(from).expect("static regex"), *to)).collect();
    header
        .into_iter()
        .map(|(key, info)| {
            let path = rules.iter().fold(key, |k, (re, to)| re.replace(&k, *to).into_owned());
            (file_key::<M>(&path), info)
        })
        .collect()
}

/// A file's tensors against a module's layout (file keys, PyTorch shapes).
fn compare(name: &str, file: &Path, header: &BTreeMap<String, TensorInfo>, layout: &BTreeMap<String, Vec<usize>>, may_lack: &[&str]) -> PartCheck {
    let mut part = PartCheck { name: name.into(), file: file.to_path_buf(), tensors: header.len(), ..Default::default() };
    // The header was read already: a file that cannot be read again has no format to report.
    part.format = read_format(file).ok().flatten();
    for (key, info) in header {
        part.params += info.shape.iter().product::<usize>();
        *part.dtypes.entry(info.dtype.clone()).or_insert(0) += 1;
        match layout.get(key) {
            None => part.unexpected.push(key.clone()),
            Some(shape) if *shape != info.shape => {
                part.mismatched.push(format!("{key}: expected {shape:?}, found {:?}", info.shape));
            }
            Some(shape) if info.dtype == "I8" => {
                if let Some(why) = scale_mismatch(shape, info.scale.as_deref()) {
                    part.mismatched.push(format!("{key}: {why}"));
                }
            }
            Some(_) if !matches!(info.dtype.as_str(), "F32" | "F16" | "BF16") => {
                part.mismatched.push(format!("{key}: dtype {} is not a float (F32, F16, BF16) or int8", info.dtype));
            }
            Some(_) => {}
        }
    }
    part.missing = layout
        .keys()
        .filter(|k| !header.contains_key(*k) && !may_lack.iter().any(|p| k.starts_with(p)))
        .cloned()
        .collect();
    part
}
