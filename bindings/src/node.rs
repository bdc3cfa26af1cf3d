//! The edge node as Kotlin and Swift see it.

use std::collections::HashMap;
use std::sync::Arc;

use edgepoints_core as core;

use crate::number::Signed;

use crate::points::HeartbeatReport;
use crate::EdgePointsError;

/// What a running node has served.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NodeStats {
    pub requests: i64,
    pub bytes_served: i64,
    pub hits: i64,
    pub misses: i64,
    /// Refusals by reason (`no_ticket`, `bad_ticket`, `paused`, `monthly_cap`, …).
    pub rejected: HashMap<String, i64>,
    /// Bytes served this calendar month (UTC), across restarts.
    pub uploaded_this_month_bytes: i64,
    /// The month's cap from the user's policy.
    pub monthly_cap_bytes: i64,
}

impl From<core::NodeStats> for NodeStats {
    fn from(stats: core::NodeStats) -> Self {
        NodeStats {
            requests: stats.requests.signed(),
            bytes_served: stats.bytes_served.signed(),
            hits: stats.hits.signed(),
            misses: stats.misses.signed(),
            rejected: stats
                .rejected
                .into_iter()
                .map(|(reason, n)| (reason, n.signed()))
                .collect(),
            uploaded_this_month_bytes: stats.uploaded_this_month_bytes.signed(),
            monthly_cap_bytes: stats.monthly_cap_bytes.signed(),
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
    pub manifest_version: i64,
    pub fetched: i64,
    pub bytes_fetched: i64,
    pub already_cached: i64,
    pub dropped: i64,
    pub over_budget: i64,
    pub failed: Vec<String>,
}

impl From<core::SyncReport> for SyncReport {
    fn from(r: core::SyncReport) -> Self {
        SyncReport {
            manifest_version: r.manifest_version.signed(),
            fetched: r.fetched.signed(),
            bytes_fetched: r.bytes_fetched.signed(),
            already_cached: r.already_cached.signed(),
            dropped: r.dropped.signed(),
            over_budget: r.over_budget.signed(),
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
