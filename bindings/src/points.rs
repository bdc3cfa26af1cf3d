//! Points as Kotlin and Swift see them.

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::EdgePointsError;

/// An owner's points, as the control plane keeps them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PointsBalance {
    /// The member when one is logged in, else the device.
    pub owner: String,
    pub balance: i64,
    /// Credited on the control plane's current day, against the cap.
    pub today: i64,
    pub daily_cap: i64,
    pub online_ms: i64,
    /// Bytes credited from consumers' receipts.
    pub delivered_bytes: i64,
}

impl From<core::PointsBalance> for PointsBalance {
    fn from(b: core::PointsBalance) -> Self {
        PointsBalance {
            owner: b.owner,
            balance: b.balance.signed(),
            today: b.today.signed(),
            daily_cap: b.daily_cap.signed(),
            online_ms: b.online_ms.signed(),
            delivered_bytes: b.delivered_bytes.signed(),
        }
    }
}

/// Why points were credited or spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LedgerReason {
    /// Time online while serving.
    OnlineTime,
    /// Bytes delivered to other users.
    Delivery,
    /// A coupon claimed through this owner's share was redeemed.
    Referral,
    /// A coupon of an activity priced in points (a debit).
    CouponPurchase,
    /// Points back for a bought coupon given back or expired unused.
    CouponRefund,
    /// A reward of the catalogue (a debit).
    RewardRedemption,
}

impl From<core::LedgerReason> for LedgerReason {
    fn from(reason: core::LedgerReason) -> Self {
        match reason {
            core::LedgerReason::OnlineTime => LedgerReason::OnlineTime,
            core::LedgerReason::Delivery => LedgerReason::Delivery,
            core::LedgerReason::Referral => LedgerReason::Referral,
            core::LedgerReason::CouponPurchase => LedgerReason::CouponPurchase,
            core::LedgerReason::CouponRefund => LedgerReason::CouponRefund,
            core::LedgerReason::RewardRedemption => LedgerReason::RewardRedemption,
        }
    }
}

/// One change in the ledger: the balance is the sum of them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerEntry {
    pub id: i64,
    pub at_ms: i64,
    /// Positive for a credit or refund, negative for a debit.
    pub points: i64,
    pub reason: LedgerReason,
    /// For people: "3 min online", "coupon of “…”".
    pub detail: String,
    /// In a member's ledger: the device that earned or spent it.
    pub device_id: Option<String>,
    /// The coupon a purchase or refund is for.
    pub coupon_activity_id: Option<String>,
    pub coupon_serial: Option<String>,
    /// The reward grant a redemption made.
    pub grant_id: Option<String>,
}

impl From<core::LedgerEntry> for LedgerEntry {
    fn from(e: core::LedgerEntry) -> Self {
        let (coupon_activity_id, coupon_serial) = e.coupon.map(|c| (c.activity_id, c.serial)).unzip();
        LedgerEntry {
            id: e.id.signed(),
            at_ms: e.at_ms.signed(),
            points: e.points,
            reason: e.reason.into(),
            detail: e.detail,
            device_id: e.device_id.map(|d| d.to_string()),
            coupon_activity_id,
            coupon_serial,
            grant_id: e.grant_id,
        }
    }
}

/// What a reward gives.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RewardKind {
    /// Money off the member's next rental (up to its fee, on one rental).
    RentalCredit { amount_cents: i64 },
    /// A partner's voucher: the grant carries a code.
    Voucher { partner: String },
}

impl From<core::RewardKind> for RewardKind {
    fn from(kind: core::RewardKind) -> Self {
        match kind {
            core::RewardKind::RentalCredit { amount_cents } => RewardKind::RentalCredit {
                amount_cents: amount_cents.signed(),
            },
            core::RewardKind::Voucher { partner } => RewardKind::Voucher { partner },
        }
    }
}

/// A reward of the catalogue, priced in points.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reward {
    pub reward_id: String,
    pub title: String,
    pub points: i64,
    pub kind: RewardKind,
}

impl From<core::Reward> for Reward {
    fn from(r: core::Reward) -> Self {
        Reward {
            reward_id: r.reward_id,
            title: r.title,
            points: r.points.signed(),
            kind: r.kind.into(),
        }
    }
}

/// What a redeemed reward gave the member.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RewardGrant {
    pub grant_id: String,
    pub reward_id: String,
    pub title: String,
    /// Points debited for it.
    pub points: i64,
    pub kind: RewardKind,
    pub granted_at_ms: i64,
    /// A voucher's code.
    pub code: Option<String>,
    /// The rental a rental credit was taken off, and how much it took.
    pub used_by_rental: Option<String>,
    pub used_cents: i64,
}

impl From<core::RewardGrant> for RewardGrant {
    fn from(g: core::RewardGrant) -> Self {
        RewardGrant {
            grant_id: g.grant_id,
            reward_id: g.reward_id,
            title: g.title,
            points: g.points.signed(),
            kind: g.kind.into(),
            granted_at_ms: g.granted_at_ms.signed(),
            code: g.code,
            used_by_rental: g.used_by_rental,
            used_cents: g.used_cents.signed(),
        }
    }
}

/// A page of ledger entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Pass as `after` for the next page; none at the end.
    pub next_after: Option<i64>,
}

impl From<core::LedgerPage> for LedgerPage {
    fn from(page: core::LedgerPage) -> Self {
        LedgerPage {
            entries: page.entries.into_iter().map(Into::into).collect(),
            next_after: page.next_after.signed(),
        }
    }
}

/// What one heartbeat earned.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeartbeatReport {
    pub seq: i64,
    pub credited_online_ms: i64,
    /// Points for the online time this heartbeat closed.
    pub credited_points: i64,
    /// Points for deliveries credited since the previous heartbeat.
    pub delivery_points: i64,
    pub balance: i64,
    pub next_interval_ms: i64,
}

impl From<core::HeartbeatReport> for HeartbeatReport {
    fn from(r: core::HeartbeatReport) -> Self {
        HeartbeatReport {
            seq: r.seq.signed(),
            credited_online_ms: r.credited_online_ms.signed(),
            credited_points: r.credited_points.signed(),
            delivery_points: r.delivery_points.signed(),
            balance: r.balance.signed(),
            next_interval_ms: r.next_interval.as_millis() as i64,
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
    /// The balance, today's earnings against the daily cap, and the totals
    /// behind them, from the control plane.
    pub async fn balance(&self) -> Result<PointsBalance, EdgePointsError> {
        Ok(self.inner.balance().await?.into())
    }

    /// Entries after entry `after` (0 for the first page), oldest first.
    pub async fn ledger(&self, after: i64) -> Result<LedgerPage, EdgePointsError> {
        Ok(self.inner.ledger(unsigned("after", after)?).await?.into())
    }

    /// The rewards offered now.
    pub async fn rewards(&self) -> Result<Vec<Reward>, EdgePointsError> {
        Ok(self.inner.rewards().await?.into_iter().map(Into::into).collect())
    }

    /// Redeems a reward for the logged-in member's points, once (through
    /// the outbox); `NotEnoughPoints` and `NotLoggedIn` change nothing.
    pub async fn redeem_reward(&self, reward_id: String) -> Result<RewardGrant, EdgePointsError> {
        Ok(self.inner.redeem_reward(&reward_id).await?.into())
    }

    /// The logged-in member's grants, oldest first.
    pub async fn grants(&self) -> Result<Vec<RewardGrant>, EdgePointsError> {
        Ok(self.inner.grants().await?.into_iter().map(Into::into).collect())
    }
}
