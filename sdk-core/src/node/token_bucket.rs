//! The upload rate cap: a token bucket shared by every response of the node.

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
}
