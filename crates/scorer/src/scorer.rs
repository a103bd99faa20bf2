//! The `Scorer` trait: a `ScoreRequest` in, a `Reward` out (architecture.md rule 5), one at a
//! time or many with bounded concurrency.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use rewardedit_core::Reward;

use crate::{ScoreError, ScoreRequest};

/// Anything that measures an edit on the three axes: the LVLM teacher, the world oracle, the
/// student. A scorer never invents a score; every failure is a [`ScoreError`].
pub trait Scorer: Send + Sync {
    /// A short human-readable name (e.g. `lvlm:gpt-4o/joint`) for logs and run records.
    fn describe(&self) -> String;

    /// Scores one edit, blocking until done.
    fn score(&self, request: &ScoreRequest) -> Result<Reward, ScoreError>;

    /// Scores a stream of edits with at most `concurrency` of them in flight (at least one).
    /// Requests are pulled lazily, so a long manifest is never held in memory; `done` is called
    /// on the calling thread with each request and its result, in completion order.
    fn score_stream(
        &self,
        requests: &mut dyn Iterator<Item = ScoreRequest>,
        concurrency: usize,
        done: &mut dyn FnMut(ScoreRequest, Result<Reward, ScoreError>),
    ) {
        pump(requests, concurrency, &|r: &ScoreRequest| self.score(r), done);
    }

    /// Scores a batch with at most `concurrency` edits in flight; results in request order.
    fn score_batch(&self, requests: &[ScoreRequest], concurrency: usize) -> Vec<Result<Reward, ScoreError>> {
        let mut results: Vec<Option<Result<Reward, ScoreError>>> = vec![None; requests.len()];
        pump(
            &mut requests.iter().enumerate(),
            concurrency,
            &|(_, r): &(usize, &ScoreRequest)| self.score(r),
            &mut |(i, _), result| results[i] = Some(result),
        );
        results.into_iter().map(|r| r.expect("pump reports every item exactly once")).collect()
    }
}

/// Runs `run` on every item, one scoped thread per item and at most `concurrency` at once,
/// handing each item and its result to `done` on the calling thread as it completes. Scorers
/// block (on I/O or compute), so plain threads are the simplest faithful concurrency; a panic
/// in `run` is re-raised here rather than leaving the pump waiting for it.
pub(crate) fn pump<T: Send, R: Send>(
    items: &mut dyn Iterator<Item = T>,
    concurrency: usize,
    run: &(dyn Fn(&T) -> R + Sync),
    done: &mut dyn FnMut(T, R),
) {
    let concurrency = concurrency.max(1);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        let mut in_flight = 0usize;
        let mut exhausted = false;
        loop {
            while !exhausted && in_flight < concurrency {
                match items.next() {
                    Some(item) => {
                        let tx = tx.clone();
                        s.spawn(move || {
                            let result = catch_unwind(AssertUnwindSafe(|| run(&item)));
                            // The receiver lives until every worker has reported.
                            let _ = tx.send((item, result));
                        });
                        in_flight += 1;
                    }
                    None => exhausted = true,
                }
            }
            if in_flight == 0 {
                break;
            }
            let (item, result) = rx.recv().expect("a sender is held by this function");
            in_flight -= 1;
            match result {
                Ok(r) => done(item, r),
                Err(panic) => resume_unwind(panic),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use image::RgbImage;
    use rewardedit_core::{Axis, AxisScore};

    use super::*;

    /// Scores by the instruction's length, fails on "fail", and records peak concurrency.
    struct Probe {
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Scorer for Probe {
        fn describe(&self) -> String {
            "probe".into()
        }
        fn score(&self, r: &ScoreRequest) -> Result<Reward, ScoreError> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            // Keeps workers overlapping so that an unbounded pump would show a peak above the limit.
            std::thread::sleep(Duration::from_millis(20));
            self.now.fetch_sub(1, Ordering::SeqCst);
            if r.instruction == "fail" {
                return Err(ScoreError::InvalidRequest("fail".into()));
            }
            let s = AxisScore::new(r.instruction.len() as f32, true, "").map_err(|e| ScoreError::InvalidRequest(e.to_string()))?;
            Ok(Reward::new(s.clone(), AxisScore::clean(Axis::Preservation), s))
        }
    }

    fn request(instruction: &str) -> ScoreRequest {
        ScoreRequest {
            id: instruction.into(),
            source: Arc::new(RgbImage::new(1, 1)),
            edited: Arc::new(RgbImage::new(1, 1)),
            instruction: instruction.into(),
            edit_type: None,
            provenance: serde_json::json!({}),
        }
    }

    #[test]
    fn batch_keeps_order_reports_errors_and_bounds_concurrency() {
        let probe = Probe { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) };
        let reqs: Vec<_> = ["a", "bbb", "fail", "cc", "d", "eeee", "f", "g"].map(request).into();
        let out = probe.score_batch(&reqs, 3);
        let scores: Vec<_> = out.iter().map(|r| r.as_ref().map(|r| r.following.score()).ok()).collect();
        assert_eq!(scores, [Some(1.0), Some(3.0), None, Some(2.0), Some(1.0), Some(4.0), Some(1.0), Some(1.0)]);
        let peak = probe.peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak concurrency {peak}");
    }

    #[test]
    fn stream_reports_every_request_once() {
        let probe = Probe { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) };
        let mut seen = Vec::new();
        probe.score_stream(&mut ["a", "b", "c", "d", "e"].map(request).into_iter(), 0, &mut |r, res| {
            seen.push((r.id, res.is_ok()))
        });
        seen.sort();
        assert_eq!(seen.len(), 5);
        assert!(seen.iter().all(|(_, ok)| *ok));
        assert_eq!(probe.peak.load(Ordering::SeqCst), 1, "concurrency 0 means one at a time");
    }
}
