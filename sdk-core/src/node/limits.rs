//! Upload limits: a token bucket shared by every response of the node (the
//! rate cap), and a meter of bytes served this month (the policy's cap).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Bytes a throttled response sends per frame: small enough that many
/// responses share the rate fairly, big enough to keep syscalls few.
const THROTTLED_FRAME: usize = 64 * 1024;

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
    /// one frame).
    pub(crate) fn new(bytes_per_second: u64) -> Self {
        let rate = bytes_per_second as f64;
        let burst = rate.max(THROTTLED_FRAME as f64);
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

/// A response body sent at the bucket's pace, a frame at a time.
pub(crate) struct ThrottledBody {
    rest: Bytes,
    bucket: Arc<TokenBucket>,
    /// The frame granted, waiting out its delay.
    pending: Option<(Bytes, Pin<Box<Sleep>>)>,
}

impl ThrottledBody {
    pub(crate) fn new(bytes: Bytes, bucket: Arc<TokenBucket>) -> Self {
        ThrottledBody {
            rest: bytes,
            bucket,
            pending: None,
        }
    }
}

impl Body for ThrottledBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.pending.is_none() {
            if this.rest.is_empty() {
                return Poll::Ready(None);
            }
            let frame = this.rest.split_to(this.rest.len().min(THROTTLED_FRAME));
            let wait = this.bucket.take(frame.len());
            if wait.is_zero() {
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            this.pending = Some((frame, Box::pin(tokio::time::sleep(wait))));
        }
        let (_, sleep) = this.pending.as_mut().expect("set above");
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let (frame, _) = this.pending.take().expect("set above");
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let pending = self.pending.as_ref().map_or(0, |(frame, _)| frame.len());
        SizeHint::with_exact((self.rest.len() + pending) as u64)
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

    #[tokio::test(start_paused = true)]
    async fn a_throttled_body_keeps_the_rate() {
        use http_body_util::BodyExt;
        let bucket = Arc::new(TokenBucket::new(THROTTLED_FRAME as u64));
        let payload = Bytes::from(vec![7u8; THROTTLED_FRAME * 4]);
        let started = Instant::now();
        let collected = ThrottledBody::new(payload.clone(), bucket)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(collected, payload);
        // One frame of burst, three more at one frame per second.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(3) && elapsed < Duration::from_millis(3100),
            "{elapsed:?}"
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
