//! Upload limits: a token bucket shared by every response of the node (the
//! rate cap), and a meter of bytes served this month (the policy's cap).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The smallest burst: one paced frame.
const MIN_BURST: f64 = 64.0 * 1024.0;

/// A token bucket in bytes. Takers may go into debt: a frame is always
/// granted, and its taker waits until the debt is paid off at the rate.
/// So no frame is split or starved, and the long-run rate holds exactly.
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// `rate` bytes per second, with a burst of one second's worth (at least
    /// one paced frame).
    pub(crate) fn new(bytes_per_second: u64) -> Self {
        let rate = bytes_per_second as f64;
        let burst = rate.max(MIN_BURST);
        TokenBucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes `n` bytes' worth; returns how long to wait before sending them.
    pub(crate) fn take(&self, n: usize) -> Duration {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *state;
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        *tokens -= n as f64;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate)
        }
    }
}

/// Bytes served in the current calendar month, against the cap. Charged on
/// the hot path with atomics; written to the store by the node's ticker.
pub(crate) struct UploadMeter {
    month: Mutex<String>,
    used: AtomicU64,
    cap: AtomicU64,
}

impl UploadMeter {
    pub(crate) fn new(month: String, used: u64, cap: u64) -> Self {
        UploadMeter {
            month: Mutex::new(month),
            used: AtomicU64::new(used),
            cap: AtomicU64::new(cap),
        }
    }

    /// Counts `n` bytes if they fit under the cap; false (and nothing
    /// counted) if they do not.
    pub(crate) fn try_charge(&self, n: u64) -> bool {
        let cap = self.cap.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= cap)
            })
            .is_ok()
    }

    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    pub(crate) fn cap(&self) -> u64 {
        self.cap.load(Ordering::Relaxed)
    }

    pub(crate) fn set_cap(&self, cap: u64) {
        self.cap.store(cap, Ordering::Relaxed);
    }

    pub(crate) fn month(&self) -> String {
        self.month.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A new month starts from what the store holds for it (normally 0).
    pub(crate) fn roll_over(&self, month: String, used: u64) {
        *self.month.lock().unwrap_or_else(|p| p.into_inner()) = month;
        self.used.store(used, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let bucket = TokenBucket::new(100_000);
        // The burst is a second's worth.
        assert_eq!(bucket.take(100_000), Duration::ZERO);
        let wait = bucket.take(50_000);
        assert!((wait.as_secs_f64() - 0.5).abs() < 0.01, "{wait:?}");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            bucket.take(40_000),
            Duration::ZERO,
            "the debt is paid and 0.5 s refilled"
        );
    }

    #[test]
    fn the_meter_refuses_past_the_cap_and_counts_nothing() {
        let meter = UploadMeter::new("2026-11".into(), 90, 100);
        assert!(meter.try_charge(10));
        assert!(!meter.try_charge(1));
        assert_eq!(meter.used(), 100);
        meter.set_cap(200);
        assert!(meter.try_charge(50));
        meter.roll_over("2026-12".into(), 0);
        assert_eq!(meter.used(), 0);
        assert_eq!(meter.month(), "2026-12");
    }
}
