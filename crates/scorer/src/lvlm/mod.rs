//! The LVLM teacher: a vision-language judge behind any OpenAI-compatible Chat Completions
//! endpoint (GPT-4o, Azure OpenAI, vLLM or SGLang serving Qwen2.5-VL, Ollama).
//!
//! Per edit it asks the paper's three rubrics (preset `paper`, three requests) or all three
//! axes at once (preset `joint`, one request), caches every parsed answer, retries transient
//! failures, throttles to the configured concurrency and rate, and counts tokens and cost.

pub mod cache;
pub mod client;
pub mod config;
pub mod encode;
pub mod limit;
pub mod parse;
pub mod prompts;
pub mod retry;
pub mod usage;

use std::sync::OnceLock;
use std::time::Duration;

use rewardedit_core::{Axis, AxisScore, Reward};
use serde::de::DeserializeOwned;
use serde::Serialize;

use self::cache::{CacheKey, ReplyCache};
use self::client::{ChatClient, Part};
use self::limit::{RateLimiter, Semaphore};
use self::prompts::{ImageSlot, Prompt, Segment};
use self::retry::RetryPolicy;
use self::usage::{Usage, UsageCounters};
pub use self::config::{AuthStyle, ImageFormat, LvlmConfig, Preset};
use crate::request::image_hash;
use crate::{ScoreError, ScoreRequest, Scorer};

/// The LVLM teacher scorer. Cheap to share across threads; `score` blocks.
pub struct LvlmScorer {
    config: LvlmConfig,
    client: ChatClient,
    cache: Option<ReplyCache>,
    permits: Semaphore,
    rate: Option<RateLimiter>,
    retry: RetryPolicy,
    usage: UsageCounters,
}

impl LvlmScorer {
    /// Validates the configuration and opens the cache (unless `no_cache`).
    pub fn new(config: LvlmConfig) -> Result<LvlmScorer, ScoreError> {
        config.validate()?;
        let cache = if config.no_cache { None } else { Some(ReplyCache::open(&config.resolved_cache_dir()?)?) };
        Ok(LvlmScorer {
            client: ChatClient::new(&config),
            cache,
            permits: Semaphore::new(config.concurrency),
            rate: config.requests_per_minute.map(RateLimiter::per_minute),
            retry: RetryPolicy {
                max_retries: config.max_retries,
                base: Duration::from_millis(config.backoff_base_ms),
                max: Duration::from_millis(config.backoff_max_ms),
                max_retry_after: Duration::from_secs_f64(config.max_retry_after_s),
                timeout: config.timeout(),
            },
            usage: UsageCounters::default(),
            config,
        })
    }

    pub fn config(&self) -> &LvlmConfig {
        &self.config
    }

    /// Requests, cache hits, failures, tokens and estimated cost so far.
    pub fn usage(&self) -> Usage {
        self.usage.snapshot(self.config.price_input_per_m, self.config.price_output_per_m)
    }

    /// Where the cache file is, when caching.
    pub fn cache_path(&self) -> Option<&std::path::Path> {
        self.cache.as_ref().map(|c| c.path())
    }

    /// One judge request: from the cache, else over HTTP with retries, parsed by `parse`.
    /// Only a successful parse is cached.
    fn ask<T: Serialize + DeserializeOwned>(
        &self,
        prompt: Prompt,
        edit: &PreparedEdit<'_>,
        parse: impl Fn(&str) -> Result<T, ScoreError>,
    ) -> Result<T, ScoreError> {
        let key = self.key(prompt, edit);
        if let Some(cache) = &self.cache
            && let Some(json) = cache.get(&key)?
        {
            let value = serde_json::from_str(&json)
                .map_err(|e| ScoreError::Cache(format!("unreadable entry in {}: {e}", cache.path().display())))?;
            self.usage.cache_hit();
            return Ok(value);
        }
        let result = self.ask_server(prompt, edit).and_then(|answer| parse(&answer));
        match &result {
            Ok(value) => {
                if let Some(cache) = &self.cache {
                    let json = serde_json::to_string(value)
                        .map_err(|e| ScoreError::Cache(format!("cannot serialise a judgement: {e}")))?;
                    cache.put(&key, &json)?;
                }
            }
            Err(_) => self.usage.failure(),
        }
        result
    }

