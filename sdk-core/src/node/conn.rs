//! One client connection: its slowloris watchdog and its memo.
//!
//! hyper's own header-read timeout arms a fresh timer for every request,
//! which costs about 8 % of the node's small-item throughput. The watchdog
//! here does the same job with one coarse ticker per connection: the
//! stream records when bytes arrive, the service records when a request is
//! being answered, and the ticker closes the connection when
//!
//! - a request head has been arriving for longer than the header timeout
//!   (a slow drip), or
//! - nothing arrived for that long while no request is being answered
//!   (an idle keep-alive connection, or one that never sends anything).
//!
//! A response being written to a slow reader is not cut: that is the
//! upload rate cap's and the client's business.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use edgepoints_protocol::{AccessTicket, ContentHash};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::body::{BodyError, ReplyBody};

/// "No request head is arriving."
const NONE: u64 = u64::MAX;

/// What the watchdog and the memo know of one connection.
pub(crate) struct Connection {
    opened: Instant,
    /// Milliseconds since `opened` when bytes last arrived.
    last_read_ms: AtomicU64,
    /// When the bytes of the request head now arriving started, or NONE.
    head_started_ms: AtomicU64,
    /// Requests being answered (their responses not yet fully written).
    in_flight: AtomicU64,
    /// What the last request on this connection used, to skip the shared
    /// caches when the next one asks for the same (the common case: a
    /// consumer reading an item, or its ranges, on one connection).
    pub(super) memo: Mutex<Memo>,
    /// The node is stopping. Per connection, not one channel all
    /// connections wait on: a connection's task polls its waiters on every
    /// wake-up, and a shared one would be a lock every connection takes
    /// per request (it showed as futex calls under load).
    stop: tokio::sync::Notify,
}

/// Why a connection is being closed from the node's side.
pub(crate) enum Closing {
    /// A request head took too long, or the connection idled too long.
    HeaderTimeout,
    /// The node stops: finish what is in flight, then close.
    Stop,
}

#[derive(Default)]
pub(crate) struct Memo {
    /// The last ticket token, verified.
    pub ticket: Option<(String, AccessTicket)>,
    /// The last small item served, with the cache generation it was read
    /// at (any removal from the cache makes it stale).
    pub content: Option<MemoItem>,
}

pub(crate) struct MemoItem {
    pub hash: ContentHash,
    pub bytes: Bytes,
    pub generation: u64,
    /// Its `ETag` and `Content-Length` values, formatted once.
    pub etag: http::HeaderValue,
    pub length: http::HeaderValue,
}

impl Connection {
    pub(crate) fn new() -> Self {
        Connection {
            opened: Instant::now(),
            last_read_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NONE),
            in_flight: AtomicU64::new(0),
            memo: Mutex::new(Memo::default()),
            stop: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn bytes_arrived(&self) {
        let now = self.now_ms();
        self.last_read_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_started_ms.load(Ordering::Relaxed) == NONE {
            self.head_started_ms.store(now, Ordering::Relaxed);
        }
    }

    /// A request head is complete and is being answered; the returned
    /// guard goes with the response body and ends the request when dropped.
    pub(crate) fn request_started(self: &std::sync::Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(NONE, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Whether the connection broke the header timeout.
    fn expired(&self, timeout: Duration) -> bool {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let now = self.now_ms();
        let limit = timeout.as_millis() as u64;
        let head = self.head_started_ms.load(Ordering::Relaxed);
        if head != NONE {
            now.saturating_sub(head) >= limit
        } else {
            now.saturating_sub(self.last_read_ms.load(Ordering::Relaxed)) >= limit
        }
    }

    /// Asks the connection to close once its requests in flight are answered.
    pub(crate) fn stop(&self) {
        self.stop.notify_one();
    }

    /// Resolves when the connection must close: it broke the header
    /// timeout, or the node stops.
    pub(crate) async fn closing(&self, timeout: Duration) -> Closing {
        tokio::select! {
            () = self.watchdog(timeout) => Closing::HeaderTimeout,
            () = self.stop.notified() => Closing::Stop,
        }
    }

    /// Resolves when the connection broke the header timeout; checked a few
    /// times per timeout, so it fires within a quarter of it late.
    pub(crate) async fn watchdog(&self, timeout: Duration) {
        let period = (timeout / 4).max(Duration::from_millis(20));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if self.expired(timeout) {
                return;
            }
        }
    }
}

/// Ends a request when its response body is dropped (fully written, or the
/// connection is gone).
pub(crate) struct InFlight(std::sync::Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        // The next bytes start the next head.
        self.0.last_read_ms.store(self.0.now_ms(), Ordering::Relaxed);
    }
}

/// A response body that carries its request's [`InFlight`] guard.
pub(crate) struct TrackedBody {
    inner: ReplyBody,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub(crate) fn new(inner: ReplyBody, in_flight: InFlight) -> Self {
        TrackedBody {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's stream, noting when bytes arrive.
pub(crate) struct WatchedStream<S> {
    stream: S,
    connection: std::sync::Arc<Connection>,
}

impl<S> WatchedStream<S> {
    pub(crate) fn new(stream: S, connection: std::sync::Arc<Connection>) -> Self {
        WatchedStream { stream, connection }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.connection.bytes_arrived();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn idle_and_slow_heads_expire_but_answers_in_progress_do_not() {
        let timeout = Duration::from_millis(400);
        let idle = Connection::new();
        tokio::time::advance(Duration::from_millis(300)).await;
        assert!(!idle.expired(timeout));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(idle.expired(timeout), "nothing sent for the whole timeout");

        let dripping = Connection::new();
        for _ in 0..5 {
            tokio::time::advance(Duration::from_millis(100)).await;
            dripping.bytes_arrived();
        }
        assert!(
            dripping.expired(timeout),
            "a head dripping in for longer than the timeout"
        );

        let busy = Arc::new(Connection::new());
        busy.bytes_arrived();
        let request = busy.request_started();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!busy.expired(timeout), "a long response is not a slow client");
        drop(request);
        assert!(
            !busy.expired(timeout),
            "the keep-alive wait starts when the answer is done"
        );
        tokio::time::advance(Duration::from_millis(450)).await;
        assert!(busy.expired(timeout));
    }
}
