//! Streams: append-only logs read by consumer groups, as Redis Streams
//! are (`XADD`, `XREADGROUP`, `XACK`, `XAUTOCLAIM`). Each group hands every
//! entry to one of its consumers and keeps it pending until acknowledged;
//! an entry left pending by a consumer that died is claimed by another
//! after it has been idle long enough. Delivery is at least once: whoever
//! consumes deduplicates (on the entry's id).

use std::time::Duration;

use super::StoreError;

/// An entry to append to `stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMessage {
    pub stream: String,
    /// JSON, in practice.
    pub body: Vec<u8>,
}

/// An entry read from a stream: its id (`millis-sequence`, rising) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: String,
    pub body: Vec<u8>,
}

/// An entry a consumer has been given and has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PendingEntry {
    pub id: String,
    pub consumer: String,
    pub idle_ms: u64,
    pub deliveries: u64,
}

/// A stream as QA sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamView {
    pub length: u64,
    /// Newest first.
    pub entries: Vec<StreamEntry>,
    pub pending: Vec<PendingEntry>,
}

/// Reads streams for consumers of groups, on a connection of its own.
#[async_trait::async_trait]
pub trait StreamReader: Send {
    /// Up to `count` entries of `stream` never given to anyone in `group`,
    /// now given to `consumer`; waits up to `block` for one to come. The
    /// group is made (from the stream's start) if it does not exist.
    async fn read_new(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<StreamEntry>, StoreError>;

    /// Up to `count` entries of `group` pending for at least `min_idle`
    /// with any consumer, now given to `consumer` (a consumer that died
    /// leaves its entries to the others this way).
    async fn claim_idle(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<StreamEntry>, StoreError>;
}
