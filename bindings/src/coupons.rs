//! Coupons as Kotlin and Swift see them: the customer's `Coupons` and the
//! till's `Merchant`.

use edgepoints_core as core;

use crate::number::{unsigned, unsigned_opt, Signed};

use crate::EdgePointsError;

/// The offer a coupon makes; it says which of the draft's offer fields apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TemplateKind {
    /// A percentage off the bill (`percent_off`).
    PercentOff,
    /// A fixed amount off the bill (`amount_off_cents`).
    AmountOff,
    /// A free item (`gift`).
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
    pub percent_off: Option<i32>,
    pub amount_off_cents: Option<i64>,
    pub gift: Option<String>,
    pub min_spend_cents: i64,
    pub valid_from_s: i64,
    pub valid_until_s: i64,
    pub total_limit: i32,
    pub per_customer_limit: i32,
    /// What a coupon costs the member in points, if anything.
    pub points_price: Option<PointsPrice>,
}

/// An activity's price in points, and how much comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PointsPrice {
    pub points: i64,
    /// Percent given back when the holder gives the coupon back unused.
    pub refund_on_rollback_percent: i32,
    /// Percent given back when it expires unused.
    pub refund_on_expiry_percent: i32,
}

impl From<core::PointsPrice> for PointsPrice {
    fn from(p: core::PointsPrice) -> Self {
        PointsPrice {
            points: p.points.signed(),
            refund_on_rollback_percent: p.refund_on_rollback_percent.signed(),
            refund_on_expiry_percent: p.refund_on_expiry_percent.signed(),
        }
    }
}

impl TryFrom<PointsPrice> for core::PointsPrice {
    type Error = EdgePointsError;
    fn try_from(p: PointsPrice) -> Result<Self, EdgePointsError> {
        Ok(core::PointsPrice {
            points: unsigned("points", p.points)?,
            refund_on_rollback_percent: unsigned("refund_on_rollback_percent", p.refund_on_rollback_percent)?,
            refund_on_expiry_percent: unsigned("refund_on_expiry_percent", p.refund_on_expiry_percent)?,
        })
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
            percent_off: d.percent_off.signed(),
            amount_off_cents: d.amount_off_cents.signed(),
            gift: d.gift,
            min_spend_cents: d.min_spend_cents.signed(),
            valid_from_s: d.valid_from_s.signed(),
            valid_until_s: d.valid_until_s.signed(),
            total_limit: d.total_limit.signed(),
            per_customer_limit: d.per_customer_limit.signed(),
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
            percent_off: unsigned_opt("percent_off", d.percent_off)?,
            amount_off_cents: unsigned_opt("amount_off_cents", d.amount_off_cents)?,
            gift: d.gift,
            min_spend_cents: unsigned("min_spend_cents", d.min_spend_cents)?,
            valid_from_s: unsigned("valid_from_s", d.valid_from_s)?,
            valid_until_s: unsigned("valid_until_s", d.valid_until_s)?,
            total_limit: unsigned("total_limit", d.total_limit)?,
            per_customer_limit: unsigned("per_customer_limit", d.per_customer_limit)?,
            points_price: d.points_price.map(TryInto::try_into).transpose()?,
        })
    }
}

/// Where an activity stands in its life: draft, review, live, rejected or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ActivityState {
    /// Written, not yet submitted for review.
    Draft,
    /// Under automatic review.
    Submitted,
    /// Passed review and published: customers see it and claim coupons.
    Live,
    /// Review found something; `Activity.findings` says what. Fix and resubmit.
    Rejected,
    /// Taken down by the merchant; coupons already claimed stay valid.
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
    pub start: i64,
    pub end: i64,
    pub text: String,
}

impl From<core::FieldFinding> for ReviewFinding {
    fn from(f: core::FieldFinding) -> Self {
        ReviewFinding {
            field: f.field,
            category: f.finding.category,
            word: f.finding.word,
            start: f.finding.start as i64,
            end: f.finding.end as i64,
            text: f.finding.text,
        }
    }
}

