//! The one error type of every scorer. A scorer never invents a score: whatever goes wrong
//! (network, server, reply, cache) comes back as one of these (architecture.md rule 6).

use std::time::Duration;

use rewardedit_core::Axis;

/// Why a score could not be produced.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScoreError {
    /// The request is unusable before anything is sent (empty instruction, empty image...).
    #[error("invalid score request: {0}")]
    InvalidRequest(String),
    /// The scorer's configuration is unusable (missing model, bad URL, bad cache directory...).
    #[error("invalid scorer configuration: {0}")]
    Config(String),
    /// The connection failed (refused, reset, DNS, TLS) on every attempt.
    #[error("transport error after {attempts} attempt(s): {message}")]
    Transport { attempts: u32, message: String },
    /// No complete reply within the per-request timeout, on every attempt.
    #[error("timed out after {attempts} attempt(s) of {timeout:?} each")]
    Timeout { attempts: u32, timeout: Duration },
    /// The server kept answering 429 until the retries ran out.
    #[error("rate-limited (HTTP 429) on all {attempts} attempt(s): {body}")]
    RateLimited { attempts: u32, body: String },
    /// The server answered with an error status (a 5xx after all retries, or a 4xx at once).
    #[error("HTTP {status} after {attempts} attempt(s): {body}")]
    Status { status: u16, attempts: u32, body: String },
    /// The HTTP reply is not an OpenAI Chat Completions response (no `choices[0].message.content`).
    #[error("not a chat completion response: {reason}; reply begins {excerpt:?}")]
    BadResponse { reason: String, excerpt: String },
    /// The model's answer could not be read as the judgement the prompt asked for.
    #[error("cannot parse the judge's answer: {reason}; answer begins {excerpt:?}")]
    Parse { reason: String, excerpt: String },
    /// The answer parsed, but a score is NaN, infinite or outside [0, 5].
    #[error("invalid {axis} score from the judge: {reason}")]
    InvalidScore { axis: Axis, reason: String },
    /// The persistent reply cache could not be opened, read or written.
    #[error("cache error: {0}")]
    Cache(String),
    /// An image could not be loaded or prepared for the request (decode, resize, encode).
    #[error("image error: {0}")]
    Image(String),
}

impl ScoreError {
    /// A short stable name for the kind of failure, for failure records and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            ScoreError::InvalidRequest(_) => "invalid_request",
            ScoreError::Config(_) => "config",
            ScoreError::Transport { .. } => "transport",
            ScoreError::Timeout { .. } => "timeout",
            ScoreError::RateLimited { .. } => "rate_limited",
            ScoreError::Status { .. } => "http_status",
            ScoreError::BadResponse { .. } => "bad_response",
            ScoreError::Parse { .. } => "parse",
            ScoreError::InvalidScore { .. } => "invalid_score",
            ScoreError::Cache(_) => "cache",
            ScoreError::Image(_) => "image",
        }
    }

    /// A parse error quoting the start of the offending text.
    pub(crate) fn parse(reason: impl Into<String>, text: &str) -> Self {
        ScoreError::Parse { reason: reason.into(), excerpt: excerpt(text) }
    }
}

/// Longest quote of a reply kept in an error, in characters: enough to see what went wrong
/// without copying a whole (possibly huge) body into logs and failure records.
pub const EXCERPT_CHARS: usize = 300;

/// The first [`EXCERPT_CHARS`] characters of `text`, with an ellipsis when cut.
pub(crate) fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_on_characters_and_marks_the_cut() {
        let long = "é".repeat(EXCERPT_CHARS + 5);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
