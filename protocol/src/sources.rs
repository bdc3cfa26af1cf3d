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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeAnnouncement {
    pub device_id: DeviceId,
    pub revision: u64,
    /// Base URL the node serves `/content/{hash}` under; none once stopped.
    pub url: Option<String>,
    /// Items the node holds, verified.
    pub holdings: Vec<ContentHash>,
    pub announced_at_ms: u64,
    /// Where the phone is, coarsely, if the host shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// `ip:port` of every interface the node may be reached on; the control
    /// plane probes each and routes only to those that answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// The network the phone is on (`wifi`, `cellular`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// Most addresses one announcement may list.
pub const MAX_ANNOUNCED_ADDRESSES: usize = 16;

/// The node's answer to a reachability probe (`GET /probe/{nonce}`),
/// signed by the device key, so only the device itself can pass it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeAnswer {
    pub device_id: DeviceId,
    pub nonce: String,
}

/// A coarse position (a city, not a street), as a host may share it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

impl Location {
    /// The `Edgepoints-Location` header form: `lat,lon`.
    pub fn to_header(self) -> String {
        format!("{:.4},{:.4}", self.latitude, self.longitude)
    }

    pub fn from_header(text: &str) -> Option<Location> {
        let (lat, lon) = text.split_once(',')?;
        let location = Location {
            latitude: lat.trim().parse().ok()?,
            longitude: lon.trim().parse().ok()?,
        };
        location.is_valid().then_some(location)
    }

    /// Great-circle distance to `other`, in km.
    pub fn distance_km(self, other: Location) -> f64 {
        let (la1, la2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude - self.longitude).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().min(1.0).asin()
    }

    pub fn is_valid(self) -> bool {
        (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude)
    }
}

/// Header on a sources request: where the asking device is, if known, so
/// the nearest nodes come first. Not signed: it steers, it grants nothing.
pub const LOCATION_HEADER: &str = "Edgepoints-Location";

/// The control plane's answer to an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeAnnounced {
    pub device_id: DeviceId,
    pub current_revision: u64,
    /// False when a newer announcement was already recorded.
    pub applied: bool,
    /// The announced addresses that answered the control plane's probe.
    #[serde(default)]
    pub reachable: Vec<String>,
    /// The address the control plane saw the announcement come from.
    #[serde(default)]
    pub seen_from: Option<String>,
}

/// One node that can serve an item to the asking device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeSource {
    pub node_id: DeviceId,
    pub url: String,
    /// The `Edgepoints-Ticket` header value for this node and item.
    pub ticket: String,
    /// The node's public key, so the consumer can check its delivery
    /// statement before it signs a receipt for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// Where an item can be fetched, best first; the origins last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentSources {
    pub content: ContentHash,
    pub size: u64,
    pub nodes: Vec<NodeSource>,
    /// Absolute URLs or control-plane paths of the origin copies.
    pub origins: Vec<String>,
}

/// Which source served the wrong bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailedSource {
    Node { node_id: DeviceId },
    Origin { url: String },
}

/// A consumer's signed report that a source served bytes that did not hash
/// to the item's name. The control plane stops routing to that node for
/// that item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashFailureReport {
    pub reporter: DeviceId,
    pub content: ContentHash,
    pub source: FailedSource,
    /// What was wrong, for people reading the record.
    pub reason: String,
    pub observed_at_ms: u64,
}

/// What the control plane made of a report about a node, after fetching
/// the item from that node itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportVerdict {
    /// The node served the control plane wrong bytes too: it is not routed
    /// to for the item any more, and its receipts for it are refused.
    Confirmed,
    /// The node served the control plane the right bytes: the report is
    /// kept on record but changes nothing, so a lying consumer cannot
    /// exclude an honest node.
    Refuted,
    /// The node could not be asked (unreachable, refused, too slow): the
    /// report stands, as if confirmed.
    Unverified,
    /// Reports about origins are recorded, not checked.
    NotChecked,
}

/// The control plane's answer to a hash-failure report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashFailureRecorded {
    /// How many standing reports the control plane holds about this source
    /// and item (refuted ones do not count).
    pub reports_for_source: u64,
    #[serde(default = "not_checked")]
    pub verdict: ReportVerdict,
}

fn not_checked() -> ReportVerdict {
    ReportVerdict::NotChecked
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
