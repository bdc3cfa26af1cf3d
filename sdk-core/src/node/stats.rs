//! The node's counters: requests, bytes, hits, misses and refusals, counted
//! on the serving path without a shared cache line, and read as a
//! [`NodeStats`] snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use super::upload_meter::UploadMeter;

/// What a node has served since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub requests: u64,
    pub bytes_served: u64,
    /// Requests answered from the cache (200, 206, 304).
    pub hits: u64,
    /// Requests for items the node does not hold.
    pub misses: u64,
    /// Refusals by reason: `no_ticket`, `bad_ticket`, `not_found`,
    /// `too_many_connections`, `paused`, `monthly_cap`, …
    pub rejected: BTreeMap<String, u64>,
    /// Bytes served this calendar month (UTC), across restarts.
    pub uploaded_this_month_bytes: u64,
    /// The month's cap from the user's policy.
    pub monthly_cap_bytes: u64,
}

/// Counter stripes: each runtime thread counts on its own cache line, so
/// the hot path never bounces a shared line between cores.
const STRIPES: usize = 16;

#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    requests: AtomicU64,
    bytes_served: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The stripe of the calling thread.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|index| *index)
}

#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Stripe; STRIPES],
    rejected: Mutex<BTreeMap<String, u64>>,
    /// Set by the first count after a snapshot, which also wakes whoever
    /// waits in [`Counters::changed`]; a node that serves nothing wakes
    /// nobody. While it stays set, counting only reads it (no shared line
    /// is written on the hot path).
    dirty: AtomicBool,
    changed: Notify,
}

impl Counters {
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    fn mark(&self) {
        if !self.dirty.load(Ordering::Relaxed) && !self.dirty.swap(true, Ordering::AcqRel) {
            self.changed.notify_one();
        }
    }

    /// Resolves once something was counted since [`Counters::settled`].
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The counts are about to be read: the next count wakes `changed`.
    pub(crate) fn settled(&self) {
        self.dirty.store(false, Ordering::Release);
    }

    pub(crate) fn request(&self) {
        self.mine().requests.fetch_add(1, Ordering::Relaxed);
        self.mark();
    }

    pub(crate) fn hit(&self) {
        self.mine().hits.fetch_add(1, Ordering::Relaxed);
        self.mark();
    }

    pub(crate) fn served(&self, bytes: u64) {
        self.mine().bytes_served.fetch_add(bytes, Ordering::Relaxed);
        self.mark();
    }

    pub(crate) fn miss(&self) {
        self.mine().misses.fetch_add(1, Ordering::Relaxed);
        self.mark();
    }

    /// Requests and bytes served so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        let sum = |field: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| field(s).load(Ordering::Relaxed)).sum()
        };
        (sum(|s| &s.requests), sum(|s| &s.bytes_served))
    }

    pub(crate) fn reject(&self, reason: &str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason.to_owned())
            .or_default() += 1;
        self.mark();
    }

    pub(crate) fn snapshot(&self, meter: &UploadMeter) -> NodeStats {
        let sum = |field: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| field(s).load(Ordering::Relaxed)).sum()
        };
        NodeStats {
            uploaded_this_month_bytes: meter.used(),
            monthly_cap_bytes: meter.cap(),
            requests: sum(|s| &s.requests),
            bytes_served: sum(|s| &s.bytes_served),
            hits: sum(|s| &s.hits),
            misses: sum(|s| &s.misses),
            rejected: self.rejected.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
