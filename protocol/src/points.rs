//! Heartbeats and points: a serving node tells the control plane it is up,
//! and the control plane — never the device — decides what that earns.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// A node's periodic "still serving", signed by the device key.
///
/// `seq` increases strictly over the device's life (it is stored, so a
/// restart goes on from the last one): the control plane refuses a
/// duplicate, replayed or out-of-order heartbeat, and credits nothing for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heartbeat {
    pub device_id: DeviceId,
    pub seq: u64,
    /// Whether the node serves now (it stops heartbeating while paused,
    /// and says so in its last heartbeat before the pause).
    pub serving: bool,
    /// Requests and bytes served since the previous heartbeat, as the node
    /// counts them: shown to operators, never credited (a device cannot
    /// mint points by claiming them; bytes are credited from receipts).
    pub requests_delta: u64,
    pub bytes_delta: u64,
    pub sent_at_ms: u64,
}

/// The control plane's answer to an accepted heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatAccepted {
    pub seq: u64,
    /// When to send the next one (the node adds ±10 % jitter).
    pub next_interval_ms: u64,
    /// Online time credited for the span this heartbeat closed.
    pub credited_online_ms: u64,
    /// Points credited now (full minutes of credited online time).
    pub credited_points: u64,
    pub balance: u64,
    /// The ledger entries credited since the previous accepted heartbeat,
    /// whatever their reason (deliveries are credited when consumers'
    /// receipts arrive, between heartbeats), oldest first; at most the
    /// newest 100 (the ledger has them all).
    #[serde(default)]
    pub credits: Vec<LedgerEntry>,
}

/// How the control plane turns service into points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsRules {
    /// The heartbeat interval the control plane asks for.
    pub heartbeat_interval_ms: u64,
    /// A span between heartbeats longer than this many intervals earns
    /// nothing (the node may have been gone for all of it).
    pub gap_limit_intervals: u64,
    pub points_per_online_minute: u64,
    pub points_per_delivered_mb: u64,
    /// Most points one owner earns per (UTC) day.
    pub daily_cap: u64,
    /// Points for a sharer when a coupon claimed through their referral
    /// code is redeemed.
    #[serde(default = "default_referral_points")]
    pub points_per_referral: u64,
}

fn default_referral_points() -> u64 {
    10
}

impl Default for PointsRules {
    fn default() -> Self {
        PointsRules {
            heartbeat_interval_ms: 30_000,
            gap_limit_intervals: 2,
            points_per_online_minute: 1,
            points_per_delivered_mb: 1,
            daily_cap: 1_000,
            points_per_referral: default_referral_points(),
        }
    }
}

/// Why points were credited or spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LedgerReason {
    OnlineTime,
    Delivery,
    /// A coupon claimed through the owner's share was redeemed.
    Referral,
    /// A coupon of an activity priced in points was claimed (a debit).
    CouponPurchase,
    /// Points given back for a bought coupon: its claim rolled back, or it
    /// expired unused (as much as the activity's rule says).
    CouponRefund,
    /// A reward of the catalogue was redeemed (a debit).
    RewardRedemption,
}

impl LedgerReason {
    /// Points earned by a device's service (what heartbeat answers report
    /// as credits), rather than spent or given back.
    pub fn is_earning(self) -> bool {
        matches!(
            self,
            LedgerReason::OnlineTime | LedgerReason::Delivery | LedgerReason::Referral
        )
    }
}

/// The coupon a ledger entry pays for or refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerCoupon {
    pub activity_id: String,
    pub serial: String,
}

/// One change in an owner's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub id: u64,
    pub at_ms: u64,
    /// Positive for a credit or refund, negative for a debit: the balance
    /// is the sum of the ledger.
    pub points: i64,
    pub reason: LedgerReason,
    /// For people: "10 min online", "capped at the daily limit", …
    pub detail: String,
    /// In a member's ledger: the device whose service earned the credit,
    /// or that spent the points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// The coupon a purchase or refund is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<LedgerCoupon>,
    /// The reward grant a redemption made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// An owner's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsBalance {
    /// Whose points: the member when one is logged in, else the device.
    pub owner: String,
    pub balance: u64,
    /// Points credited on the control plane's current day, against the cap.
    pub today: u64,
    pub daily_cap: u64,
    /// Online time credited so far, in ms.
    pub online_ms: u64,
    /// Bytes credited from consumers' receipts so far.
    #[serde(default)]
    pub delivered_bytes: u64,
}

/// A page of the ledger, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// The `after` of the next page, if there is more.
    pub next_after: Option<u64>,
}
