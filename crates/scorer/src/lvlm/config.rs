//! Configuration of the LVLM teacher: which endpoint, which judge protocol, how hard to push.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ScoreError;

/// Environment variable holding the endpoint's base URL (e.g. `https://api.openai.com/v1`).
pub const ENV_BASE_URL: &str = "REWARDEDIT_LVLM_BASE_URL";
/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "REWARDEDIT_LVLM_API_KEY";
/// Environment variable holding the model name (Azure: the deployment's model name).
pub const ENV_MODEL: &str = "REWARDEDIT_LVLM_MODEL";
/// Environment variable overriding the cache directory.
pub const ENV_CACHE_DIR: &str = "REWARDEDIT_CACHE_DIR";

/// The judge protocol: how many requests per edit and which rubrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The paper's Real-Edit protocol: three requests per edit, one rubric each (following:
    /// source + edited + instruction; preservation: the same; quality: the edited image only).
    Paper,
    /// One request per edit returning all three axes as one JSON object.
    Joint,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Joint => "joint",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = ScoreError;
    fn from_str(s: &str) -> Result<Self, ScoreError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(Preset::Paper),
            "joint" => Ok(Preset::Joint),
            other => Err(ScoreError::Config(format!("unknown preset {other:?}: expected paper or joint"))),
        }
    }
}

/// How images travel inside the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Lossless; larger requests.
    Png,
    /// Quality 90; about a tenth of the bytes of PNG on photos.
    Jpeg,
}

/// How the API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    /// `Authorization: Bearer KEY` (OpenAI, vLLM, SGLang, Ollama).
    Bearer,
    /// `api-key: KEY` (Azure OpenAI).
    ApiKey,
}

/// Everything the LVLM teacher needs. Defaults target OpenAI's GPT-4o; see the README for
/// Azure, vLLM and Ollama settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LvlmConfig {
    /// Base URL of the OpenAI-compatible API; requests go to `{base_url}/chat/completions`.
    /// Azure: `https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT`.
    pub base_url: String,
    /// API key; `None` sends no credentials (local vLLM or Ollama).
    pub api_key: Option<String>,
    /// Header carrying the key.
    pub auth: AuthStyle,
    /// When set, appended as `?api-version=...` (Azure OpenAI requires it).
    pub api_version: Option<String>,
    /// Model name sent in every request; part of the cache key.
    pub model: String,
    /// Judge protocol.
    pub preset: Preset,
    /// Ask the server to constrain the answer with `response_format: {type: "json_schema"}`
    /// (OpenAI, Azure, vLLM, SGLang, recent Ollama). Off: the prompt alone asks for JSON and
    /// the strict parser checks it either way.
    pub json_schema: bool,
    /// Longest image side sent, in pixels; larger images are downscaled keeping aspect ratio.
    pub max_image_side: u32,
    /// Encoding of the images' data URLs.
    pub image_format: ImageFormat,
    /// Cap on the answer length, in tokens.
    pub max_tokens: u32,
    /// Per-attempt limit for the whole HTTP exchange, in seconds.
    pub timeout_s: f64,
    /// Retries after the first attempt on 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff delay, in milliseconds; doubled at each retry, with jitter.
    pub backoff_base_ms: u64,
    /// Longest backoff delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` honoured, in seconds; a server asking for more is retried after
    /// this long (each retry still counts against `max_retries`).
    pub max_retry_after_s: f64,
    /// HTTP requests in flight at once, over all edits scored through this scorer.
    pub concurrency: usize,
    /// Requests started per minute, retries included; `None` for no limit.
    pub requests_per_minute: Option<u32>,
    /// Price of one million prompt (input) tokens, in dollars, for the cost estimate.
    pub price_input_per_m: f64,
    /// Price of one million completion (output) tokens, in dollars, for the cost estimate.
    pub price_output_per_m: f64,
    /// Cache directory; `None`: `$REWARDEDIT_CACHE_DIR`, else the platform cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache.
    pub no_cache: bool,
}

