//! A running node as the app holds it: its address and counters, heartbeats
//! on demand, and a stop that may be called any number of times (dropping
//! the handle stops the node too).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::announce;
use super::heartbeat::{HeartbeatReport, Heartbeater};
use super::stats::{Counters, NodeStats};
use super::upload_meter::UploadMeter;
use crate::edgepoints::EdgePoints;
use crate::policy::ServingGate;
use crate::Error;

/// A running node; dropping it stops it.
pub struct NodeHandle {
    sdk: EdgePoints,
    addr: SocketAddr,
    counters: Arc<Counters>,
    meter: Arc<UploadMeter>,
    heartbeater: Arc<Heartbeater>,
    stop: watch::Sender<bool>,
    stopped: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl NodeHandle {
    pub(super) fn new(
        sdk: EdgePoints,
        addr: SocketAddr,
        counters: Arc<Counters>,
        meter: Arc<UploadMeter>,
        heartbeater: Arc<Heartbeater>,
        stop: watch::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
    ) -> Self {
        NodeHandle {
            sdk,
            addr,
            counters,
            meter,
            heartbeater,
            stop,
            stopped: AtomicBool::new(false),
            tasks: Mutex::new(tasks),
        }
    }

    /// The address the node listens on; `None` once it is stopped.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        (!self.is_stopped()).then_some(self.addr)
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// What the node served since it started (after a stop: in all).
    pub fn stats(&self) -> NodeStats {
        self.counters.snapshot(&self.meter)
    }

    /// The reported addresses the control plane could reach at the last
    /// announcement (consumers are routed only to these); none once stopped.
    pub fn reachable_addresses(&self) -> Vec<String> {
        self.sdk.shared().presence().reachable_addresses()
    }

    /// Sends a heartbeat now (the app may, say, on a network change) and
    /// returns what it earned; [`Error::NodeStopped`] once stopped.
    pub async fn heartbeat_now(&self) -> Result<HeartbeatReport, Error> {
        if self.is_stopped() {
            return Err(Error::NodeStopped);
        }
        let serving = matches!(self.sdk.serving_gate(), ServingGate::Serving);
        let heartbeater = self.heartbeater.clone();
        self.sdk
            .on_runtime(async move { heartbeater.beat(serving).await })
            .await
    }

    /// Stops accepting, closes open connections (within about a second),
    /// and tells the control plane the node is gone. A second call, or one
    /// on a node that stopped already, does nothing.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        self.withdraw();
    }

    /// Marks the node stopped and queues the "stopped" announcement (once);
    /// the outbox sends it.
    fn withdraw(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.sdk.shared();
        let was_serving = shared.presence().stopped().is_some();
        if was_serving && shared.ensure_open().is_ok() {
            match announce::queue(shared, None) {
                Ok(_) => shared.outbox_wake().notify_one(),
                Err(error) => tracing::warn!(%error, "cannot queue the node's stop announcement"),
            }
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.withdraw();
    }
}
