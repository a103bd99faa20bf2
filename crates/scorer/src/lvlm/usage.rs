//! Usage accounting: what a labelling run asked, what the cache saved, what it cost.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// Live counters, shared by every request of one scorer.
#[derive(Debug, Default)]
pub struct UsageCounters {
    requests: AtomicU64,
    retries: AtomicU64,
    cache_hits: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

/// A snapshot of [`UsageCounters`] with the cost estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Of those, the ones that were retries.
    pub retries: u64,
    /// Judge requests answered from the cache (no HTTP request).
    pub cache_hits: u64,
    /// Judge requests that ended in an error.
    pub failures: u64,
    /// Prompt (input) tokens reported by the server's `usage` field.
    pub prompt_tokens: u64,
    /// Completion (output) tokens reported by the server's `usage` field.
    pub completion_tokens: u64,
    /// Estimated cost in dollars at the configured prices.
    pub cost_usd: f64,
}

impl UsageCounters {
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }
    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }
    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Relaxed);
    }
    pub fn failure(&self) {
        self.failures.fetch_add(1, Relaxed);
    }
    pub fn tokens(&self, prompt: u64, completion: u64) {
        self.prompt_tokens.fetch_add(prompt, Relaxed);
        self.completion_tokens.fetch_add(completion, Relaxed);
    }

    /// The counters now, costed at `price_in`/`price_out` dollars per million tokens.
    pub fn snapshot(&self, price_in: f64, price_out: f64) -> Usage {
        let (p, c) = (self.prompt_tokens.load(Relaxed), self.completion_tokens.load(Relaxed));
        Usage {
            requests: self.requests.load(Relaxed),
            retries: self.retries.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            failures: self.failures.load(Relaxed),
            prompt_tokens: p,
            completion_tokens: c,
            cost_usd: (p as f64 * price_in + c as f64 * price_out) / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_tokens_times_price_per_million() {
        let u = UsageCounters::default();
        u.tokens(2_000_000, 100_000);
        u.tokens(0, 100_000);
        let s = u.snapshot(2.5, 10.0);
        assert_eq!((s.prompt_tokens, s.completion_tokens), (2_000_000, 200_000));
        assert!((s.cost_usd - 7.0).abs() < 1e-9, "{}", s.cost_usd);
    }
}
