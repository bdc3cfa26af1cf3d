//! Coupons as Kotlin and Swift see them: the customer's `Coupons` and the
//! till's `Merchant`.

use edgepoints_core as core;

use crate::EdgePointsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TemplateKind {
    PercentOff,
    AmountOff,
    Gift,
}

impl From<core::TemplateKind> for TemplateKind {
    fn from(kind: core::TemplateKind) -> Self {
        match kind {
            core::TemplateKind::PercentOff => TemplateKind::PercentOff,
            core::TemplateKind::AmountOff => TemplateKind::AmountOff,
            core::TemplateKind::Gift => TemplateKind::Gift,
        }
    }
}

impl From<TemplateKind> for core::TemplateKind {
    fn from(kind: TemplateKind) -> Self {
        match kind {
            TemplateKind::PercentOff => core::TemplateKind::PercentOff,
            TemplateKind::AmountOff => core::TemplateKind::AmountOff,
            TemplateKind::Gift => core::TemplateKind::Gift,
        }
    }
}

/// What a merchant enters; the template says which of the offer fields
/// apply.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivityDraft {
    pub template: TemplateKind,
    pub title: String,
    pub description: String,
    pub shop: String,
    pub staff: Vec<String>,
    pub featured_items: Vec<String>,
    /// Content hashes of pictures published on the origin; fetch them with
    /// `fetch(hash)`.
    pub pictures: Vec<String>,
    pub percent_off: Option<u8>,
    pub amount_off_cents: Option<u64>,
    pub gift: Option<String>,
    pub min_spend_cents: u64,
    pub valid_from_s: u64,
    pub valid_until_s: u64,
    pub total_limit: u32,
    pub per_customer_limit: u32,
    /// What a coupon costs the member in points, if anything.
    pub points_price: Option<PointsPrice>,
}

/// An activity's price in points, and how much comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PointsPrice {
    pub points: u64,
    /// Percent given back when the holder gives the coupon back unused.
    pub refund_on_rollback_percent: u8,
    /// Percent given back when it expires unused.
    pub refund_on_expiry_percent: u8,
}

impl From<core::PointsPrice> for PointsPrice {
    fn from(p: core::PointsPrice) -> Self {
        PointsPrice {
            points: p.points,
            refund_on_rollback_percent: p.refund_on_rollback_percent,
            refund_on_expiry_percent: p.refund_on_expiry_percent,
        }
    }
}

impl From<PointsPrice> for core::PointsPrice {
    fn from(p: PointsPrice) -> Self {
        core::PointsPrice {
            points: p.points,
            refund_on_rollback_percent: p.refund_on_rollback_percent,
            refund_on_expiry_percent: p.refund_on_expiry_percent,
        }
    }
}

impl From<core::ActivityDraft> for ActivityDraft {
    fn from(d: core::ActivityDraft) -> Self {
        ActivityDraft {
            template: d.template.into(),
            title: d.title,
            description: d.description,
            shop: d.shop,
            staff: d.staff,
            featured_items: d.featured_items,
            pictures: d.pictures.iter().map(|h| h.to_hex()).collect(),
            percent_off: d.percent_off,
            amount_off_cents: d.amount_off_cents,
            gift: d.gift,
            min_spend_cents: d.min_spend_cents,
            valid_from_s: d.valid_from_s,
            valid_until_s: d.valid_until_s,
            total_limit: d.total_limit,
            per_customer_limit: d.per_customer_limit,
            points_price: d.points_price.map(Into::into),
        }
    }
}

