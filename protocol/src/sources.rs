//! Where content can be fetched: nodes announce what they hold, consumers
//! ask for the sources of an item, and report sources that lied.

use serde::{Deserialize, Serialize};

use crate::{ContentHash, DeviceId};

/// Most holdings one announcement may list; a node with more lists its most
/// wanted ones (the manifest order).
pub const MAX_ANNOUNCED_HOLDINGS: usize = 4096;

/// A node's state as the control plane should route to it, signed by the
/// device. Announcements are state, not events: the control plane keeps the
/// one with the highest `revision`, so a late retry never undoes a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAnnouncement {
    pub device_id: DeviceId,
    pub revision: u64,
    /// Base URL the node serves `/content/{hash}` under; none once stopped.
    pub url: Option<String>,
    /// Items the node holds, verified.
    pub holdings: Vec<ContentHash>,
    pub announced_at_ms: u64,
}

/// The control plane's answer to an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAnnounced {
    pub device_id: DeviceId,
    pub current_revision: u64,
    /// False when a newer announcement was already recorded.
    pub applied: bool,
}

/// One node that can serve an item to the asking device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSource {
    pub node_id: DeviceId,
    pub url: String,
    /// The `Edgepoints-Ticket` header value for this node and item.
    pub ticket: String,
}

/// Where an item can be fetched, best first; the origins last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSources {
    pub content: ContentHash,
    pub size: u64,
    pub nodes: Vec<NodeSource>,
    /// Absolute URLs or control-plane paths of the origin copies.
    pub origins: Vec<String>,
}

/// Which source served the wrong bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailedSource {
    Node { node_id: DeviceId },
    Origin { url: String },
}

/// A consumer's signed report that a source served bytes that did not hash
/// to the item's name. The control plane stops routing to that node for
/// that item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashFailureReport {
    pub reporter: DeviceId,
    pub content: ContentHash,
    pub source: FailedSource,
    /// What was wrong, for people reading the record.
    pub reason: String,
    pub observed_at_ms: u64,
}

/// The control plane's answer to a hash-failure report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashFailureRecorded {
    /// How many reports the control plane holds about this source and item.
    pub reports_for_source: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_sources_are_tagged() {
        let json = serde_json::to_value(FailedSource::Origin {
            url: "/origin/x".into(),
        })
        .unwrap();
        assert_eq!(json["kind"], "origin");
        let back: FailedSource = serde_json::from_value(json).unwrap();
        assert_eq!(
            back,
            FailedSource::Origin {
                url: "/origin/x".into()
            }
        );
    }
}
