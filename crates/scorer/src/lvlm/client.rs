//! One Chat Completions exchange over HTTP (`POST {base}/chat/completions`): the request body,
//! the call, and the reply's content and token usage. Retrying is retry.rs's job.

use std::time::Duration;

use serde_json::{json, Value};

use super::config::{AuthStyle, LvlmConfig};
use crate::error::excerpt;
use crate::ScoreError;

/// The judge's answer text and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    pub content: String,
    /// From the reply's `usage` field; 0 when a server omits it (some local servers do).
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One message part: text, or an image as a data URL.
pub enum Part<'a> {
    Text(&'a str),
    ImageUrl(&'a str),
}

/// The outcome of one failed attempt, before the retry policy decides.
#[derive(Debug)]
pub enum AttemptError {
    /// No complete reply within the per-request timeout.
    Timeout,
    /// Connection-level failure; `retryable` is false for ones that cannot heal (bad URL, TLS).
    Transport { message: String, retryable: bool },
    /// A non-2xx status.
    Status { status: u16, body: String, retry_after: Option<Duration> },
    /// A 2xx whose body is not a chat completion.
    BadResponse { reason: String, excerpt: String },
}

impl AttemptError {
    /// 429, 408, 5xx, timeouts and connection errors are worth another try.
    pub fn retryable(&self) -> bool {
        match self {
            AttemptError::Timeout => true,
            AttemptError::Transport { retryable, .. } => *retryable,
            AttemptError::Status { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            AttemptError::BadResponse { .. } => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The final error once no retry is left.
    pub fn into_score_error(self, attempts: u32, timeout: Duration) -> ScoreError {
        match self {
            AttemptError::Timeout => ScoreError::Timeout { attempts, timeout },
            AttemptError::Transport { message, .. } => ScoreError::Transport { attempts, message },
            AttemptError::Status { status: 429, body, .. } => ScoreError::RateLimited { attempts, body },
            AttemptError::Status { status, body, .. } => ScoreError::Status { status, attempts, body },
            AttemptError::BadResponse { reason, excerpt } => ScoreError::BadResponse { reason, excerpt },
        }
    }
}

/// A configured HTTP agent for one endpoint.
pub struct ChatClient {
    agent: ureq::Agent,
    endpoint: String,
    auth: Option<(&'static str, String)>,
}

impl ChatClient {
    pub fn new(config: &LvlmConfig) -> ChatClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout()))
            // Error statuses are read like any reply: their headers (Retry-After) and body matter.
            .http_status_as_error(false)
            // Keep one idle connection per concurrent request so bursts reuse them.
            .max_idle_connections(config.concurrency.max(1))
            .max_idle_connections_per_host(config.concurrency.max(1))
            .user_agent(concat!("rewardedit/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let auth = config.api_key.as_ref().map(|k| match config.auth {
            AuthStyle::Bearer => ("authorization", format!("Bearer {k}")),
            AuthStyle::ApiKey => ("api-key", k.clone()),
        });
        ChatClient { agent, endpoint: config.endpoint(), auth }
    }

    /// Sends one request body and reads the reply.
    pub fn send(&self, body: &[u8]) -> Result<ChatReply, AttemptError> {
        let mut req = self.agent.post(&self.endpoint).header("content-type", "application/json");
        if let Some((name, value)) = &self.auth {
            req = req.header(*name, value);
        }
        let mut resp = req.send(body).map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp.body_mut().read_to_string().map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(AttemptError::Status { status, body: excerpt(&text), retry_after });
        }
        parse_completion(&text)
    }
}

/// The Chat Completions request body: one user message, temperature 0 (the reference judge set
/// none, so its scores drift between runs: paper-notes.md, "Pitfalls").
pub fn request_body(model: &str, parts: &[Part<'_>], max_tokens: u32, schema: Option<Value>) -> Vec<u8> {
    let content: Vec<Value> = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::ImageUrl(u) => json!({"type": "image_url", "image_url": {"url": u}}),
        })
        .collect();
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": max_tokens,
    });
    if let Some(schema) = schema {
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": "edit_judgement", "strict": true, "schema": schema}});
    }
    // Serialising a Value we built cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `choices[0].message.content` and `usage` of a chat completion.
fn parse_completion(text: &str) -> Result<ChatReply, AttemptError> {
    let bad = |reason: String| AttemptError::BadResponse { reason, excerpt: excerpt(text) };
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let content = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no choices[0].message.content string".into()))?;
    let tokens = |k: &str| v.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
    Ok(ChatReply {
        content: content.to_string(),
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
    })
}

/// `Retry-After` in (possibly fractional) seconds; the HTTP-date form is not used by the APIs
/// we target and falls back to exponential backoff.
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

fn transport(e: ureq::Error) -> AttemptError {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => AttemptError::Timeout,
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => AttemptError::Timeout,
        e @ (E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) | E::BodyStalled) => {
            AttemptError::Transport { message: e.to_string(), retryable: true }
        }
        e => AttemptError::Transport { message: e.to_string(), retryable: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_temperature_zero_images_and_optional_schema() {
        let b = request_body("m", &[Part::Text("judge"), Part::ImageUrl("data:image/png;base64,AA==")], 99, None);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["temperature"], 0);
        assert_eq!(v["messages"][0]["content"][1]["image_url"]["url"], "data:image/png;base64,AA==");
        assert!(v.get("response_format").is_none());
        let b = request_body("m", &[], 99, Some(json!({"type": "object"})));
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["response_format"]["type"], "json_schema");
    }

    #[test]
    fn reads_content_and_usage_or_says_why_not() {
        let ok = r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#;
        assert_eq!(parse_completion(ok).unwrap(), ChatReply { content: "hi".into(), prompt_tokens: 7, completion_tokens: 2 });
        assert!(matches!(parse_completion(r#"{"choices":[{"message":{"content":"h"#), Err(AttemptError::BadResponse { .. })));
        assert!(matches!(parse_completion(r#"{"choices":[]}"#), Err(AttemptError::BadResponse { .. })));
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
