//! Control-plane routes, spelled once for both sides.

/// `POST`: register a device (body: a [`crate::SignedEnvelope`] of [`crate::DeviceRegistration`]).
pub const DEVICES: &str = "/v1/devices";

/// `GET`: liveness of one control-plane endpoint.
pub const HEALTHZ: &str = "/healthz";

/// `PUT`: report the device's consent (body: a signed [`crate::ConsentReport`]).
pub fn device_consent(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/consent")
}

/// `GET`: what became of the device's mutating request with this
/// idempotency key (a signed read, see [`crate::request_auth`]).
pub fn device_operation(device_id: &str, idempotency_key: &str) -> String {
    format!("/v1/devices/{device_id}/operations/{idempotency_key}")
}

/// `GET`: the content manifest, a [`crate::SignedEnvelope`] of [`crate::Manifest`].
pub const MANIFEST: &str = "/v1/manifest";

/// `GET`: an item's bytes from the origin.
pub fn origin(hash: &crate::ContentHash) -> String {
    format!("/origin/{hash}")
}

/// `PUT`: where the device's edge node serves and what it holds (body: a
/// signed [`crate::NodeAnnouncement`]).
pub fn device_node(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/node")
}

/// `GET`: which nodes can serve an item to this device, each with a ticket,
/// and the origins (a signed read, answered with [`crate::ContentSources`]).
pub fn device_sources(device_id: &str, hash: &crate::ContentHash) -> String {
    format!("/v1/devices/{device_id}/sources/{hash}")
}

/// `POST`: report a source that served bytes not matching their hash
/// (body: a signed [`crate::HashFailureReport`]).
pub fn device_hash_failures(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/hash-failures")
}

/// `POST`: a signed [`crate::Heartbeat`]; answered with [`crate::HeartbeatAccepted`].
pub fn device_heartbeats(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/heartbeats")
}

/// `GET`: the device's [`crate::PointsBalance`] (a signed read).
pub fn device_points(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/points")
}

/// `GET`: the ledger entries after entry `after` (0 for the first page), a
/// signed read answered with [`crate::LedgerPage`].
pub fn device_ledger(device_id: &str, after: u64) -> String {
    format!("/v1/devices/{device_id}/ledger/{after}")
}

/// `POST`: a consumer's signed [`crate::Receipt`] for a delivery from a
/// node; answered with [`crate::ReceiptAccepted`].
pub fn device_receipts(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/receipts")
}