impl TryFrom<ActivityDraft> for core::ActivityDraft {
    type Error = EdgePointsError;
    fn try_from(d: ActivityDraft) -> Result<Self, EdgePointsError> {
        Ok(core::ActivityDraft {
            template: d.template.into(),
            title: d.title,
            description: d.description,
            shop: d.shop,
            staff: d.staff,
            featured_items: d.featured_items,
            pictures: d
                .pictures
                .iter()
                .map(|h| crate::parse::content_hash(h))
                .collect::<Result<_, _>>()?,
            percent_off: d.percent_off,
            amount_off_cents: d.amount_off_cents,
            gift: d.gift,
            min_spend_cents: d.min_spend_cents,
            valid_from_s: d.valid_from_s,
            valid_until_s: d.valid_until_s,
            total_limit: d.total_limit,
            per_customer_limit: d.per_customer_limit,
            points_price: d.points_price.map(Into::into),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ActivityState {
    Draft,
    Submitted,
    Live,
    Rejected,
    Withdrawn,
}

impl From<core::ActivityState> for ActivityState {
    fn from(state: core::ActivityState) -> Self {
        match state {
            core::ActivityState::Draft => ActivityState::Draft,
            core::ActivityState::Submitted => ActivityState::Submitted,
            core::ActivityState::Live => ActivityState::Live,
            core::ActivityState::Rejected => ActivityState::Rejected,
            core::ActivityState::Withdrawn => ActivityState::Withdrawn,
        }
    }
}

/// Something the automatic review found, where the merchant wrote it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewFinding {
    /// `title`, `description`, `shop`, `gift`, `staff[1]`, `featured_items[0]`.
    pub field: String,
    /// `fraud`, `adult`, `gambling`, `profanity`, `contact`, …
    pub category: String,
    /// The list entry that matched (for contacts: `phone` or `url`).
    pub word: String,
    /// Byte offsets in the field's text, and the text as written.
    pub start: u64,
    pub end: u64,
    pub text: String,
}

impl From<core::FieldFinding> for ReviewFinding {
    fn from(f: core::FieldFinding) -> Self {
        ReviewFinding {
            field: f.field,
            category: f.finding.category,
            word: f.finding.word,
            start: f.finding.start as u64,
            end: f.finding.end as u64,
            text: f.finding.text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Activity {
    pub activity_id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub state: ActivityState,
    pub draft: ActivityDraft,
    pub findings: Vec<ReviewFinding>,
    pub claimed: u32,
    pub shop_location: Option<crate::edgepoints::GeoLocation>,
}

impl From<core::Activity> for Activity {
    fn from(a: core::Activity) -> Self {
        Activity {
            activity_id: a.activity_id,
            merchant_id: a.merchant_id,
            merchant_name: a.merchant_name,
            state: a.state.into(),
            draft: a.draft.into(),
            findings: a.findings.into_iter().map(Into::into).collect(),
            claimed: a.claimed,
            shop_location: a.shop_location.map(Into::into),
        }
    }
}

/// A coupon this device holds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeldCoupon {
    pub serial: String,
    pub activity_id: String,
    pub merchant_id: String,
    pub title: String,
    pub token: String,
    pub not_before_s: u64,
    pub expires_s: u64,
    pub claimed_at_ms: u64,
    /// Points the member paid for it (0 for a free coupon).
    pub points_paid: u64,
}

impl From<core::HeldCoupon> for HeldCoupon {
    fn from(c: core::HeldCoupon) -> Self {
        HeldCoupon {
            serial: c.serial,
            activity_id: c.activity_id,
            merchant_id: c.merchant_id,
            title: c.title,
            token: c.token,
            not_before_s: c.not_before_s,
            expires_s: c.expires_s,
            claimed_at_ms: c.claimed_at_ms,
            points_paid: c.points_paid,
        }
    }
}

/// A coupon as shown now: draw `qr_modules` (row by row, `true` dark) as a
/// `qr_width`-square grid, and show the next one at `refresh_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CouponPresentation {
    pub serial: String,
    pub text: String,
    pub qr_width: u32,
    pub qr_modules: Vec<bool>,
    pub refresh_at_ms: u64,
}

impl From<core::CouponPresentation> for CouponPresentation {
    fn from(p: core::CouponPresentation) -> Self {
        CouponPresentation {
            serial: p.serial,
            text: p.text,
            qr_width: p.qr_width,
            qr_modules: p.qr_modules,
            refresh_at_ms: p.refresh_at_ms,
        }
    }
}

/// Why the till refused a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CouponRefusal {
    Malformed,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongMerchant,
    StalePresentation,
    WrongHolder,
    Revoked,
    AlreadyRedeemed,
}

impl From<core::Refusal> for CouponRefusal {
    fn from(r: core::Refusal) -> Self {
        match r {
            core::Refusal::Malformed => CouponRefusal::Malformed,
            core::Refusal::UnknownKey => CouponRefusal::UnknownKey,
            core::Refusal::BadSignature => CouponRefusal::BadSignature,
            core::Refusal::Expired => CouponRefusal::Expired,
            core::Refusal::NotYetValid => CouponRefusal::NotYetValid,
            core::Refusal::WrongMerchant => CouponRefusal::WrongMerchant,
            core::Refusal::StalePresentation => CouponRefusal::StalePresentation,
            core::Refusal::WrongHolder => CouponRefusal::WrongHolder,
            core::Refusal::Revoked => CouponRefusal::Revoked,
            core::Refusal::AlreadyRedeemed => CouponRefusal::AlreadyRedeemed,
        }
    }
}

/// What the till's offline check says.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CouponValidation {
    Valid {
        serial: String,
        activity_id: String,
        expires_s: u64,
    },
    Refused {
        reason: CouponRefusal,
    },
}

impl From<core::Validation> for CouponValidation {
    fn from(v: core::Validation) -> Self {
        match v {
            core::Validation::Valid {
                serial,
                activity_id,
                expires_s,
            } => CouponValidation::Valid {
                serial,
                activity_id,
                expires_s,
            },
            core::Validation::Refused { reason } => CouponValidation::Refused { reason: reason.into() },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MerchantIdentity {
    pub merchant_id: String,
    pub name: String,
    pub shops: Vec<String>,
}

impl From<core::MerchantIdentity> for MerchantIdentity {
    fn from(m: core::MerchantIdentity) -> Self {
        MerchantIdentity {
            merchant_id: m.merchant_id,
            name: m.name,
            shops: m.shops,
        }
    }
}

/// A redemption the control plane recorded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Redemption {
    pub redemption_id: String,
    pub serial: String,
    pub activity_id: String,
    pub order_ref: String,
    pub redeemed_at_ms: u64,
    pub rollback_until_ms: u64,
}

impl From<core::Redemption> for Redemption {
    fn from(r: core::Redemption) -> Self {
        Redemption {
            redemption_id: r.redemption_id,
            serial: r.serial,
            activity_id: r.activity_id,
            order_ref: r.order_ref,
            redeemed_at_ms: r.redeemed_at_ms,
            rollback_until_ms: r.rollback_until_ms,
        }
    }
}

/// A recorded share: post `link`; claims through `referral_code` are the
/// sharer's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Share {
    pub referral_code: String,
    pub link: String,
    pub activity_id: String,
    pub channel: String,
}

impl From<core::Share> for Share {
    fn from(s: core::Share) -> Self {
        Share {
            referral_code: s.referral_code,
            link: s.link,
            activity_id: s.activity_id,
            channel: s.channel,
        }
    }
}

/// One till's side of a redemption conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RedemptionSide {
    pub device_id: String,
    pub order_ref: String,
    pub redeemed_at_ms: u64,
    pub offline: bool,
}

impl From<core::RedemptionSide> for RedemptionSide {
    fn from(s: core::RedemptionSide) -> Self {
        RedemptionSide {
            device_id: s.device_id.to_string(),
            order_ref: s.order_ref,
            redeemed_at_ms: s.redeemed_at_ms,
            offline: s.offline,
        }
    }
}

/// A coupon redeemed twice: `first` stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RedemptionConflict {
    pub conflict_id: String,
    pub serial: String,
    pub activity_id: String,
    pub first: RedemptionSide,
    pub second: RedemptionSide,
}

impl From<core::RedemptionConflict> for RedemptionConflict {
    fn from(c: core::RedemptionConflict) -> Self {
        RedemptionConflict {
            conflict_id: c.conflict_id,
            serial: c.serial,
            activity_id: c.activity_id,
            first: c.first.into(),
            second: c.second.into(),
        }
    }
}

/// A redemption recorded offline, waiting to be settled.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueuedRedemption {
    pub serial: String,
    pub activity_id: String,
    pub counter: u64,
    pub outbox_id: i64,
    pub budget_left: u32,
    pub budget_left_value_cents: u64,
}

