//! Presence: how the control plane sees this device's node right now —
//! where it said it serves, which of those addresses the control plane
//! reached, where it placed the request from, and how the heartbeats go.
//! An app shows this to the user ("your phone is reachable and earning")
//! and support reads it when a node earns nothing.

mod state;

pub(crate) use state::{PresenceState, ServingNode};

use edgepoints_protocol::Location;

use crate::edgepoints::EdgePoints;
use crate::node::HeartbeatReport;

/// The last heartbeat's outcome, and how the ones since went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatState {
    /// The last accepted heartbeat, and when (device clock, ms).
    pub last_accepted: Option<HeartbeatReport>,
    pub last_accepted_at_ms: Option<u64>,
    /// Heartbeats that failed since the last accepted one (the control
    /// plane unreachable, or refusing).
    pub failures_since: u32,
    /// Why the last one failed, if it did.
    pub last_error: Option<String>,
}

/// A snapshot of this device's presence.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceStatus {
    /// The URL the running node serves under; `None` when no node runs.
    pub serving_url: Option<String>,
    /// `ip:port` the last announcement reported.
    pub reported_addresses: Vec<String>,
    /// Which of those the control plane reached with its probe: consumers
    /// are routed only to these. Empty with a node running means nobody can
    /// be routed to it (behind a NAT, say).
    pub reachable_addresses: Vec<String>,
    /// The address the control plane saw the announcement come from.
    pub seen_from: Option<String>,
    /// The location the host shared with [`EdgePoints::set_location`], if
    /// any (else the control plane places the device by its address).
    pub location: Option<Location>,
    pub heartbeats: HeartbeatState,
}

/// This device's presence. Obtained from [`EdgePoints::presence`].
#[derive(Clone)]
pub struct Presence {
    sdk: EdgePoints,
}

impl Presence {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Presence { sdk }
    }

    /// What the SDK knows now; no network I/O.
    pub fn status(&self) -> PresenceStatus {
        self.sdk.shared().presence().snapshot()
    }
}

impl HeartbeatState {
    fn accepted(&mut self, report: HeartbeatReport, at_ms: u64) {
        *self = HeartbeatState {
            last_accepted: Some(report),
            last_accepted_at_ms: Some(at_ms),
            failures_since: 0,
            last_error: None,
        };
    }

    fn failed(&mut self, error: &crate::Error) {
        self.failures_since += 1;
        // With its causes: "unreachable after 1 attempts: status 503".
        self.last_error = Some(crate::error::error_chain(error));
    }
}
