//! Merchants' activities as they travel: templates, drafts, the review's
//! findings, the lifecycle, and the claims customers make.

use serde::{Deserialize, Serialize};

use crate::review::Finding;
use crate::{ContentHash, DeviceId};

/// What kind of promotion an activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// `percent_off` percent off, from `min_spend_cents`.
    PercentOff,
    /// `amount_off_cents` off, from `min_spend_cents` (which must exceed it).
    AmountOff,
    /// A gift (`gift` names it) with a purchase from `min_spend_cents`.
    Gift,
}

/// A template: its kind and the limits of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    pub kind: TemplateKind,
    pub name: String,
    pub limits: TemplateLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateLimits {
    pub max_title_chars: u32,
    pub max_description_chars: u32,
    pub max_items: u32,
    pub max_staff: u32,
    pub max_pictures: u32,
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub max_percent_off: u8,
    pub max_amount_off_cents: u64,
    /// Longest validity window, in days.
    pub max_days: u32,
    pub max_total_limit: u32,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        TemplateLimits {
            max_title_chars: 60,
            max_description_chars: 1000,
            max_items: 10,
            max_staff: 10,
            max_pictures: 6,
            max_percent_off: 90,
            max_amount_off_cents: 1_000_000,
            max_days: 366,
            max_total_limit: 1_000_000,
        }
    }
}

/// The templates the control plane offers.
pub fn templates() -> Vec<Template> {
    [
        (TemplateKind::PercentOff, "Percent off"),
        (TemplateKind::AmountOff, "Amount off"),
        (TemplateKind::Gift, "Gift with purchase"),
    ]
    .into_iter()
    .map(|(kind, name)| Template {
        kind,
        name: name.to_owned(),
        limits: TemplateLimits::default(),
    })
    .collect()
}

/// What a merchant enters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityDraft {
    pub template: TemplateKind,
    pub title: String,
    pub description: String,
    /// One of the merchant's shops.
    pub shop: String,
    #[serde(default)]
    pub staff: Vec<String>,
    #[serde(default)]
    pub featured_items: Vec<String>,
    /// Content items published on the origin, fetched by hash.
    #[serde(default)]
    pub pictures: Vec<ContentHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub percent_off: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_off_cents: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift: Option<String>,
    #[serde(default)]
    pub min_spend_cents: u64,
    pub valid_from_s: u64,
    pub valid_until_s: u64,
    /// Coupons in all.
    pub total_limit: u32,
    /// Coupons one customer may claim.
    pub per_customer_limit: u32,
    /// What a coupon costs in points, if anything (claims then need a
    /// logged-in member with enough of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_price: Option<crate::loyalty::PointsPrice>,
}

/// Why a draft does not fit its template.
pub fn draft_problems(draft: &ActivityDraft) -> Vec<String> {
    let limits = TemplateLimits::default();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    let chars = |s: &str| s.chars().count() as u32;
    check(
        (1..=limits.max_title_chars).contains(&chars(&draft.title)),
        "the title is 1 to 60 characters",
    );
    check(
        chars(&draft.description) <= limits.max_description_chars,
        "the description is at most 1000 characters",
    );
    check(!draft.shop.trim().is_empty(), "the activity names a shop");
    check(
        draft.featured_items.len() as u32 <= limits.max_items,
        "at most 10 featured items",
    );
    check(draft.staff.len() as u32 <= limits.max_staff, "at most 10 staff");
    check(draft.pictures.len() as u32 <= limits.max_pictures, "at most 6 pictures");
    check(
        draft
            .featured_items
            .iter()
            .chain(&draft.staff)
            .all(|s| (1..=60).contains(&chars(s))),
        "items and staff names are 1 to 60 characters",
    );
    match draft.template {
        TemplateKind::PercentOff => check(
            draft
                .percent_off
                .is_some_and(|p| (1..=limits.max_percent_off).contains(&p)),
            "a percent-off activity takes 1 to 90 percent",
        ),
        TemplateKind::AmountOff => check(
            draft.amount_off_cents.is_some_and(|a| {
                a > 0 && a <= limits.max_amount_off_cents && (draft.min_spend_cents == 0 || a < draft.min_spend_cents)
            }),
            "an amount-off activity takes an amount above 0, below the minimum spend if one is set",
        ),
        TemplateKind::Gift => check(
            draft.gift.as_deref().is_some_and(|g| (1..=60).contains(&chars(g))),
            "a gift activity names its gift (1 to 60 characters)",
        ),
    }
    check(
        draft.valid_until_s > draft.valid_from_s
            && draft.valid_until_s - draft.valid_from_s <= u64::from(limits.max_days) * 86_400,
        "the validity window ends after it starts, within 366 days",
    );
    check(
        draft.valid_until_s <= u64::from(u32::MAX),
        "the validity window ends before 2106",
    );
    check(
        (1..=limits.max_total_limit).contains(&draft.total_limit),
        "the total limit is 1 to 1 000 000 coupons",
    );
    check(
        draft.per_customer_limit >= 1 && draft.per_customer_limit <= draft.total_limit,
        "the per-customer limit is 1 to the total limit",
    );
    if let Some(problem) = draft.points_price.as_ref().and_then(|p| p.problem()) {
        problems.push(problem.to_owned());
    }
    problems
}

