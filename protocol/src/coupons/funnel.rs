//! What an activity did, as its merchant reads it: the funnel from views
//! to redemptions, per share channel, counted from the control plane's own
//! records (never from counters a client sends).

use serde::{Deserialize, Serialize};

use super::activities::ActivityState;

/// The channel of views and claims that came through no share.
pub const DIRECT: &str = "direct";

/// The counts of one slice of the funnel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelCounts {
    /// Reads of the activity's page (`GET /v1/activities/{id}`), through
    /// the channel's referral codes (or none, for `direct`).
    pub views: u64,
    /// Shares recorded to the channel.
    pub shares: u64,
    /// Coupons claimed.
    pub claims: u64,
    /// Of those, claimed through a referral code.
    pub referred_claims: u64,
    /// Claims rolled back by their holders (coupons given back).
    pub claims_rolled_back: u64,
    /// Presentations the control plane checked for a till (online checks,
    /// redemptions and offline settlements, refused or not).
    pub validations: u64,
    /// Redemptions made (rolled back or not).
    pub redemptions: u64,
    /// Redemptions rolled back.
    pub rollbacks: u64,
    /// Second redemptions of one coupon by offline tills.
    pub offline_conflicts: u64,
    /// Points debited for coupons, and given back.
    pub points_taken: u64,
    pub points_refunded: u64,
}

impl FunnelCounts {
    pub fn add(&mut self, other: &FunnelCounts) {
        self.views += other.views;
        self.shares += other.shares;
        self.claims += other.claims;
        self.referred_claims += other.referred_claims;
        self.claims_rolled_back += other.claims_rolled_back;
        self.validations += other.validations;
        self.redemptions += other.redemptions;
        self.rollbacks += other.rollbacks;
        self.offline_conflicts += other.offline_conflicts;
        self.points_taken += other.points_taken;
        self.points_refunded += other.points_refunded;
    }
}

/// One channel's slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelFunnel {
    /// `wechat`, `sms`, … or [`DIRECT`].
    pub channel: String,
    #[serde(flatten)]
    pub counts: FunnelCounts,
}

/// An activity's funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityFunnel {
    pub activity_id: String,
    pub title: String,
    pub state: ActivityState,
    pub total: FunnelCounts,
    /// Per channel, by name ([`DIRECT`] among them when anything came
    /// through no share).
    pub channels: Vec<ChannelFunnel>,
}

/// A merchant's device asks the control plane about a presentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidationRequest {
    pub device_id: crate::DeviceId,
    pub presentation: String,
}

/// Where a coupon stands, as the control plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CouponStanding {
    /// Redeemable now.
    Usable,
    Redeemed,
    Revoked,
    /// Given back by its holder.
    RolledBack,
    Expired,
}

/// The control plane's answer about a genuine coupon of this merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnlineValidation {
    pub serial: String,
    pub activity_id: String,
    pub standing: CouponStanding,
    pub expires_s: u64,
}
