//! CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder and run by the
//! `tokenizers` crate with the pipeline of transformers' `CLIPTokenizer`: NFC, whitespace runs
//! to one space, lowercase; split on CLIP's pattern (contractions, letter runs, single digits,
//! punctuation runs; whitespace dropped); byte-level symbols; BPE with `</w>` ending each word.
//! Prompts become `<|startoftext|> tokens <|endoftext|>`, truncated to `model_max_length` (77)
//! and padded to it with the pad token (SD 1.5: `<|endoftext|>`), as diffusers' pipelines call
//! the tokenizer (`padding="max_length"`, `truncation=True`).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde_json::Value;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as Normalizers, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizers;
use tokenizers::pre_tokenizers::split::Split;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{ModelError, Result};

/// CLIP's pre-tokenizer pattern (transformers' `CLIPTokenizer`).
const CLIP_PATTERN: &str = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
/// transformers' defaults for CLIP.
const DEFAULT_BOS: &str = "<|startoftext|>";
const DEFAULT_EOS: &str = "<|endoftext|>";
/// SD 1.5's `model_max_length` (CLIP's 77 positions).
const DEFAULT_MAX_LENGTH: usize = 77;

/// Files of a diffusers `tokenizer/` folder.
pub const VOCAB: &str = "vocab.json";
pub const MERGES: &str = "merges.txt";
pub const TOKENIZER_JSON: &str = "tokenizer.json";
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
pub const SPECIAL_TOKENS_MAP: &str = "special_tokens_map.json";

/// A CLIP tokenizer with SD's fixed-length framing.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    inner: Tokenizer,
    /// The folder it was read from (named in errors).
    dir: PathBuf,
    /// Id of the start-of-text token (SD 1.5: 49406).
    pub bos_id: u32,
    /// Id of the end-of-text token (SD 1.5: 49407).
    pub eos_id: u32,
    /// Id that fills a prompt up to `max_length` (SD 1.5: the end-of-text token).
    pub pad_id: u32,
    /// Every encoded prompt has exactly this many ids, specials included (SD 1.5: 77).
    pub max_length: usize,
}

impl ClipTokenizer {
    /// Reads a diffusers `tokenizer/` folder: `vocab.json` + `merges.txt` (as SD 1.5 ships them)
    /// or `tokenizer.json`; special tokens from `special_tokens_map.json` or
    /// `tokenizer_config.json`, `model_max_length` from the latter (defaults: CLIP's tokens, 77).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config = read_optional_json(&dir.join(TOKENIZER_CONFIG))?;
        let special = read_optional_json(&dir.join(SPECIAL_TOKENS_MAP))?;
        let token = |name: &str, default: &str| -> String {
            [&special, &config]
                .iter()
                .find_map(|json| json.as_ref().and_then(|j| token_content(j.get(name)?)))
                .unwrap_or_else(|| default.to_string())
        };
        let bos = token("bos_token", DEFAULT_BOS);
        let eos = token("eos_token", DEFAULT_EOS);
        let pad = token("pad_token", &eos);
        let unk = token("unk_token", &eos);
        let max_length = match config.as_ref().and_then(|c| c.get("model_max_length")).and_then(Value::as_f64) {
            // transformers writes 1e30 for "no limit"; CLIP still has 77 positions.
            Some(n) if (2.0..=1e6).contains(&n) => n as usize,
            Some(n) if n < 2.0 => {
                return Err(tokenizer_err(&dir.join(TOKENIZER_CONFIG), format!("model_max_length {n} leaves no room for the start and end tokens")));
            }
            _ => DEFAULT_MAX_LENGTH,
        };