/// Where an activity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    /// Being written; only its merchant sees it.
    Draft,
    /// Sent for review (the automatic review answers at once).
    Submitted,
    /// Reviewed clean: customers see it and claim coupons.
    Live,
    /// The review found something; every reason is in `findings`. It can
    /// be edited (back to draft) and submitted again.
    Rejected,
    /// Taken down by its merchant: no more claims.
    Withdrawn,
}

/// A finding of the review, and the field of the draft it is in
/// (`title`, `description`, `shop`, `gift`, `staff[1]`, `featured_items[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldFinding {
    pub field: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateChange {
    pub state: ActivityState,
    pub at_ms: u64,
}

/// An activity as the control plane answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    /// 16 bytes, hex.
    pub activity_id: String,
    /// 16 bytes, hex.
    pub merchant_id: String,
    pub merchant_name: String,
    pub state: ActivityState,
    pub draft: ActivityDraft,
    /// The last review's findings (empty unless rejected).
    pub findings: Vec<FieldFinding>,
    pub claimed: u32,
    pub history: Vec<StateChange>,
    /// Where the activity's shop is, if the merchant said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_location: Option<crate::Location>,
}

/// A merchant device enrols with a one-time code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MerchantEnrolment {
    pub device_id: DeviceId,
    pub code: String,
}

/// The answer to an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MerchantEnrolled {
    pub merchant_id: String,
    pub name: String,
    pub shops: Vec<String>,
}

/// A merchant device writes a draft: a new activity, or (with its id) a
/// draft or rejected one edited, which is a draft again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityWrite {
    pub device_id: DeviceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    pub draft: ActivityDraft,
}

/// What a merchant device does to an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityStep {
    /// Draft → submitted → reviewed: live, or rejected with the findings.
    Submit,
    /// Live → withdrawn.
    Withdraw,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityAction {
    pub device_id: DeviceId,
    pub activity_id: String,
    pub step: ActivityStep,
}

/// A customer claims a coupon of a live activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CouponClaim {
    pub device_id: DeviceId,
    pub activity_id: String,
    /// The code of the share link the customer came through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
    /// The logged-in member's session: an activity priced in points is
    /// paid from their account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// A claimed coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimedCoupon {
    /// The signed token, as text (`EPC1:…`).
    pub token: String,
    /// 16 bytes, hex.
    pub serial: String,
    pub activity_id: String,
    pub not_before_s: u64,
    pub expires_s: u64,
    /// The activity's title, to show the coupon by.
    #[serde(default)]
    pub title: String,
    /// Points debited from the member for it.
    #[serde(default)]
    pub points_paid: u64,
}

/// A holder gives an unused coupon back: the claim is rolled back, the
/// coupon revoked, and a bought one refunded as its activity's rule says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRollback {
    pub device_id: DeviceId,
    pub activity_id: String,
    pub serial: String,
}

/// A claim rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRolledBack {
    pub activity_id: String,
    pub serial: String,
    pub refunded_points: u64,
    pub rolled_back_at_ms: u64,
}

/// A merchant or customer shares a live activity to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareRequest {
    pub device_id: DeviceId,
    pub activity_id: String,
    /// Where it is shared: `wechat`, `weibo`, `sms`, `link`, … (1 to 32
    /// characters).
    pub channel: String,
}

/// A recorded share and its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Share {
    /// Short and unguessable (10 characters, 50 bits); claims through it
    /// are the sharer's referrals.
    pub referral_code: String,
    /// What to post: the activity with the code.
    pub link: String,
    pub activity_id: String,
    pub channel: String,
}