    fn ask_server(&self, prompt: Prompt, edit: &PreparedEdit<'_>) -> Result<String, ScoreError> {
        let segments = prompt.render(&edit.request.instruction);
        let mut parts = Vec::with_capacity(segments.len());
        for s in &segments {
            parts.push(match s {
                Segment::Text(t) => Part::Text(t),
                Segment::Image(slot) => Part::ImageUrl(edit.data_url(*slot, &self.config)?),
            });
        }
        let schema = self.config.json_schema.then(|| parse::answer_schema(self.config.preset == Preset::Joint));
        let body = client::request_body(&self.config.model, &parts, self.config.max_tokens, schema);
        let reply = self.retry.run(
            || {
                let _permit = self.permits.acquire();
                if let Some(rate) = &self.rate {
                    rate.wait();
                }
                self.usage.request();
                self.client.send(&body)
            },
            || self.usage.retry(),
        )?;
        self.usage.tokens(reply.prompt_tokens, reply.completion_tokens);
        Ok(reply.content)
    }

    /// Everything that shapes what the judge sees and how it answers.
    fn key(&self, prompt: Prompt, edit: &PreparedEdit<'_>) -> CacheKey {
        let c = &self.config;
        let schema = if c.json_schema { "schema" } else { "free" };
        let format = match c.image_format {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
        };
        CacheKey::new(&[
            c.model.as_bytes(),
            c.preset.name().as_bytes(),
            prompt.id().as_bytes(),
            prompt.text.as_bytes(),
            &c.max_image_side.to_le_bytes(),
            format.as_bytes(),
            schema.as_bytes(),
            &edit.source_hash,
            &edit.edited_hash,
            edit.request.instruction.as_bytes(),
        ])
    }
}

impl Scorer for LvlmScorer {
    fn describe(&self) -> String {
        format!("lvlm:{}/{}", self.config.model, self.config.preset.name())
    }

    /// Preset `paper` sends its three requests in parallel; a failure on any axis fails the
    /// edit (the others stay cached, so a retry asks only the failed one).
    fn score(&self, request: &ScoreRequest) -> Result<Reward, ScoreError> {
        request.validate()?;
        let edit = PreparedEdit::new(request);
        match self.config.preset {
            Preset::Joint => self.ask(prompts::JOINT, &edit, parse::parse_joint),
            Preset::Paper => {
                let axis = |a: Axis| self.ask(Prompt::paper(a), &edit, |t| parse::parse_axis(a, t));
                let (following, preservation, quality) = std::thread::scope(|s| {
                    let f = s.spawn(|| axis(Axis::Following));
                    let p = s.spawn(|| axis(Axis::Preservation));
                    let q = axis(Axis::Quality);
                    (join(f), join(p), q)
                });
                Ok(Reward::new(following?, preservation?, quality?))
            }
        }
    }
}

fn join(h: std::thread::ScopedJoinHandle<'_, Result<AxisScore, ScoreError>>) -> Result<AxisScore, ScoreError> {
    h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// One edit's hashes and lazily encoded images: a cache hit never encodes, and the paper
/// preset's three requests share one encoding of each image.
struct PreparedEdit<'a> {
    request: &'a ScoreRequest,
    source_hash: [u8; 32],
    edited_hash: [u8; 32],
    source_url: OnceLock<Result<String, ScoreError>>,
    edited_url: OnceLock<Result<String, ScoreError>>,
}

impl<'a> PreparedEdit<'a> {
    fn new(request: &'a ScoreRequest) -> Self {
        PreparedEdit {
            request,
            source_hash: image_hash(&request.source),
            edited_hash: image_hash(&request.edited),
            source_url: OnceLock::new(),
            edited_url: OnceLock::new(),
        }
    }

    fn data_url(&self, slot: ImageSlot, c: &LvlmConfig) -> Result<&str, ScoreError> {
        let (cell, img) = match slot {
            ImageSlot::Source => (&self.source_url, &self.request.source),
            ImageSlot::Edited => (&self.edited_url, &self.request.edited),
        };
        match cell.get_or_init(|| encode::data_url(img, c.max_image_side, c.image_format)) {
            Ok(url) => Ok(url),
            Err(e) => Err(e.clone()),
        }
    }
}