        let json = dir.join(TOKENIZER_JSON);
        let mut inner = if json.is_file() {
            Tokenizer::from_file(&json).map_err(|e| tokenizer_err(&json, e.to_string()))?
        } else {
            clip_bpe(dir, &unk)?
        };
        // We frame, truncate and pad ourselves; a tokenizer.json may carry its own settings.
        inner.with_truncation(None).map_err(|e| tokenizer_err(dir, e.to_string()))?;
        inner.with_padding(None);
        inner
            .add_special_tokens([AddedToken::from(bos.clone(), true), AddedToken::from(eos.clone(), true)])
            .map_err(|e| tokenizer_err(dir, e.to_string()))?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| tokenizer_err(dir, format!("special token {t:?} is not in the vocabulary")))
        };
        Ok(Self { bos_id: id(&bos)?, eos_id: id(&eos)?, pad_id: id(&pad)?, max_length, inner, dir: dir.to_path_buf() })
    }

    /// The ids of `text` without any framing.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let encoding =
            self.inner.encode(text, false).map_err(|e| tokenizer_err(&self.dir, format!("encoding {text:?}: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// `[bos, tokens.., eos, pad..]`, exactly `max_length` ids (tokens beyond `max_length - 2`
    /// are dropped).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(self.max_length);
        ids.push(self.bos_id);
        ids.extend(self.tokenize(text)?.into_iter().take(self.max_length - 2));
        ids.push(self.eos_id);
        ids.resize(self.max_length, self.pad_id);
        Ok(ids)
    }

    /// [`encode`](Self::encode) for a batch: ids `[B, max_length]` on `device`.
    pub fn encode_batch(&self, texts: &[&str], device: &Device) -> Result<Tensor<2, Int>> {
        let mut ids = Vec::with_capacity(texts.len() * self.max_length);
        for text in texts {
            ids.extend(self.encode(text)?.into_iter().map(i64::from));
        }
        Ok(Tensor::from_data(TensorData::new(ids, [texts.len(), self.max_length]), device))
    }
}

/// The BPE pipeline of transformers' `CLIPTokenizer` from `vocab.json` + `merges.txt`.
fn clip_bpe(dir: &Path, unk: &str) -> Result<Tokenizer> {
    let vocab = require(dir, VOCAB)?;
    let merges = require(dir, MERGES)?;
    let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
        .continuing_subword_prefix(String::new())
        .end_of_word_suffix("</w>".into())
        .unk_token(unk.into())
        .build()
        .map_err(|e| tokenizer_err(dir, format!("{VOCAB} / {MERGES}: {e}")))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let whitespace = Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()), " ")
        .map_err(|e| tokenizer_err(dir, e.to_string()))?;
    tokenizer
        .with_normalizer(Some(Normalizers::new(vec![NFC.into(), whitespace.into(), Lowercase.into()])))
        .map_err(|e| tokenizer_err(dir, e.to_string()))?;
    let split = Split::new(tokenizers::pre_tokenizers::split::SplitPattern::Regex(CLIP_PATTERN.into()), SplitDelimiterBehavior::Removed, true)
        .map_err(|e| tokenizer_err(dir, e.to_string()))?;
    tokenizer.with_pre_tokenizer(Some(PreTokenizers::new(vec![split.into(), ByteLevel::new(false, true, true).into()])));
    Ok(tokenizer)
}

fn require(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(ModelError::MissingFile {
            path: path.display().to_string(),
            hint: format!(
                "a CLIP tokenizer folder needs {VOCAB} and {MERGES} (or {TOKENIZER_JSON}); copy the model's tokenizer/ folder (SD 1.5 ships all of them)"
            ),
        })
    }
}

fn read_optional_json(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| tokenizer_err(path, e.to_string()))?;
    serde_json::from_str(&text).map(Some).map_err(|e| tokenizer_err(path, format!("not JSON: {e}")))
}

/// A special token as transformers writes it: a string or `{"content": ..., ...}`.
fn token_content(v: &Value) -> Option<String> {
    v.as_str().or_else(|| v.get("content")?.as_str()).map(String::from)
}

fn tokenizer_err(path: &Path, message: String) -> ModelError {
    ModelError::Tokenizer { path: path.display().to_string(), message }
}
