//! Activities and their coupons. Everything about one activity — its
//! draft, state, history, and every coupon claimed with its holder — is one
//! record, changed in one compare-and-swap: a claim counts against the
//! limits and issues its coupon together or not at all, whatever runs
//! beside it on any instance.

use std::collections::BTreeMap;

use edgepoints_protocol::coupons::activities::{
    draft_problems, Activity, ActivityDraft, ActivityState, ActivityStep, ClaimedCoupon, FieldFinding, StateChange,
};
use edgepoints_protocol::coupons::{CouponClaims, CouponToken, KeyId};
use edgepoints_protocol::{DeviceId, LedgerCoupon, LedgerReason};
use serde::{Deserialize, Serialize};

use super::issuer;
use super::merchants::{self, random_id, MerchantRecord};
use crate::points::now;
use crate::points::{member_points_key, MemberPoints, Spend};
use crate::review::rules::reviewer;
use crate::state::keys;
use crate::store::{get_json, scan_json, update_json, update_json_pair, StoreError};
use crate::ControlPlane;

/// A coupon as the control plane remembers it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CouponRecord {
    pub holder: DeviceId,
    pub claimed_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
    /// The token as issued (a repeat of the claim answers it again).
    pub token: String,
    pub not_before_s: u64,
    #[serde(default)]
    pub revoked: bool,
    /// The latest redemption, rolled back or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemption: Option<super::redemptions::RedemptionRecord>,
    /// The points paid for it, if its activity has a price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<Payment>,
    /// When its holder gave it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_rolled_back_at_ms: Option<u64>,
    /// What became of a bought coupon never used: given back or expired,
    /// and the points that came back for it (settled once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// What tills did with it, for the merchant's funnel.
    #[serde(default)]
    pub validations: u32,
    #[serde(default)]
    pub redemptions: u32,
    #[serde(default)]
    pub rollbacks: u32,
}

/// The points a coupon was bought with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub member_id: String,
    pub points: u64,
    /// The debit's entry in the member's ledger.
    pub ledger_id: u64,
}

/// Why a bought coupon's points came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundCause {
    ClaimRolledBack,
    ExpiredUnused,
    /// Revoked by the merchant's support (QA) before it was used: the
    /// member did not get what they paid for, so all of it comes back.
    Revoked,
}

/// A bought coupon's settlement, once it can no longer be used.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refund {
    pub cause: RefundCause,
    pub points: u64,
    pub at_ms: u64,
    /// The refund's entry in the member's ledger (none for 0 points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_id: Option<u64>,
}

impl CouponRecord {
    /// Redeemed, and not rolled back.
    pub fn redeemed(&self) -> bool {
        self.redemption.as_ref().is_some_and(|r| r.rolled_back_at_ms.is_none())
    }

    /// Settles a bought coupon that can no longer be used: `percent` of its
    /// price back into `account` (the payer's), recorded on the coupon so
    /// it happens once. The caller writes both in one swap.
    pub(super) fn settle_refund(
        &mut self,
        account: &mut crate::points::Account,
        cause: RefundCause,
        percent: u8,
        (activity_id, serial, title): (&str, &str, &str),
        at_ms: u64,
    ) {
        let points = self.paid.as_ref().map_or(0, |p| p.points) * u64::from(percent.min(100)) / 100;
        let how = match cause {
            RefundCause::ClaimRolledBack => "given back",
            RefundCause::ExpiredUnused => "expired unused",
            RefundCause::Revoked => "revoked unused",
        };
        let ledger_id = (points > 0).then(|| {
            account.refund(
                points,
                Spend {
                    reason: LedgerReason::CouponRefund,
                    detail: format!("coupon of “{title}” {how} ({percent}% of its price)"),
                    at_ms,
                    device: None,
                    coupon: Some(LedgerCoupon {
                        activity_id: activity_id.to_owned(),
                        serial: serial.to_owned(),
                    }),
                    grant_id: None,
                },
            )
        });
        self.refund = Some(Refund {
            cause,
            points,
            at_ms,
            ledger_id,
        });
    }
}

