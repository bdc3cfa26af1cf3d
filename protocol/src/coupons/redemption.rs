//! Redeeming a coupon at the till, exactly once, and giving a use back.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// A merchant device redeems the coupon behind a presentation it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedemptionRequest {
    pub device_id: DeviceId,
    /// The presentation as scanned (`EPP1:…`).
    pub presentation: String,
    /// The till's order, for the merchant's books (at most 64 characters).
    pub order_ref: String,
}

/// A redemption the control plane recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackRequest {
    pub device_id: DeviceId,
    pub activity_id: String,
    pub redemption_id: String,
}

/// The answer to a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationPage {
    /// Hex of 8-byte tags.
    pub tags: Vec<String>,
    /// The `after` for the next delta: the log's length now.
    pub next_after: u64,
}

/// A redemption a merchant device made while offline, signed by it, sent
/// when it is back online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineRedemption {
    pub device_id: DeviceId,
    pub presentation: String,
    pub order_ref: String,
    /// The discount the till gave, in cents: what the merchant risks if
    /// the redemption turns out to be a double one.
    #[serde(default)]
    pub value_cents: u64,
    /// Strictly increasing per device: the control plane takes each once.
    pub counter: u64,
    /// The device's clock when it redeemed.
    pub redeemed_at_ms: u64,
}

/// One till's record of a redemption, as a conflict reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedemptionSide {
    pub device_id: DeviceId,
    pub order_ref: String,
    pub redeemed_at_ms: u64,
    /// Whether it was made offline.
    pub offline: bool,
}

/// The same coupon redeemed twice: the first the control plane accepted
/// stands; the second is reported to both tills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedemptionConflict {
    pub conflict_id: String,
    pub serial: String,
    pub activity_id: String,
    pub first: RedemptionSide,
    pub second: RedemptionSide,
}

/// What became of an offline redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    /// It was the first: it stands.
    Accepted { redemption: Redemption },
    /// Another redemption came first.
    Conflict { conflict: RedemptionConflict },
}

/// How much a merchant device may redeem offline: the exposure the
/// merchant accepts while a till cannot reach the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineBudget {
    /// Offline redemptions per device and control-plane day.
    pub max_count: u32,
    /// Their total discount value per day, in cents.
    pub max_value_cents: u64,
    /// Offline redemptions settled today, and their value.
    pub used: u32,
    pub used_value_cents: u64,
}

/// The default offline budget of a merchant device: redemptions, and
/// their value in cents.
pub const DEFAULT_OFFLINE_BUDGET: u32 = 20;
pub const DEFAULT_OFFLINE_BUDGET_VALUE_CENTS: u64 = 50_000;
