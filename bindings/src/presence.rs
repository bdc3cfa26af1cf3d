//! Presence as Kotlin and Swift see it.

use edgepoints_core as core;

use crate::number::Signed;

use crate::edgepoints::GeoLocation;
use crate::points::HeartbeatReport;

/// How the heartbeats go.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeartbeatState {
    /// The last accepted heartbeat, and when (device clock, ms).
    pub last_accepted: Option<HeartbeatReport>,
    pub last_accepted_at_ms: Option<i64>,
    /// Heartbeats that failed since the last accepted one.
    pub failures_since: i32,
    /// Why the last one failed, if it did.
    pub last_error: Option<String>,
}

/// How the control plane sees this device's node right now.
impl From<core::HeartbeatState> for HeartbeatState {
    fn from(state: core::HeartbeatState) -> Self {
        HeartbeatState {
            last_accepted: state.last_accepted.map(Into::into),
            last_accepted_at_ms: state.last_accepted_at_ms.signed(),
            failures_since: state.failures_since.signed(),
            last_error: state.last_error,
        }
    }
}

/// How the control plane sees this device's node, as far as this device knows.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PresenceStatus {
    /// The URL the running node serves under; null when none runs.
    pub serving_url: Option<String>,
    /// `ip:port` the last announcement reported.
    pub reported_addresses: Vec<String>,
    /// Which of those the control plane reached: consumers are routed only
    /// to these.
    pub reachable_addresses: Vec<String>,
    /// The address the control plane saw the announcement come from.
    pub seen_from: Option<String>,
    /// The location the host shared, if any.
    pub location: Option<GeoLocation>,
    pub heartbeats: HeartbeatState,
}

/// This device's presence.
impl From<core::PresenceStatus> for PresenceStatus {
    fn from(status: core::PresenceStatus) -> Self {
        PresenceStatus {
            serving_url: status.serving_url,
            reported_addresses: status.reported_addresses,
            reachable_addresses: status.reachable_addresses,
            seen_from: status.seen_from,
            location: status.location.map(Into::into),
            heartbeats: status.heartbeats.into(),
        }
    }
}

/// The node's presence: addresses reported and reached, heartbeats.
#[derive(uniffi::Object)]
pub struct Presence {
    inner: core::Presence,
}

impl Presence {
    pub(crate) fn new(inner: core::Presence) -> Self {
        Presence { inner }
    }
}

#[uniffi::export]
impl Presence {
    /// What the SDK knows now; no network I/O.
    pub fn status(&self) -> PresenceStatus {
        self.inner.status().into()
    }
}
