//! Spending points: activities priced in points, the rewards catalogue,
//! the grants a redemption makes, and the balance check QA runs.
//!
//! Points are spent by members only (the loyalty programme is theirs; a
//! device's own points are what it earned before anyone logged in on it),
//! always by the control plane, in the same atomic change that gives what
//! they pay for.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// Most points one price or reward may ask.
pub const MAX_PRICE_POINTS: u64 = 1_000_000;

/// An activity's points price, and how much of it comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsPrice {
    /// Points debited per coupon claimed (1 to [`MAX_PRICE_POINTS`]).
    pub points: u64,
    /// Percent of the price given back when the holder rolls the claim
    /// back (gives an unused coupon back), 0 to 100.
    #[serde(default = "full_refund")]
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub refund_on_rollback_percent: u8,
    /// Percent given back when the coupon expires unused, 0 to 100.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub refund_on_expiry_percent: u8,
}

fn full_refund() -> u8 {
    100
}

impl PointsPrice {
    /// Why the price is not acceptable, if it is not.
    pub fn problem(&self) -> Option<&'static str> {
        if !(1..=MAX_PRICE_POINTS).contains(&self.points) {
            return Some("a points price is 1 to 1 000 000 points");
        }
        if self.refund_on_rollback_percent > 100 || self.refund_on_expiry_percent > 100 {
            return Some("a refund is 0 to 100 percent of the price");
        }
        None
    }

    /// The points a refund of `percent` gives back (rounded down).
    pub fn refund(&self, percent: u8) -> u64 {
        self.points * u64::from(percent.min(100)) / 100
    }
}

/// What a reward gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RewardKind {
    /// Money off the member's next rental, taken off its fee when it is
    /// billed (up to the fee; a credit is used on one rental).
    RentalCredit { amount_cents: u64 },
    /// A partner's voucher: the grant carries a code to show.
    Voucher { partner: String },
}

/// A reward of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reward {
    /// 1 to 40 of `a-z`, `0-9`, `-`.
    pub reward_id: String,
    pub title: String,
    pub points: u64,
    #[serde(flatten)]
    pub kind: RewardKind,
    /// Offered now (QA may take a reward off without deleting it).
    #[serde(default = "offered")]
    pub active: bool,
}

fn offered() -> bool {
    true
}

impl Reward {
    /// Why the reward is not acceptable, if it is not.
    pub fn problem(&self) -> Option<&'static str> {
        let id_ok = (1..=40).contains(&self.reward_id.len())
            && self
                .reward_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Some("a reward id is 1 to 40 of a-z, 0-9 and -");
        }
        if !(1..=80).contains(&self.title.chars().count()) {
            return Some("a reward's title is 1 to 80 characters");
        }
        if !(1..=MAX_PRICE_POINTS).contains(&self.points) {
            return Some("a reward costs 1 to 1 000 000 points");
        }
        match &self.kind {
            RewardKind::RentalCredit { amount_cents } if *amount_cents == 0 || *amount_cents > 100_000 => {
                Some("a rental credit is 1 to 100 000 cents")
            }
            RewardKind::Voucher { partner } if !(1..=60).contains(&partner.chars().count()) => {
                Some("a voucher names its partner (1 to 60 characters)")
            }
            _ => None,
        }
    }
}

/// A member redeems a reward (signed by the device, with the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardRedemption {
    pub device_id: DeviceId,
    pub session_key: String,
    pub reward_id: String,
}

/// What redeeming a reward gave the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardGrant {
    /// 16 bytes, hex.
    pub grant_id: String,
    pub reward_id: String,
    pub title: String,
    /// Points debited for it.
    pub points: u64,
    #[serde(flatten)]
    pub kind: RewardKind,
    pub granted_at_ms: u64,
    /// A voucher's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The rental a rental credit was taken off, once used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by_rental: Option<String>,
    /// How much of a rental credit that rental took (up to its fee).
    #[serde(default)]
    pub used_cents: u64,
}

/// One account's standing in the balance check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountCheck {
    /// `member:…` or `device:…`.
    pub owner: String,
    pub balance: u64,
    /// The sum of the ledger's entries.
    pub ledger_sum: i64,
    pub entries: u64,
}

/// The control plane's balance check: every account's balance against its
/// ledger, and every bought coupon against the debit and refunds it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceCheck {
    pub accounts: Vec<AccountCheck>,
    /// Each inconsistency, in words; empty when the books hold.
    pub problems: Vec<String>,
    pub coupons_bought: u64,
    pub grants: u64,
}

impl BalanceCheck {
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}
