//! The edge node and the content cache as Kotlin and Swift see them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use edgepoints_core as core;

use crate::EdgePointsError;

pub(crate) fn parse_hash(text: &str) -> Result<core::ContentHash, EdgePointsError> {
    core::ContentHash::parse(text).map_err(|e| EdgePointsError::InvalidInput { reason: e.to_string() })
}

/// The BLAKE3 name of `bytes`, as the cache and the control plane use it.
#[uniffi::export]
pub fn content_hash_of(bytes: Vec<u8>) -> String {
    core::ContentHash::of(&bytes).to_hex()
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CacheStats {
    pub items: u64,
    pub disk_bytes: u64,
    pub disk_budget_bytes: u64,
    pub memory_bytes: u64,
    pub memory_budget_bytes: u64,
}

/// Verified content on this device.
#[derive(uniffi::Object)]
pub struct ContentCache {
    inner: core::ContentCache,
}

impl ContentCache {
    pub(crate) fn new(inner: core::ContentCache) -> Self {
        ContentCache { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl ContentCache {
    /// Keeps `bytes` if they hash to `hash`; refuses them otherwise.
    pub async fn ingest(&self, hash: String, bytes: Vec<u8>) -> Result<(), EdgePointsError> {
        Ok(self.inner.ingest_bytes(parse_hash(&hash)?, &bytes).await?)
    }

    pub async fn read(&self, hash: String) -> Result<Option<Vec<u8>>, EdgePointsError> {
        Ok(self.inner.read(&parse_hash(&hash)?).await?.map(|b| b.to_vec()))
    }

    pub fn contains(&self, hash: String) -> Result<bool, EdgePointsError> {
        Ok(self.inner.contains(&parse_hash(&hash)?)?)
    }

    /// Deletes every cached item; returns how many.
    pub fn purge(&self) -> Result<u64, EdgePointsError> {
        Ok(self.inner.purge()?)
    }

    pub fn stats(&self) -> Result<CacheStats, EdgePointsError> {
        let s = self.inner.stats()?;
        Ok(CacheStats {
            items: s.items,
            disk_bytes: s.disk_bytes,
            disk_budget_bytes: s.disk_budget_bytes,
            memory_bytes: s.memory_bytes,
            memory_budget_bytes: s.memory_budget_bytes,
        })
    }
}

/// What a running node has served.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NodeStats {
    pub requests: u64,
    pub bytes_served: u64,
    pub hits: u64,
    pub misses: u64,
    /// Refusals by reason (`no_ticket`, `bad_ticket`, `paused`, `monthly_cap`, …).
    pub rejected: HashMap<String, u64>,
    /// Bytes served this calendar month (UTC), across restarts.
    pub uploaded_this_month_bytes: u64,
    /// The month's cap from the user's policy.
    pub monthly_cap_bytes: u64,
}

impl From<core::NodeStats> for NodeStats {
    fn from(stats: core::NodeStats) -> Self {
        NodeStats {
            requests: stats.requests,
            bytes_served: stats.bytes_served,
            hits: stats.hits,
            misses: stats.misses,
            rejected: stats.rejected.into_iter().collect(),
            uploaded_this_month_bytes: stats.uploaded_this_month_bytes,
            monthly_cap_bytes: stats.monthly_cap_bytes,
        }
    }
}

/// Where a fetched item came from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FetchSource {
    Cache,
    Node { node_id: String, url: String },
    Origin { url: String },
}

impl From<core::FetchSource> for FetchSource {
    fn from(source: core::FetchSource) -> Self {
        match source {
            core::FetchSource::Cache => FetchSource::Cache,
            core::FetchSource::Node { node_id, url } => FetchSource::Node { node_id, url },
            core::FetchSource::Origin { url } => FetchSource::Origin { url },
        }
    }
}

/// What became of one source.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AttemptOutcome {
    Delivered,
    /// Another source won first.
    Abandoned,
    /// Served bytes not matching the hash; reported to the control plane.
    Tampered {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FetchAttempt {
    pub source: FetchSource,
    pub outcome: AttemptOutcome,
}

/// A fetched item and how it came.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FetchReport {
    pub hash: String,
    pub size: u64,
    pub source: FetchSource,
    pub attempts: Vec<FetchAttempt>,
    /// Whether a receipt for the delivering node was queued.
    pub receipt_queued: bool,
}

impl From<core::FetchReport> for FetchReport {
    fn from(report: core::FetchReport) -> Self {
        FetchReport {
            hash: report.hash.to_hex(),
            size: report.size,
            source: report.source.into(),
            receipt_queued: report.receipt_queued,
            attempts: report
                .attempts
                .into_iter()
                .map(|a| FetchAttempt {
                    source: a.source.into(),
                    outcome: match a.outcome {
                        core::AttemptOutcome::Delivered => AttemptOutcome::Delivered,
                        core::AttemptOutcome::Abandoned => AttemptOutcome::Abandoned,
                        core::AttemptOutcome::Tampered { reason } => AttemptOutcome::Tampered { reason },
                        core::AttemptOutcome::Failed { reason } => AttemptOutcome::Failed { reason },
                    },
                })
                .collect(),
        }
    }
}

/// Whether the node may serve now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServingGate {
    Serving,
    Paused { reason: String },
    NoConsent,
}

impl From<core::ServingGate> for ServingGate {
    fn from(gate: core::ServingGate) -> Self {
        match gate {
            core::ServingGate::Serving => ServingGate::Serving,
            core::ServingGate::Paused { reason } => ServingGate::Paused { reason },
            core::ServingGate::NoConsent => ServingGate::NoConsent,
        }
    }
}

/// This device as an edge node.
#[derive(uniffi::Object)]
pub struct EdgeNode {
    inner: core::EdgeNode,
}

impl EdgeNode {
    pub(crate) fn new(inner: core::EdgeNode) -> Self {
        EdgeNode { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl EdgeNode {
    /// Starts serving on `listen`, e.g. `0.0.0.0:0`; needs consent.
    pub async fn start(&self, listen: String) -> Result<Arc<NodeHandle>, EdgePointsError> {
        let addr = listen.parse().map_err(|e| EdgePointsError::InvalidInput {
            reason: format!("listen address `{listen}`: {e}"),
        })?;
        // The server's tasks run on the SDK runtime, not the caller's.
        let inner = self.inner.clone();
        let handle = crate::runtime::runtime()?
            .spawn(async move { inner.start(addr).await })
            .await
            .map_err(|e| EdgePointsError::Internal { reason: e.to_string() })??;
        Ok(Arc::new(NodeHandle {
            inner: Mutex::new(Some(handle)),
        }))
    }
}

/// What one manifest sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub manifest_version: u64,
    pub fetched: u64,
    pub bytes_fetched: u64,
    pub already_cached: u64,
    pub dropped: u64,
    pub over_budget: u64,
    pub failed: Vec<String>,
}

#[uniffi::export(async_runtime = "tokio")]
impl EdgeNode {
    /// Syncs the cache with the control plane's manifest (only where the
    /// user's policy allows: `NotAllowed` otherwise).
    pub async fn sync(&self) -> Result<SyncReport, EdgePointsError> {
        let inner = self.inner.clone();
        let r = crate::runtime::runtime()?
            .spawn(async move { inner.sync().await })
            .await
            .map_err(|e| EdgePointsError::Internal { reason: e.to_string() })??;
        Ok(SyncReport {
            manifest_version: r.manifest_version,
            fetched: r.fetched,
            bytes_fetched: r.bytes_fetched,
            already_cached: r.already_cached,
            dropped: r.dropped,
            over_budget: r.over_budget,
            failed: r.failed,
        })
    }
}

/// A running node; `stop()` ends it (so does dropping it).
#[derive(uniffi::Object)]
pub struct NodeHandle {
    inner: Mutex<Option<core::NodeHandle>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl NodeHandle {
    /// `ip:port` the node listens on, or empty once stopped.
    pub fn local_addr(&self) -> String {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.local_addr().to_string())
            .unwrap_or_default()
    }

    /// The announced addresses the control plane could reach.
    pub fn reachable_addresses(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.reachable_addresses())
            .unwrap_or_default()
    }

    pub fn stats(&self) -> NodeStats {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.stats())
            .unwrap_or_default()
            .into()
    }

    /// Sends a heartbeat now (e.g. on a network change); returns what it
    /// earned. Beats also go on their own while the node serves.
    pub async fn heartbeat_now(&self) -> Result<crate::points::HeartbeatReport, EdgePointsError> {
        let handle = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.heartbeats());
        let Some(heartbeater) = handle else {
            return Err(EdgePointsError::InvalidInput {
                reason: "the node is stopped".into(),
            });
        };
        let report = crate::runtime::runtime()?
            .spawn(async move { heartbeater.beat_now().await })
            .await
            .map_err(|e| EdgePointsError::Internal { reason: e.to_string() })??;
        Ok(report.into())
    }

    pub async fn stop(&self) {
        let handle = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            handle.stop().await;
        }
    }
}