/// One activity, whole.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityRecord {
    pub activity: Activity,
    pub tenant: String,
    /// Claimed coupons by serial (hex).
    #[serde(default)]
    pub coupons: BTreeMap<String, CouponRecord>,
    /// Coupons claimed per holder device.
    #[serde(default)]
    pub claims_by_holder: BTreeMap<String, u32>,
    /// Coupons redeemed and not rolled back.
    #[serde(default)]
    pub activity_redeemed: u32,
    /// Shares recorded, per channel.
    #[serde(default)]
    pub shares_by_channel: BTreeMap<String, u32>,
    /// Coupons redeemed twice (offline), reported to both tills.
    #[serde(default)]
    pub conflicts: Vec<edgepoints_protocol::coupons::redemption::RedemptionConflict>,
}

/// Counts a share on the activity's record.
pub(super) async fn count_share(
    control_plane: &ControlPlane,
    activity_id: &str,
    channel: &str,
) -> Result<(), StoreError> {
    update_json::<ActivityRecord, (), std::convert::Infallible>(
        control_plane.store(),
        &activity_key(activity_id),
        |stored| {
            Ok((
                stored.map(|mut record| {
                    *record.shares_by_channel.entry(channel.to_owned()).or_default() += 1;
                    record
                }),
                (),
            ))
        },
    )
    .await?
    .unwrap_or_else(|never| match never {});
    Ok(())
}

pub(super) fn activity_key(activity_id: &str) -> String {
    format!("{}{activity_id}", keys::ACTIVITY_PREFIX)
}

/// Why a merchant's change was refused.
#[derive(Debug)]
pub enum ActivityRefused {
    /// The device acts for no merchant.
    NotAMerchant,
    /// No such activity of this device's merchant.
    NotFound,
    /// The draft does not fit its template; every reason.
    Invalid(Vec<String>),
    /// Not allowed in this state (editing a live one, withdrawing a draft).
    WrongState(ActivityState),
}

async fn merchant_for(control_plane: &ControlPlane, device: &DeviceId) -> Result<Option<MerchantRecord>, StoreError> {
    match merchants::merchant_of(control_plane, device).await? {
        Some(id) => merchants::merchant(control_plane, &id).await,
        None => Ok(None),
    }
}

/// Pictures must be published on the origin: customers fetch them by hash.
async fn missing_pictures(control_plane: &ControlPlane, draft: &ActivityDraft) -> Result<Vec<String>, StoreError> {
    let mut missing = Vec::new();
    for picture in &draft.pictures {
        if crate::origin::item(control_plane, picture).await?.is_none() {
            missing.push(format!("picture {picture} is not published on the origin"));
        }
    }
    Ok(missing)
}

/// Creates a draft, or edits one (a rejected activity edited is a draft
/// again).
pub async fn write(
    control_plane: &ControlPlane,
    device: &DeviceId,
    activity_id: Option<&str>,
    draft: ActivityDraft,
) -> Result<Result<Activity, ActivityRefused>, StoreError> {
    let Some(merchant) = merchant_for(control_plane, device).await? else {
        return Ok(Err(ActivityRefused::NotAMerchant));
    };
    let mut problems = draft_problems(&draft);
    if !merchant.shops.contains(&draft.shop) {
        problems.push(format!("the shop is one of {}", merchant.shops.join(", ")));
    }
    problems.extend(missing_pictures(control_plane, &draft).await?);
    if !problems.is_empty() {
        return Ok(Err(ActivityRefused::Invalid(problems)));
    }
    let at_ms = now(control_plane).await?;
    let id = activity_id.map_or_else(random_id, str::to_owned);
    let creating = activity_id.is_none();
    update_json::<ActivityRecord, Activity, ActivityRefused>(control_plane.store(), &activity_key(&id), |stored| {
        let record = match stored {
            None if creating => ActivityRecord {
                activity: Activity {
                    activity_id: id.clone(),
                    merchant_id: merchant.merchant_id.clone(),
                    merchant_name: merchant.name.clone(),
                    state: ActivityState::Draft,
                    draft: draft.clone(),
                    findings: Vec::new(),
                    claimed: 0,
                    history: vec![StateChange {
                        state: ActivityState::Draft,
                        at_ms,
                    }],
                    shop_location: merchant.shop_locations.get(&draft.shop).copied(),
                },
                tenant: merchant.tenant.clone(),
                coupons: BTreeMap::new(),
                claims_by_holder: BTreeMap::new(),
                activity_redeemed: 0,
                shares_by_channel: BTreeMap::new(),
                conflicts: Vec::new(),
            },
            Some(mut record) if !creating && record.activity.merchant_id == merchant.merchant_id => {
                let state = record.activity.state;
                if !matches!(state, ActivityState::Draft | ActivityState::Rejected) {
                    return Err(ActivityRefused::WrongState(state));
                }
                record.activity.draft = draft.clone();
                record.activity.shop_location = merchant.shop_locations.get(&draft.shop).copied();
                if state == ActivityState::Rejected {
                    record.activity.state = ActivityState::Draft;
                    record.activity.history.push(StateChange {
                        state: ActivityState::Draft,
                        at_ms,
                    });
                }
                record
            }
            _ => return Err(ActivityRefused::NotFound),
        };
        let activity = record.activity.clone();
        Ok((Some(record), activity))
    })
    .await
}