/// A merchant's activity: its draft, where it stands, and what review found.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Activity {
    pub activity_id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub state: ActivityState,
    pub draft: ActivityDraft,
    pub findings: Vec<ReviewFinding>,
    pub claimed: i32,
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
            claimed: a.claimed.signed(),
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
    pub not_before_s: i64,
    pub expires_s: i64,
    pub claimed_at_ms: i64,
    /// Points the member paid for it (0 for a free coupon).
    pub points_paid: i64,
}

impl From<core::HeldCoupon> for HeldCoupon {
    fn from(c: core::HeldCoupon) -> Self {
        HeldCoupon {
            serial: c.serial,
            activity_id: c.activity_id,
            merchant_id: c.merchant_id,
            title: c.title,
            token: c.token,
            not_before_s: c.not_before_s.signed(),
            expires_s: c.expires_s.signed(),
            claimed_at_ms: c.claimed_at_ms.signed(),
            points_paid: c.points_paid.signed(),
        }
    }
}

/// A coupon as shown now: draw `qr_modules` (row by row, `true` dark) as a
/// `qr_width`-square grid, and show the next one at `refresh_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CouponPresentation {
    pub serial: String,
    pub text: String,
    pub qr_width: i32,
    pub qr_modules: Vec<bool>,
    pub refresh_at_ms: i64,
}

impl From<core::CouponPresentation> for CouponPresentation {
    fn from(p: core::CouponPresentation) -> Self {
        CouponPresentation {
            serial: p.serial,
            text: p.text,
            qr_width: p.qr_width.signed(),
            qr_modules: p.qr_modules,
            refresh_at_ms: p.refresh_at_ms.signed(),
        }
    }
}

/// Why the till refused a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CouponRefusal {
    /// Not a coupon presentation at all (bad QR text or bytes).
    Malformed,
    /// Signed by a key the till's trust list does not hold: sync the till.
    UnknownKey,
    /// The issuer's signature does not verify: forged or altered.
    BadSignature,
    /// Past its validity.
    Expired,
    /// Before its validity.
    NotYetValid,
    /// Issued for another merchant.
    WrongMerchant,
    /// The presentation is from another time step (a screenshot); ask for a fresh one.
    StalePresentation,
    /// Presented by a phone that does not hold the coupon.
    WrongHolder,
    /// Revoked by the issuer.
    Revoked,
    /// This till knows it was redeemed already.
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
    /// The presentation passed every offline check; redeem it.
    Valid {
        serial: String,
        activity_id: String,
        expires_s: i64,
    },
    /// Refused, with the one reason to show the cashier.
    Refused { reason: CouponRefusal },
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
                expires_s: expires_s.signed(),
            },
            core::Validation::Refused { reason } => CouponValidation::Refused { reason: reason.into() },
        }
    }
}

/// The merchant this device acts for, after enrolment.
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
    pub redeemed_at_ms: i64,
    pub rollback_until_ms: i64,
}

