//! What the SDK knows of its node's presence, behind one lock, changed only
//! by the named transitions below. The node, its announcements and its
//! heartbeats write here; `presence()` and `fetch` read.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

use edgepoints_protocol::Location;

use super::{HeartbeatState, PresenceStatus};
use crate::node::HeartbeatReport;

/// Where the running node serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServingNode {
    /// The base URL it is announced under.
    pub url: String,
    /// The socket it listens on.
    pub listen: SocketAddr,
}

#[derive(Debug, Default)]
struct Fields {
    node: Option<ServingNode>,
    /// The phone's addresses as the host named them, if it did.
    host_addresses: Option<Vec<IpAddr>>,
    /// Where the phone is, coarsely, if the host shares it. Not stored: the
    /// host tells it again after a start.
    location: Option<Location>,
    /// What the last announcement reported, and which of it the control
    /// plane reached with its probe.
    reported: Vec<String>,
    reachable: Vec<String>,
    /// The address the control plane saw the last announcement come from.
    seen_from: Option<String>,
    heartbeats: HeartbeatState,
}

/// The presence of this device's node. One per SDK instance.
#[derive(Debug, Default)]
pub(crate) struct PresenceState {
    fields: Mutex<Fields>,
}

impl PresenceState {
    fn fields(&self) -> MutexGuard<'_, Fields> {
        self.fields.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A node started serving.
    pub(crate) fn serving(&self, node: ServingNode) {
        self.fields().node = Some(node);
    }

    /// The node stopped: nothing is reported or reachable any more. Returns
    /// the node that was serving, if one was.
    pub(crate) fn stopped(&self) -> Option<ServingNode> {
        let mut fields = self.fields();
        fields.reachable.clear();
        fields.node.take()
    }

    /// An announcement reporting `addresses` was queued.
    pub(crate) fn reported(&self, addresses: Vec<String>) {
        self.fields().reported = addresses;
    }

    /// The control plane probed the reported addresses: these answered.
    pub(crate) fn probed(&self, reachable: Vec<String>, seen_from: Option<String>) {
        let mut fields = self.fields();
        fields.reachable = reachable;
        fields.seen_from = seen_from;
    }

    /// The host shared (or stopped sharing) where the phone is.
    pub(crate) fn located(&self, location: Option<Location>) {
        self.fields().location = location;
    }

    /// The host named the phone's addresses (or left it to the SDK).
    pub(crate) fn host_addressed(&self, addresses: Option<Vec<IpAddr>>) {
        self.fields().host_addresses = addresses;
    }

    /// The control plane accepted a heartbeat.
    pub(crate) fn heartbeat_accepted(&self, report: HeartbeatReport, at_ms: u64) {
        self.fields().heartbeats.accepted(report, at_ms);
    }

    /// A heartbeat failed.
    pub(crate) fn heartbeat_failed(&self, error: &crate::Error) {
        self.fields().heartbeats.failed(error);
    }

    /// The running node, if one serves.
    pub(crate) fn node(&self) -> Option<ServingNode> {
        self.fields().node.clone()
    }

    pub(crate) fn location(&self) -> Option<Location> {
        self.fields().location
    }

    pub(crate) fn host_addresses(&self) -> Option<Vec<IpAddr>> {
        self.fields().host_addresses.clone()
    }

    pub(crate) fn reported_addresses(&self) -> Vec<String> {
        self.fields().reported.clone()
    }

    pub(crate) fn reachable_addresses(&self) -> Vec<String> {
        self.fields().reachable.clone()
    }

    /// Everything at once, consistent.
    pub(crate) fn snapshot(&self) -> PresenceStatus {
        let fields = self.fields();
        PresenceStatus {
            serving_url: fields.node.as_ref().map(|n| n.url.clone()),
            reported_addresses: fields.reported.clone(),
            reachable_addresses: fields.reachable.clone(),
            seen_from: fields.seen_from.clone(),
            location: fields.location,
            heartbeats: fields.heartbeats.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> ServingNode {
        ServingNode {
            url: "http://127.0.0.1:9".into(),
            listen: "127.0.0.1:9".parse().unwrap(),
        }
    }

    #[test]
    fn a_stopped_node_is_neither_served_nor_reachable_but_keeps_where_it_was_seen() {
        let state = PresenceState::default();
        state.serving(node());
        state.reported(vec!["127.0.0.1:9".into()]);
        state.probed(vec!["127.0.0.1:9".into()], Some("127.0.0.1".into()));
        assert_eq!(state.stopped(), Some(node()));
        let status = state.snapshot();
        assert_eq!(status.serving_url, None);
        assert!(status.reachable_addresses.is_empty());
        assert_eq!(status.seen_from.as_deref(), Some("127.0.0.1"));
        assert_eq!(state.stopped(), None, "stopping twice stops nothing more");
    }
}
