//! Redeeming a coupon at the till, exactly once, and giving a use back.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// A merchant device redeems the coupon behind a presentation it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRequest {
    pub device_id: DeviceId,
    /// The presentation as scanned (`EPP1:…`).
    pub presentation: String,
    /// The till's order, for the merchant's books (at most 64 characters).
    pub order_ref: String,
}

/// A redemption the control plane recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// 16 bytes, hex.
    pub redemption_id: String,
    pub serial: String,
    pub activity_id: String,
    pub order_ref: String,
    pub redeemed_at_ms: u64,
    /// Until when it can be rolled back.
    pub rollback_until_ms: u64,
}

/// A merchant device gives a use back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub device_id: DeviceId,
    pub activity_id: String,
    pub redemption_id: String,
}

/// The answer to a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBack {
    pub redemption_id: String,
    pub serial: String,
    pub rolled_back_at_ms: u64,
}

/// How long after a redemption it can be rolled back, unless QA sets
/// another window.
pub const DEFAULT_ROLLBACK_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// Longest order reference, in characters.
pub const MAX_ORDER_REF: usize = 64;

/// A page of the revocation log: truncated hashes of revoked serials (see
/// [`super::revocation_tag`]), in the order revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationPage {
    /// Hex of 8-byte tags.
    pub tags: Vec<String>,
    /// The `after` for the next delta: the log's length now.
    pub next_after: u64,
}