impl Default for LvlmConfig {
    fn default() -> Self {
        LvlmConfig {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            auth: AuthStyle::Bearer,
            api_version: None,
            model: "gpt-4o".into(),
            preset: Preset::Paper,
            json_schema: false,
            max_image_side: 512,
            image_format: ImageFormat::Png,
            max_tokens: 512,
            timeout_s: 60.0,
            max_retries: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            max_retry_after_s: 120.0,
            concurrency: 32,
            requests_per_minute: None,
            // GPT-4o list prices (2024-08 snapshot), dollars per million tokens.
            price_input_per_m: 2.5,
            price_output_per_m: 10.0,
            cache_dir: None,
            no_cache: false,
        }
    }
}

impl LvlmConfig {
    /// Overrides base URL, key and model from `REWARDEDIT_LVLM_*` where those are set.
    pub fn with_env(mut self) -> Self {
        if let Ok(v) = std::env::var(ENV_BASE_URL) {
            self.base_url = v;
        }
        if let Ok(v) = std::env::var(ENV_API_KEY) {
            self.api_key = Some(v);
        }
        if let Ok(v) = std::env::var(ENV_MODEL) {
            self.model = v;
        }
        self
    }

    /// Rejects settings that would fail on every request.
    pub fn validate(&self) -> Result<(), ScoreError> {
        let bad = |m: String| Err(ScoreError::Config(m));
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad(format!("base_url {:?} must start with http:// or https://", self.base_url));
        }
        if self.model.trim().is_empty() {
            return bad(format!("no model name: set --model or {ENV_MODEL}"));
        }
        if self.auth == AuthStyle::ApiKey && self.api_key.is_none() {
            return bad(format!("api-key authentication needs a key: set --api-key or {ENV_API_KEY}"));
        }
        if self.max_image_side < 16 {
            return bad(format!("max_image_side {} is below 16 pixels", self.max_image_side));
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return bad(format!("timeout_s {} must be a positive number of seconds", self.timeout_s));
        }
        if !(self.max_retry_after_s.is_finite() && self.max_retry_after_s >= 0.0) {
            return bad(format!("max_retry_after_s {} must be a non-negative number of seconds", self.max_retry_after_s));
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        if self.requests_per_minute == Some(0) {
            return bad("requests_per_minute must be at least 1 (or unset for no limit)".into());
        }
        if !(self.price_input_per_m >= 0.0 && self.price_output_per_m >= 0.0) {
            return bad("token prices must be non-negative".into());
        }
        Ok(())
    }

    /// The chat completions URL, with the Azure `api-version` query when configured.
    pub fn endpoint(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match &self.api_version {
            Some(v) => format!("{base}/chat/completions?api-version={v}"),
            None => format!("{base}/chat/completions"),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s)
    }

    /// Where the reply cache lives: the configured directory, `$REWARDEDIT_CACHE_DIR`, or the
    /// platform cache directory (`~/.cache/rewardedit` on Linux).
    pub fn resolved_cache_dir(&self) -> Result<PathBuf, ScoreError> {
        if let Some(d) = &self.cache_dir {
            return Ok(d.clone());
        }
        if let Some(d) = std::env::var_os(ENV_CACHE_DIR) {
            return Ok(PathBuf::from(d));
        }
        dirs::cache_dir()
            .map(|d| d.join("rewardedit"))
            .ok_or_else(|| ScoreError::Config(format!("no platform cache directory: set {ENV_CACHE_DIR}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_endpoint_and_validation() {
        let mut c = LvlmConfig {
            base_url: "https://r.openai.azure.com/openai/deployments/gpt4o/".into(),
            api_version: Some("2024-10-21".into()),
            auth: AuthStyle::ApiKey,
            ..LvlmConfig::default()
        };
        assert_eq!(
            c.endpoint(),
            "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert!(matches!(c.validate(), Err(ScoreError::Config(m)) if m.contains("needs a key")));
        c.api_key = Some("k".into());
        assert!(c.validate().is_ok());
        c.base_url = "localhost:8000/v1".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn parses_from_toml_like_json_with_defaults() {
        let c: LvlmConfig = serde_json::from_value(serde_json::json!({"preset": "joint", "model": "qwen"})).unwrap();
        assert_eq!(c.preset, Preset::Joint);
        assert_eq!(c.max_image_side, 512);
        assert!(serde_json::from_value::<LvlmConfig>(serde_json::json!({"modle": "x"})).is_err());
        assert_eq!("Paper".parse::<Preset>().unwrap(), Preset::Paper);
        assert!("both".parse::<Preset>().is_err());
    }
}