impl From<core::QueuedRedemption> for QueuedRedemption {
    fn from(q: core::QueuedRedemption) -> Self {
        QueuedRedemption {
            serial: q.serial,
            activity_id: q.activity_id,
            counter: q.counter,
            outbox_id: q.outbox_id,
            budget_left: q.budget_left,
            budget_left_value_cents: q.budget_left_value_cents,
        }
    }
}

/// The counts of one slice of an activity's funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FunnelCounts {
    pub views: u64,
    pub shares: u64,
    pub claims: u64,
    /// Of the claims, those through a referral code.
    pub referred_claims: u64,
    /// Coupons their holders gave back.
    pub claims_rolled_back: u64,
    /// Presentations the control plane checked (online checks,
    /// redemptions, offline settlements).
    pub validations: u64,
    pub redemptions: u64,
    /// Redemptions rolled back.
    pub rollbacks: u64,
    pub offline_conflicts: u64,
    pub points_taken: u64,
    pub points_refunded: u64,
}

impl From<core::FunnelCounts> for FunnelCounts {
    fn from(c: core::FunnelCounts) -> Self {
        FunnelCounts {
            views: c.views,
            shares: c.shares,
            claims: c.claims,
            referred_claims: c.referred_claims,
            claims_rolled_back: c.claims_rolled_back,
            validations: c.validations,
            redemptions: c.redemptions,
            rollbacks: c.rollbacks,
            offline_conflicts: c.offline_conflicts,
            points_taken: c.points_taken,
            points_refunded: c.points_refunded,
        }
    }
}

