//! Throttles shared by all requests of one scorer: at most N in flight, at most R started per
//! minute. Both block the calling thread; scoring runs on plain threads.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A counting semaphore; the permit is returned when the guard drops.
pub struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

pub struct Permit<'a>(&'a Semaphore);

impl Semaphore {
    pub fn new(permits: usize) -> Semaphore {
        Semaphore { free: Mutex::new(permits.max(1)), freed: Condvar::new() }
    }

    pub fn acquire(&self) -> Permit<'_> {
        // The counter is a plain integer, valid even if a holder panicked.
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

/// Spaces request starts at least `60 s / rpm` apart: a smooth limit, so a burst of retries
/// cannot exceed the provider's per-minute quota either.
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn per_minute(rpm: u32) -> RateLimiter {
        RateLimiter { interval: Duration::from_secs(60) / rpm.max(1), next: Mutex::new(None) }
    }

    /// Blocks until this caller's slot.
    pub fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn semaphore_bounds_holders() {
        let sem = Semaphore::new(2);
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let _p = sem.acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn rate_limiter_spaces_starts() {
        let rl = RateLimiter::per_minute(1200); // 50 ms apart
        let t0 = Instant::now();
        for _ in 0..4 {
            rl.wait();
        }
        // Three full intervals must have passed before the fourth start (a lower bound only).
        assert!(t0.elapsed() >= Duration::from_millis(150));
    }
}
