//! Points as Kotlin and Swift see them.

use edgepoints_core as core;

use crate::EdgePointsError;

/// An owner's points, as the control plane keeps them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PointsBalance {
    /// The member when one is logged in, else the device.
    pub owner: String,
    pub balance: u64,
    /// Credited on the control plane's current day, against the cap.
    pub today: u64,
    pub daily_cap: u64,
    pub online_ms: u64,
    /// Bytes credited from consumers' receipts.
    pub delivered_bytes: u64,
}

impl From<core::PointsBalance> for PointsBalance {
    fn from(b: core::PointsBalance) -> Self {
        PointsBalance {
            owner: b.owner,
            balance: b.balance,
            today: b.today,
            daily_cap: b.daily_cap,
            online_ms: b.online_ms,
            delivered_bytes: b.delivered_bytes,
        }
    }
}

/// Why points were credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CreditReason {
    /// Time online while serving.
    OnlineTime,
    /// Bytes delivered to other users.
    Delivery,
    /// A coupon claimed through this owner's share was redeemed.
    Referral,
}

impl From<core::CreditReason> for CreditReason {
    fn from(reason: core::CreditReason) -> Self {
        match reason {
            core::CreditReason::OnlineTime => CreditReason::OnlineTime,
            core::CreditReason::Delivery => CreditReason::Delivery,
            core::CreditReason::Referral => CreditReason::Referral,
        }
    }
}

/// One credit in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerEntry {
    pub id: u64,
    pub at_ms: u64,
    pub points: u64,
    pub reason: CreditReason,
    /// For people: "3 min online", "… over the daily cap …".
    pub detail: String,
    /// In a member's ledger: the device whose service earned it.
    pub device_id: Option<String>,
}

impl From<core::LedgerEntry> for LedgerEntry {
    fn from(e: core::LedgerEntry) -> Self {
        LedgerEntry {
            id: e.id,
            at_ms: e.at_ms,
            points: e.points,
            reason: e.reason.into(),
            detail: e.detail,
            device_id: e.device_id.map(|d| d.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Pass as `after` for the next page; none at the end.
    pub next_after: Option<u64>,
}

impl From<core::LedgerPage> for LedgerPage {
    fn from(page: core::LedgerPage) -> Self {
        LedgerPage {
            entries: page.entries.into_iter().map(Into::into).collect(),
            next_after: page.next_after,
        }
    }
}

/// What one heartbeat earned.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeartbeatReport {
    pub seq: u64,
    pub credited_online_ms: u64,
    /// Points for the online time this heartbeat closed.
    pub credited_points: u64,
    /// Points for deliveries credited since the previous heartbeat.
    pub delivery_points: u64,
    pub balance: u64,
    pub next_interval_ms: u64,
}

impl From<core::HeartbeatReport> for HeartbeatReport {
    fn from(r: core::HeartbeatReport) -> Self {
        HeartbeatReport {
            seq: r.seq,
            credited_online_ms: r.credited_online_ms,
            credited_points: r.credited_points,
            delivery_points: r.delivery_points,
            balance: r.balance,
            next_interval_ms: r.next_interval.as_millis() as u64,
        }
    }
}

/// This device's points.
#[derive(uniffi::Object)]
pub struct Points {
    inner: core::Points,
}

impl Points {
    pub(crate) fn new(inner: core::Points) -> Self {
        Points { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Points {
    pub async fn balance(&self) -> Result<PointsBalance, EdgePointsError> {
        Ok(self.inner.balance().await?.into())
    }

    /// Entries after entry `after` (0 for the first page), oldest first.
    pub async fn ledger(&self, after: u64) -> Result<LedgerPage, EdgePointsError> {
        Ok(self.inner.ledger(after).await?.into())
    }
}