/// One share channel's slice (`direct` for what came through no share).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChannelFunnel {
    pub channel: String,
    pub counts: FunnelCounts,
}

/// What an activity did, per channel and in all, from the control plane's
/// own records.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivityFunnel {
    pub activity_id: String,
    pub title: String,
    pub state: ActivityState,
    pub total: FunnelCounts,
    pub channels: Vec<ChannelFunnel>,
}

impl From<core::ActivityFunnel> for ActivityFunnel {
    fn from(f: core::ActivityFunnel) -> Self {
        ActivityFunnel {
            activity_id: f.activity_id,
            title: f.title,
            state: f.state.into(),
            total: f.total.into(),
            channels: f
                .channels
                .into_iter()
                .map(|c| ChannelFunnel {
                    channel: c.channel,
                    counts: c.counts.into(),
                })
                .collect(),
        }
    }
}

/// Where a coupon stands, as the control plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CouponStanding {
    Usable,
    Redeemed,
    Revoked,
    RolledBack,
    Expired,
}

impl From<core::CouponStanding> for CouponStanding {
    fn from(s: core::CouponStanding) -> Self {
        match s {
            core::CouponStanding::Usable => CouponStanding::Usable,
            core::CouponStanding::Redeemed => CouponStanding::Redeemed,
            core::CouponStanding::Revoked => CouponStanding::Revoked,
            core::CouponStanding::RolledBack => CouponStanding::RolledBack,
            core::CouponStanding::Expired => CouponStanding::Expired,
        }
    }
}

/// The control plane's word on a presentation's coupon.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OnlineValidation {
    pub serial: String,
    pub activity_id: String,
    pub standing: CouponStanding,
    pub expires_s: u64,
}

impl From<core::OnlineValidation> for OnlineValidation {
    fn from(v: core::OnlineValidation) -> Self {
        OnlineValidation {
            serial: v.serial,
            activity_id: v.activity_id,
            standing: v.standing.into(),
            expires_s: v.expires_s,
        }
    }
}

/// Browse, claim, hold and present coupons.
#[derive(uniffi::Object)]
pub struct Coupons {
    inner: core::Coupons,
}

