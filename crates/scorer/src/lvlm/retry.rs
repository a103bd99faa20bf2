//! Bounded retries with exponential backoff and jitter, honouring `Retry-After`.

use std::time::Duration;

use rand::RngExt;

use super::client::AttemptError;
use crate::ScoreError;

/// When and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// Delay scale of the first retry.
    pub base: Duration,
    /// Longest backoff wait.
    pub max: Duration,
    /// Longest `Retry-After` wait.
    pub max_retry_after: Duration,
    /// Per-attempt timeout, quoted in the final error.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): the server's `Retry-After` when given
    /// (plus up to 10 % so that clients told the same second do not return in lockstep), else
    /// "equal jitter" exponential backoff, uniform in [d/2, d] with d = base * 2^(retry-1).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        match retry_after {
            Some(ra) => {
                let ra = ra.min(self.max_retry_after);
                ra + ra.mul_f64(rng.random_range(0.0..=0.1))
            }
            None => {
                let d = self.base.saturating_mul(1u32 << (retry - 1).min(20)).min(self.max);
                d / 2 + d.mul_f64(rng.random_range(0.0..=0.5))
            }
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out; `on_retry` is
    /// told of each retry before its wait.
    pub fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, AttemptError>,
        mut on_retry: impl FnMut(),
    ) -> Result<T, ScoreError> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match attempt() {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempts <= self.max_retries => {
                    on_retry();
                    std::thread::sleep(self.delay(attempts, e.retry_after()));
                }
                Err(e) => return Err(e.into_score_error(attempts, self.timeout)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(1),
            max: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy { base: Duration::from_millis(100), max: Duration::from_secs(1), ..policy() };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400), "{d3:?}");
            assert!(p.delay(30, None) <= Duration::from_secs(1));
            let ra = p.delay(1, Some(Duration::from_millis(500)));
            assert!(ra >= Duration::from_millis(500) && ra <= Duration::from_millis(550), "{ra:?}");
            // Retry-After is not cut to the backoff cap, only to its own.
            let long = p.delay(1, Some(Duration::from_secs(9)));
            assert!(long >= Duration::from_secs(2) && long <= Duration::from_millis(2200), "{long:?}");
        }
    }

    #[test]
    fn stops_after_max_retries_and_not_on_permanent_errors() {
        let mut calls = 0;
        let mut retries = 0;
        let r: Result<(), _> = policy().run(
            || {
                calls += 1;
                Err(AttemptError::Status { status: 503, body: "busy".into(), retry_after: None })
            },
            || retries += 1,
        );
        assert_eq!((calls, retries), (4, 3));
        assert!(matches!(r, Err(ScoreError::Status { status: 503, attempts: 4, .. })));

        let mut calls = 0;
        let r: Result<(), _> = policy().run(
            || {
                calls += 1;
                Err(AttemptError::Status { status: 401, body: "bad key".into(), retry_after: None })
            },
            || {},
        );
        assert_eq!(calls, 1);
        assert!(matches!(r, Err(ScoreError::Status { status: 401, attempts: 1, .. })));

        let mut calls = 0;
        let r = policy().run(
            || {
                calls += 1;
                if calls < 3 { Err(AttemptError::Timeout) } else { Ok(calls) }
            },
            || {},
        );
        assert_eq!(r.unwrap(), 3);
    }
}