/// Every text of a draft the review reads, with the field it is in.
fn texts(draft: &ActivityDraft) -> Vec<(String, &str)> {
    let mut texts = vec![
        ("title".to_owned(), draft.title.as_str()),
        ("description".to_owned(), draft.description.as_str()),
        ("shop".to_owned(), draft.shop.as_str()),
    ];
    if let Some(gift) = &draft.gift {
        texts.push(("gift".to_owned(), gift));
    }
    for (i, name) in draft.staff.iter().enumerate() {
        texts.push((format!("staff[{i}]"), name));
    }
    for (i, item) in draft.featured_items.iter().enumerate() {
        texts.push((format!("featured_items[{i}]"), item));
    }
    texts
}

/// Submits (draft → submitted → reviewed: live or rejected with every
/// finding) or withdraws (live → withdrawn).
pub async fn act(
    control_plane: &ControlPlane,
    device: &DeviceId,
    activity_id: &str,
    step: ActivityStep,
) -> Result<Result<Activity, ActivityRefused>, StoreError> {
    let Some(merchant) = merchant_for(control_plane, device).await? else {
        return Ok(Err(ActivityRefused::NotAMerchant));
    };
    let Some(current) = get_json::<ActivityRecord>(control_plane.store(), &activity_key(activity_id)).await? else {
        return Ok(Err(ActivityRefused::NotFound));
    };
    // The review runs before the swap (it is the slow part); the swap then
    // applies it only to the draft it read.
    let findings: Vec<FieldFinding> = if step == ActivityStep::Submit {
        let reviewer = reviewer(control_plane, &current.tenant).await?;
        texts(&current.activity.draft)
            .into_iter()
            .flat_map(|(field, text)| {
                reviewer.review(text).into_iter().map(move |finding| FieldFinding {
                    field: field.clone(),
                    finding,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let at_ms = now(control_plane).await?;
    update_json::<ActivityRecord, Activity, ActivityRefused>(
        control_plane.store(),
        &activity_key(activity_id),
        |stored| {
            let mut record = stored
                .filter(|r| r.activity.merchant_id == merchant.merchant_id)
                .ok_or(ActivityRefused::NotFound)?;
            let activity = &mut record.activity;
            match (step, activity.state) {
                (ActivityStep::Submit, ActivityState::Draft) => {
                    if activity.draft != current.activity.draft {
                        // Edited meanwhile: review what is there now.
                        return Err(ActivityRefused::WrongState(ActivityState::Draft));
                    }
                    let verdict = if findings.is_empty() {
                        ActivityState::Live
                    } else {
                        ActivityState::Rejected
                    };
                    activity.history.push(StateChange {
                        state: ActivityState::Submitted,
                        at_ms,
                    });
                    activity.history.push(StateChange { state: verdict, at_ms });
                    activity.state = verdict;
                    activity.findings = findings.clone();
                }
                (ActivityStep::Withdraw, ActivityState::Live) => {
                    activity.state = ActivityState::Withdrawn;
                    activity.history.push(StateChange {
                        state: ActivityState::Withdrawn,
                        at_ms,
                    });
                }
                (_, state) => return Err(ActivityRefused::WrongState(state)),
            }
            let answer = activity.clone();
            Ok((Some(record), answer))
        },
    )
    .await
}

/// The activity, for its merchant or (live) for anyone.
pub async fn activity(control_plane: &ControlPlane, activity_id: &str) -> Result<Option<ActivityRecord>, StoreError> {
    get_json(control_plane.store(), &activity_key(activity_id)).await
}

/// Every activity, whole, oldest id first (QA).
pub async fn all(control_plane: &ControlPlane) -> Result<Vec<ActivityRecord>, StoreError> {
    scan_json(control_plane.store(), keys::ACTIVITY_PREFIX).await
}

/// Every live activity; nearest first when the customer says where they
/// are (activities whose shop has no location last).
pub async fn live(
    control_plane: &ControlPlane,
    near: Option<edgepoints_protocol::Location>,
) -> Result<Vec<Activity>, StoreError> {
    let records: Vec<ActivityRecord> = scan_json(control_plane.store(), keys::ACTIVITY_PREFIX).await?;
    let mut live: Vec<Activity> = records
        .into_iter()
        .map(|r| r.activity)
        .filter(|a| a.state == ActivityState::Live)
        .collect();
    if let Some(near) = near {
        let distance = |a: &Activity| a.shop_location.map_or(f64::INFINITY, |at| at.distance_km(near));
        live.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
    }
    Ok(live)
}

/// Why a claim was refused.
#[derive(Debug)]
pub enum ClaimRefused {
    /// No such live activity.
    NotFound,
    /// Outside the validity window.
    NotNow,
    /// Every coupon is claimed.
    SoldOut,
    /// This customer has claimed as many as allowed.
    PerCustomerLimit,
    /// Merchant devices do not claim their own coupons.
    MerchantDevice,
    /// The referral code is not a share of this activity, or the
    /// claimer's own.
    InvalidReferral,
    /// The activity has a points price and no member is logged in.
    MemberRequired,
    /// The member's balance does not cover the price.
    NotEnoughPoints(crate::points::NotEnoughPoints),
}

/// Who claims: the device (whose public key holds the coupon), and the
/// member paying for a priced activity, if one is logged in.
pub struct Claimer<'a> {
    pub device: &'a DeviceId,
    pub holder_key: [u8; 32],
    pub member: Option<&'a str>,
}

/// Claims a coupon of `activity_id`: counted and issued in one swap, and
/// for an activity priced in points, paid for in that same swap (the
/// activity's record and the member's points change together or not at
/// all). The validity window and the coupon's dates are wall-clock time
/// (see inside).
pub async fn claim(
    control_plane: &ControlPlane,
    claimer: Claimer<'_>,
    activity_id: &str,
    referral: Option<String>,
) -> Result<Result<ClaimedCoupon, ClaimRefused>, StoreError> {
    let device = claimer.device;
    if merchants::merchant_of(control_plane, device).await?.is_some() {
        return Ok(Err(ClaimRefused::MerchantDevice));
    }
    if let Some(code) = &referral {
        let share = super::shares::find(control_plane, code).await?;
        if !share.is_some_and(|s| s.activity_id == activity_id && &s.sharer != device) {
            return Ok(Err(ClaimRefused::InvalidReferral));
        }
    }
    let Some(current) = activity(control_plane, activity_id).await? else {
        return Ok(Err(ClaimRefused::NotFound));
    };
    let issuer = issuer::current(control_plane).await?;
    // Wall-clock time, not the QA clock: a coupon's dates are checked by
    // tills against their own clocks.
    let at_ms = crate::state::unix_millis();
    let serial = random_id();
    let issue =
        |record: ActivityRecord, paid: Option<Payment>| -> Result<(ActivityRecord, ClaimedCoupon), ClaimRefused> {
            issue(
                record,
                &issuer,
                (device, claimer.holder_key),
                &serial,
                at_ms,
                referral.clone(),
                paid,
            )
        };
    let Some(price) = current.activity.draft.points_price else {
        return update_json::<ActivityRecord, ClaimedCoupon, ClaimRefused>(
            control_plane.store(),
            &activity_key(activity_id),
            |stored| {
                let record = stored.ok_or(ClaimRefused::NotFound)?;
                if record.activity.draft.points_price.is_some() {
                    // Priced meanwhile: the claim is refused, not given free.
                    return Err(ClaimRefused::MemberRequired);
                }
                let (record, answer) = issue(record, None)?;
                Ok((Some(record), answer))
            },
        )
        .await;
    };
    let Some(member_id) = claimer.member else {
        return Ok(Err(ClaimRefused::MemberRequired));
    };
    // What this device earned for the member counts towards the price.
    crate::points::settle(control_plane, device, member_id, false).await?;
    let title = current.activity.draft.title.clone();
    update_json_pair::<ActivityRecord, MemberPoints, ClaimedCoupon, ClaimRefused>(
        control_plane.store(),
        (&activity_key(activity_id), &member_points_key(member_id)),
        |stored, member| {
            let record = stored.ok_or(ClaimRefused::NotFound)?;
            let price = record.activity.draft.points_price.unwrap_or(price);
            let mut member = member.unwrap_or_default();
            let ledger_id = member
                .account
                .debit(
                    price.points,
                    Spend {
                        reason: LedgerReason::CouponPurchase,
                        detail: format!("coupon of “{title}”"),
                        at_ms,
                        device: Some(device.clone()),
                        coupon: Some(LedgerCoupon {
                            activity_id: activity_id.to_owned(),
                            serial: serial.clone(),
                        }),
                        grant_id: None,
                    },
                )
                .map_err(ClaimRefused::NotEnoughPoints)?;
            let paid = Payment {
                member_id: member_id.to_owned(),
                points: price.points,
                ledger_id,
            };
            let (record, answer) = issue(record, Some(paid))?;
            Ok((Some(record), Some(member), answer))
        },
    )
    .await
}

/// Issues a coupon on the activity's record, if its limits allow.
fn issue(
    mut record: ActivityRecord,
    issuer: &ed25519_dalek::SigningKey,
    (device, holder_key): (&DeviceId, [u8; 32]),
    serial: &str,
    at_ms: u64,
    referral: Option<String>,
    paid: Option<Payment>,
) -> Result<(ActivityRecord, ClaimedCoupon), ClaimRefused> {
    if record.activity.state != ActivityState::Live {
        return Err(ClaimRefused::NotFound);
    }
    let at_s = at_ms / 1000;
    let draft = &record.activity.draft;
    if at_s < draft.valid_from_s || at_s >= draft.valid_until_s {
        return Err(ClaimRefused::NotNow);
    }
    if record.activity.claimed >= draft.total_limit {
        return Err(ClaimRefused::SoldOut);
    }
    let mine = record.claims_by_holder.get(device.as_str()).copied().unwrap_or(0);
    if mine >= draft.per_customer_limit {
        return Err(ClaimRefused::PerCustomerLimit);
    }
    let id16 = |hex_id: &str| -> [u8; 16] {
        hex::decode(hex_id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .expect("ids are 16 bytes of hex")
    };
    let claims = CouponClaims {
        key_id: KeyId::of(&issuer.verifying_key()),
        activity: id16(&record.activity.activity_id),
        merchant: id16(&record.activity.merchant_id),
        serial: id16(serial),
        holder: holder_key,
        not_before_s: at_s as u32,
        expires_s: draft.valid_until_s as u32,
    };
    let token = CouponToken::sign(claims, issuer).encode();
    let answer = ClaimedCoupon {
        token: token.clone(),
        serial: serial.to_owned(),
        activity_id: record.activity.activity_id.clone(),
        not_before_s: at_s,
        expires_s: draft.valid_until_s,
        title: draft.title.clone(),
        points_paid: paid.as_ref().map_or(0, |p| p.points),
    };
    record.coupons.insert(
        serial.to_owned(),
        CouponRecord {
            holder: device.clone(),
            claimed_at_ms: at_ms,
            referral,
            token,
            not_before_s: at_s,
            revoked: false,
            redemption: None,
            paid,
            claim_rolled_back_at_ms: None,
            refund: None,
            validations: 0,
            redemptions: 0,
            rollbacks: 0,
        },
    );
    record.activity.claimed += 1;
    *record.claims_by_holder.entry(device.as_str().to_owned()).or_default() += 1;
    Ok((record, answer))
}