impl From<core::Redemption> for Redemption {
    fn from(r: core::Redemption) -> Self {
        Redemption {
            redemption_id: r.redemption_id,
            serial: r.serial,
            activity_id: r.activity_id,
            order_ref: r.order_ref,
            redeemed_at_ms: r.redeemed_at_ms.signed(),
            rollback_until_ms: r.rollback_until_ms.signed(),
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
    pub redeemed_at_ms: i64,
    pub offline: bool,
}

impl From<core::RedemptionSide> for RedemptionSide {
    fn from(s: core::RedemptionSide) -> Self {
        RedemptionSide {
            device_id: s.device_id.to_string(),
            order_ref: s.order_ref,
            redeemed_at_ms: s.redeemed_at_ms.signed(),
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
    pub counter: i64,
    pub outbox_id: i64,
    pub budget_left: i32,
    pub budget_left_value_cents: i64,
}

impl From<core::QueuedRedemption> for QueuedRedemption {
    fn from(q: core::QueuedRedemption) -> Self {
        QueuedRedemption {
            serial: q.serial,
            activity_id: q.activity_id,
            counter: q.counter.signed(),
            outbox_id: q.outbox_id,
            budget_left: q.budget_left.signed(),
            budget_left_value_cents: q.budget_left_value_cents.signed(),
        }
    }
}

/// The counts of one slice of an activity's funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FunnelCounts {
    pub views: i64,
    pub shares: i64,
    pub claims: i64,
    /// Of the claims, those through a referral code.
    pub referred_claims: i64,
    /// Coupons their holders gave back.
    pub claims_rolled_back: i64,
    /// Presentations the control plane checked (online checks,
    /// redemptions, offline settlements).
    pub validations: i64,
    pub redemptions: i64,
    /// Redemptions rolled back.
    pub rollbacks: i64,
    pub offline_conflicts: i64,
    pub points_taken: i64,
    pub points_refunded: i64,
}

impl From<core::FunnelCounts> for FunnelCounts {
    fn from(c: core::FunnelCounts) -> Self {
        FunnelCounts {
            views: c.views.signed(),
            shares: c.shares.signed(),
            claims: c.claims.signed(),
            referred_claims: c.referred_claims.signed(),
            claims_rolled_back: c.claims_rolled_back.signed(),
            validations: c.validations.signed(),
            redemptions: c.redemptions.signed(),
            rollbacks: c.rollbacks.signed(),
            offline_conflicts: c.offline_conflicts.signed(),
            points_taken: c.points_taken.signed(),
            points_refunded: c.points_refunded.signed(),
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
    /// Can be redeemed.
    Usable,
    /// Used.
    Redeemed,
    /// Revoked by the merchant (a bought one was refunded).
    Revoked,
    /// Given back unused by its holder (refunded by the activity's rule).
    RolledBack,
    /// Ran out unused.
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
    pub expires_s: i64,
}

impl From<core::OnlineValidation> for OnlineValidation {
    fn from(v: core::OnlineValidation) -> Self {
        OnlineValidation {
            serial: v.serial,
            activity_id: v.activity_id,
            standing: v.standing.into(),
            expires_s: v.expires_s.signed(),
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
    pub async fn give_back(&self, serial: String) -> Result<i64, EdgePointsError> {
        Ok(self.inner.give_back(&serial).await?.signed())
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
    /// Enrols this device as a staff device of a merchant with the one-time
    /// code the merchant's admin handed out; the device then acts for that
    /// merchant only.
    pub async fn enrol(&self, code: String) -> Result<MerchantIdentity, EdgePointsError> {
        Ok(self.inner.enrol(&code).await?.into())
    }

    /// The merchant this device is enrolled for, if any.
    pub fn identity(&self) -> Result<Option<MerchantIdentity>, EdgePointsError> {
        Ok(self.inner.identity()?.map(Into::into))
    }

    /// Creates a draft (no `activity_id`) or rewrites one that is a draft or
    /// was rejected; texts are reviewed only on `submit`.
    pub async fn write_activity(
        &self,
        activity_id: Option<String>,
        draft: ActivityDraft,
    ) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.write_activity(activity_id, draft.try_into()?).await?.into())
    }

    /// Submits a draft for the automatic review: it comes back live, or
    /// rejected with every finding.
    pub async fn submit(&self, activity_id: String) -> Result<Activity, EdgePointsError> {
        Ok(self.inner.submit(&activity_id).await?.into())
    }

    /// Takes a live activity down; coupons already claimed stay valid.
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
        value_cents: i64,
    ) -> Result<QueuedRedemption, EdgePointsError> {
        Ok(self
            .inner
            .redeem_offline(&presentation, &order_ref, unsigned("value_cents", value_cents)?)?
            .into())
    }

    /// Gives a redemption's use back, within its window.
    pub async fn rollback(&self, activity_id: String, redemption_id: String) -> Result<(), EdgePointsError> {
        self.inner.rollback(&activity_id, &redemption_id).await?;
        Ok(())
    }

    /// Brings the till's offline lists up to date (trust list, revocation
    /// delta); how many revocations were new.
    pub async fn sync(&self) -> Result<i64, EdgePointsError> {
        Ok(self.inner.sync().await?.signed())
    }

    /// Fetches and keeps the trust list of coupon keys.
    pub async fn sync_trust_list(&self) -> Result<i64, EdgePointsError> {
        Ok(self.inner.sync_trust_list().await?.version.signed())
    }

    /// Checks a scanned presentation without the network.
    pub fn validate(&self, presentation: String) -> Result<CouponValidation, EdgePointsError> {
        Ok(self.inner.validate(&presentation)?.into())
    }
}
