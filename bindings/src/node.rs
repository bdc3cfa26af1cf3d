//! The edge node as Kotlin and Swift see it.

use std::collections::HashMap;
use std::sync::Arc;

use edgepoints_core as core;

use crate::points::HeartbeatReport;
use crate::EdgePointsError;

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
        let handle = self.inner.start(crate::parse::socket_address(&listen)?).await?;
        Ok(Arc::new(NodeHandle { inner: handle }))
    }

    /// Syncs the cache with the control plane's manifest (only where the
    /// user's policy allows: `NotAllowed` otherwise, `NoConsent` without
    /// consent).
    pub async fn sync(&self) -> Result<SyncReport, EdgePointsError> {
        Ok(self.inner.sync().await?.into())
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

impl From<core::SyncReport> for SyncReport {
    fn from(r: core::SyncReport) -> Self {
        SyncReport {
            manifest_version: r.manifest_version,
            fetched: r.fetched,
            bytes_fetched: r.bytes_fetched,
            already_cached: r.already_cached,
            dropped: r.dropped,
            over_budget: r.over_budget,
            failed: r.failed,
        }
    }
}

/// A running node; `stop()` ends it (so does dropping it).
#[derive(uniffi::Object)]
pub struct NodeHandle {
    inner: core::NodeHandle,
}

#[uniffi::export(async_runtime = "tokio")]
impl NodeHandle {
    /// `ip:port` the node listens on; `null` once stopped.
    pub fn local_addr(&self) -> Option<String> {
        self.inner.local_addr().map(|addr| addr.to_string())
    }

    /// The announced addresses the control plane could reach; none once
    /// stopped.
    pub fn reachable_addresses(&self) -> Vec<String> {
        self.inner.reachable_addresses()
    }

    /// What the node served since it started (after a stop: in all).
    pub fn stats(&self) -> NodeStats {
        self.inner.stats().into()
    }

    /// Sends a heartbeat now (e.g. on a network change); returns what it
    /// earned. Beats also go on their own while the node serves.
    /// `NodeStopped` once stopped.
    pub async fn heartbeat_now(&self) -> Result<HeartbeatReport, EdgePointsError> {
        Ok(self.inner.heartbeat_now().await?.into())
    }

    /// Stops the node; calling it again does nothing.
    pub async fn stop(&self) {
        self.inner.stop().await
    }
}