impl Coupons {
    pub(crate) fn new(inner: core::Coupons) -> Self {
        Coupons { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Coupons {
    /// Live activities, nearest shop first when `near` is given.
    pub async fn live_activities(
        &self,
        near: Option<crate::edgepoints::GeoLocation>,
    ) -> Result<Vec<Activity>, EdgePointsError> {
        Ok(self
            .inner
            .live_activities(near.map(Into::into))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One live activity; `referral` is the code of the share link it was
    /// opened through (the merchant's funnel counts the view).
    pub async fn activity(&self, activity_id: String, referral: Option<String>) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.activity(&activity_id, referral).await?.into())
    }

    /// Claims a coupon, through the outbox: a lost answer gives the same
    /// coupon. A priced activity is paid by the logged-in member.
    pub async fn claim(&self, activity_id: String, referral: Option<String>) -> Result<HeldCoupon, EdgePointsError> {
        Ok(self.inner.claim(&activity_id, referral).await?.into())
    }

    /// Gives a held coupon back unused, once; returns the points refunded.
    pub async fn give_back(&self, serial: String) -> Result<u64, EdgePointsError> {
        Ok(self.inner.give_back(&serial).await?)
    }

    /// Shares a live activity to a channel; the link carries a referral code.
    pub async fn share(&self, activity_id: String, channel: String) -> Result<Share, EdgePointsError> {
        Ok(self.inner.share(&activity_id, &channel).await?.into())
    }

    /// The coupons this device holds (no network).
    pub fn held(&self) -> Result<Vec<HeldCoupon>, EdgePointsError> {
        Ok(self.inner.held()?.into_iter().map(Into::into).collect())
    }

    /// The presentation for now (no network); show a new one at `refreshAtMs`.
    pub fn present(&self, serial: String) -> Result<CouponPresentation, EdgePointsError> {
        Ok(self.inner.present(&serial)?.into())
    }
}

/// A merchant's device: enrol, write activities, check coupons at the till.
#[derive(uniffi::Object)]
pub struct Merchant {
    inner: core::Merchant,
}

impl Merchant {
    pub(crate) fn new(inner: core::Merchant) -> Self {
        Merchant { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Merchant {
    pub async fn enrol(&self, code: String) -> Result<MerchantIdentity, EdgePointsError> {
        Ok(self.inner.enrol(&code).await?.into())
    }

    pub fn identity(&self) -> Result<Option<MerchantIdentity>, EdgePointsError> {
        Ok(self.inner.identity()?.map(Into::into))
    }

    pub async fn write_activity(
        &self,
        activity_id: Option<String>,
        draft: ActivityDraft,
    ) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.write_activity(activity_id, draft.try_into()?).await?.into())
    }

    pub async fn submit(&self, activity_id: String) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.submit(&activity_id).await?.into())
    }

    pub async fn withdraw(&self, activity_id: String) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.withdraw(&activity_id).await?.into())
    }

    /// Where the presentation's coupon stands, asked of the control plane.
    pub async fn validate_online(&self, presentation: String) -> Result<OnlineValidation, EdgePointsError> {
        Ok(self.inner.validate_online(&presentation).await?.into())
    }

    /// One of this merchant's activities' funnel.
    pub async fn funnel(&self, activity_id: String) -> Result<ActivityFunnel, EdgePointsError> {
        Ok(self.inner.funnel(&activity_id).await?.into())
    }

    /// Redeems the coupon behind a presentation, once (through the outbox).
    pub async fn redeem(&self, presentation: String, order_ref: String) -> Result<Redemption, EdgePointsError> {
        Ok(self.inner.redeem(&presentation, &order_ref).await?.into())
    }

    /// Redeems offline: checked here, queued, settled when back online;
    /// `value_cents` is the discount given (the budget caps their sum).
    pub fn redeem_offline(
        &self,
        presentation: String,
        order_ref: String,
        value_cents: u64,
    ) -> Result<QueuedRedemption, EdgePointsError> {
        Ok(self
            .inner
            .redeem_offline(&presentation, &order_ref, value_cents)?
            .into())
    }

    /// Gives a redemption's use back, within its window.
    pub async fn rollback(&self, activity_id: String, redemption_id: String) -> Result<(), EdgePointsError> {
        self.inner.rollback(&activity_id, &redemption_id).await?;
        Ok(())
    }

    /// Brings the till's offline lists up to date (trust list, revocation
    /// delta); how many revocations were new.
    pub async fn sync(&self) -> Result<u64, EdgePointsError> {
        Ok(self.inner.sync().await?)
    }

    /// Fetches and keeps the trust list of coupon keys.
    pub async fn sync_trust_list(&self) -> Result<u64, EdgePointsError> {
        Ok(self.inner.sync_trust_list().await?.version)
    }

    /// Checks a scanned presentation without the network.
    pub fn validate(&self, presentation: String) -> Result<CouponValidation, EdgePointsError> {
        Ok(self.inner.validate(&presentation)?.into())
    }
}
