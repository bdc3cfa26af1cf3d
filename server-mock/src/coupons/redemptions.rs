//! Redemptions: a merchant's device redeems the coupon behind a
//! presentation, once; a redemption can be rolled back within a window.
//! Both are one swap on the activity's record, so two tills racing for one
//! coupon give one redemption and one `already_redeemed`.
//!
//! A code that is not a genuine coupon of this merchant answers
//! `not_found`, whatever is wrong with it: tills cannot probe codes.

use edgepoints_protocol::coupons::funnel::{CouponStanding, OnlineValidation};
use edgepoints_protocol::coupons::redemption::{
    OfflineBudget, OfflineRedemption, Redemption, RedemptionConflict, RedemptionSide, RolledBack, Settlement,
    DEFAULT_OFFLINE_BUDGET, DEFAULT_OFFLINE_BUDGET_VALUE_CENTS, DEFAULT_ROLLBACK_WINDOW_MS,
};
use edgepoints_protocol::coupons::{Presentation, TrustedKeys};
use edgepoints_protocol::DeviceId;
use serde::{Deserialize, Serialize};

use super::activities::activity_key;
use super::merchants::{self, random_id};
use super::{activities::ActivityRecord, issuer};
use crate::points::now;
use crate::store::{update_json, StoreError};
use crate::ControlPlane;

/// A coupon's redemption, as the activity's record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RedemptionRecord {
    pub redemption_id: String,
    pub device: DeviceId,
    pub order_ref: String,
    /// The QA clock: rollback windows are tested by moving it.
    pub redeemed_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_at_ms: Option<u64>,
    /// Made while the till was offline, settled later.
    #[serde(default)]
    pub offline: bool,
}

impl RedemptionRecord {
    fn side(&self) -> RedemptionSide {
        RedemptionSide {
            device_id: self.device.clone(),
            order_ref: self.order_ref.clone(),
            redeemed_at_ms: self.redeemed_at_ms,
            offline: self.offline,
        }
    }
}

/// A device's offline redemptions: the last counter taken, and the day's
/// count against its budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
struct OfflineLedger {
    last_counter: u64,
    day: u64,
    used: u32,
    #[serde(default)]
    used_value_cents: u64,
    /// QA's budget for this device, instead of the default.
    #[serde(default)]
    max_count: Option<u32>,
    #[serde(default)]
    max_value_cents: Option<u64>,
}

impl OfflineLedger {
    fn limits(&self) -> (u32, u64) {
        (
            self.max_count.unwrap_or(DEFAULT_OFFLINE_BUDGET),
            self.max_value_cents.unwrap_or(DEFAULT_OFFLINE_BUDGET_VALUE_CENTS),
        )
    }
}

/// Sets `device`'s offline budget (QA).
pub async fn set_offline_budget(
    control_plane: &ControlPlane,
    device: &DeviceId,
    max_count: u32,
    max_value_cents: Option<u64>,
) -> Result<(), StoreError> {
    update_json::<OfflineLedger, (), std::convert::Infallible>(control_plane.store(), &offline_key(device), |stored| {
        let mut ledger = stored.unwrap_or_default();
        ledger.max_count = Some(max_count);
        ledger.max_value_cents = max_value_cents.or(ledger.max_value_cents);
        Ok((Some(ledger), ()))
    })
    .await?
    .unwrap_or_else(|never| match never {});
    Ok(())
}

fn offline_key(device: &DeviceId) -> String {
    format!("{}{device}", crate::state::keys::OFFLINE_LEDGER_PREFIX)
}

const DAY_MS: u64 = 86_400_000;

/// The device's offline budget now.
pub async fn offline_budget(control_plane: &ControlPlane, device: &DeviceId) -> Result<OfflineBudget, StoreError> {
    let ledger: OfflineLedger = crate::store::get_json(control_plane.store(), &offline_key(device))
        .await?
        .unwrap_or_default();
    let today = now(control_plane).await? / DAY_MS;
    let (max_count, max_value_cents) = ledger.limits();
    let today_counts = ledger.day == today;
    Ok(OfflineBudget {
        max_count,
        max_value_cents,
        used: if today_counts { ledger.used } else { 0 },
        used_value_cents: if today_counts { ledger.used_value_cents } else { 0 },
    })
}

/// Settles a redemption `device` made offline: the first redemption of a
/// coupon the control plane accepts stands; a later one is a conflict,
/// recorded on the activity (in the same swap) for both tills to read.
/// Each counter is taken once, and the day's budget caps how many.
pub async fn settle_offline(
    control_plane: &ControlPlane,
    device: &DeviceId,
    offline: &OfflineRedemption,
) -> Result<Result<Settlement, RedeemRefused>, StoreError> {
    let Some(merchant_id) = merchants::merchant_of(control_plane, device).await? else {
        return Ok(Err(RedeemRefused::NotAMerchant));
    };
    let Some(presentation) = genuine(control_plane, &offline.presentation, &merchant_id).await? else {
        return Ok(Err(RedeemRefused::NotFound));
    };
    let claims = presentation.token.claims;
    if offline.redeemed_at_ms / 1000 > u64::from(claims.expires_s) + edgepoints_protocol::coupons::CLOCK_TOLERANCE_S {
        return Ok(Err(RedeemRefused::Expired));
    }
    let today = now(control_plane).await? / DAY_MS;
    let budget =
        update_json::<OfflineLedger, (), RedeemRefused>(control_plane.store(), &offline_key(device), |stored| {
            let mut ledger = stored.unwrap_or_default();
            if offline.counter <= ledger.last_counter {
                return Err(RedeemRefused::Replayed);
            }
            if ledger.day != today {
                ledger.day = today;
                ledger.used = 0;
            }
            if ledger.used >= ledger.max_count.unwrap_or(DEFAULT_OFFLINE_BUDGET) {
                return Err(RedeemRefused::OverBudget);
            }
            ledger.used += 1;
            ledger.last_counter = offline.counter;
            Ok((Some(ledger), ()))
        })
        .await?;
    if let Err(refused) = budget {
        return Ok(Err(refused));
    }
    let (activity_id, serial) = (hex::encode(claims.activity), hex::encode(claims.serial));
    let redemption_id = random_id();
    let conflict_id = random_id();
    let this = RedemptionRecord {
        redemption_id: redemption_id.clone(),
        device: device.clone(),
        order_ref: offline.order_ref.clone(),
        redeemed_at_ms: offline.redeemed_at_ms,
        rolled_back_at_ms: None,
        offline: true,
    };
    let settled = update_json::<ActivityRecord, Result<Settlement, RedeemRefused>, RedeemRefused>(
        control_plane.store(),
        &activity_key(&activity_id),
        |stored| {
            let mut record = stored.ok_or(RedeemRefused::NotFound)?;
            let coupon = record.coupons.get_mut(&serial).ok_or(RedeemRefused::NotFound)?;
            // Checked, whatever the outcome: a validation in the funnel.
            coupon.validations += 1;
            if coupon.revoked {
                return Ok((Some(record), Err(RedeemRefused::Revoked)));
            }
            match &coupon.redemption {
                Some(first) if first.rolled_back_at_ms.is_none() => {
                    let conflict = RedemptionConflict {
                        conflict_id: conflict_id.clone(),
                        serial: serial.clone(),
                        activity_id: activity_id.clone(),
                        first: first.side(),
                        second: this.side(),
                    };
                    record.conflicts.push(conflict.clone());
                    Ok((Some(record), Ok(Settlement::Conflict { conflict })))
                }
                _ => {
                    coupon.redemption = Some(this.clone());
                    coupon.redemptions += 1;
                    record.activity_redeemed += 1;
                    let redemption = Redemption {
                        redemption_id: redemption_id.clone(),
                        serial: serial.clone(),
                        activity_id: activity_id.clone(),
                        order_ref: offline.order_ref.clone(),
                        redeemed_at_ms: offline.redeemed_at_ms,
                        rollback_until_ms: offline.redeemed_at_ms + DEFAULT_ROLLBACK_WINDOW_MS,
                    };
                    Ok((Some(record), Ok(Settlement::Accepted { redemption })))
                }
            }
        },
    )
    .await?
    .and_then(|settled| settled);
    if let Ok(Settlement::Accepted { .. }) = &settled {
        notify_holder(control_plane, &activity_id, &serial, &offline.order_ref).await?;
    }
    if settled.is_ok() {
        credit_referral(control_plane, &activity_id, &serial).await?;
    }
    Ok(settled)
}

/// Every redemption conflict a till of `device` was part of.
pub async fn conflicts_of(
    control_plane: &ControlPlane,
    device: &DeviceId,
) -> Result<Vec<RedemptionConflict>, StoreError> {
    let records: Vec<ActivityRecord> =
        crate::store::scan_json(control_plane.store(), crate::state::keys::ACTIVITY_PREFIX).await?;
    Ok(records
        .into_iter()
        .flat_map(|r| r.conflicts)
        .filter(|c| &c.first.device_id == device || &c.second.device_id == device)
        .collect())
}

/// Why a redemption or rollback was refused.
#[derive(Debug)]
pub enum RedeemRefused {
    NotAMerchant,
    NotFound,
    AlreadyRedeemed,
    Revoked,
    Expired,
    RollbackWindowClosed,
    /// An offline redemption's counter was taken before.
    Replayed,
    /// The device's offline budget for the day is used up.
    OverBudget,
}

/// The presentation's coupon if it is a genuine one of `merchant_id`,
/// presented by its holder.
async fn genuine(
    control_plane: &ControlPlane,
    presentation: &str,
    merchant_id: &str,
) -> Result<Option<Presentation>, StoreError> {
    let Ok(presentation) = Presentation::decode(presentation.trim()) else {
        return Ok(None);
    };
    let trusted = TrustedKeys::from_list(&issuer::trust_list(control_plane).await?);
    let claims = presentation.token.claims;
    let signed = trusted
        .with_id(claims.key_id)
        .filter(|(_, entry)| entry.covers(u64::from(claims.not_before_s)))
        .any(|(key, _)| presentation.token.verify(key).is_ok());
    let ours = hex::encode(claims.merchant) == merchant_id;
    Ok((signed && ours && presentation.verify_holder().is_ok()).then_some(presentation))
}

/// A genuine presentation of a coupon of the merchant a till acts for.
struct Presented {
    activity_id: String,
    serial: String,
    expires_s: u64,
    /// Past its date by the wall clock (tills check dates by theirs).
    expired: bool,
}

/// The coupon behind `presentation` if `device` is a till of a merchant
/// and the coupon is that merchant's, genuine and presented by its holder.
async fn presented(
    control_plane: &ControlPlane,
    device: &DeviceId,
    presentation: &str,
) -> Result<Result<Presented, RedeemRefused>, StoreError> {
    let Some(merchant_id) = merchants::merchant_of(control_plane, device).await? else {
        return Ok(Err(RedeemRefused::NotAMerchant));
    };
    let Some(presentation) = genuine(control_plane, presentation, &merchant_id).await? else {
        return Ok(Err(RedeemRefused::NotFound));
    };
    let claims = presentation.token.claims;
    Ok(Ok(Presented {
        activity_id: hex::encode(claims.activity),
        serial: hex::encode(claims.serial),
        expires_s: u64::from(claims.expires_s),
        expired: crate::state::unix_millis() / 1000 > u64::from(claims.expires_s),
    }))
}

/// Redeems the coupon behind `presentation` for the merchant `device`
/// acts for.
pub async fn redeem(
    control_plane: &ControlPlane,
    device: &DeviceId,
    presentation: &str,
    order_ref: &str,
) -> Result<Result<Redemption, RedeemRefused>, StoreError> {
    let presented = match presented(control_plane, device, presentation).await? {
        Ok(presented) => presented,
        Err(refused) => return Ok(Err(refused)),
    };
    let (activity_id, serial, expired) = (presented.activity_id, presented.serial, presented.expired);
    let at_ms = now(control_plane).await?;
    let redemption_id = random_id();
    let outcome = update_json::<ActivityRecord, Result<Redemption, RedeemRefused>, RedeemRefused>(
        control_plane.store(),
        &activity_key(&activity_id),
        |stored| {
            let mut record = stored.ok_or(RedeemRefused::NotFound)?;
            let coupon = record.coupons.get_mut(&serial).ok_or(RedeemRefused::NotFound)?;
            // Checked, whatever the outcome: a validation in the funnel.
            coupon.validations += 1;
            let refusal = if expired {
                Some(RedeemRefused::Expired)
            } else if coupon.revoked {
                Some(RedeemRefused::Revoked)
            } else if coupon.redeemed() {
                Some(RedeemRefused::AlreadyRedeemed)
            } else {
                None
            };
            if let Some(refusal) = refusal {
                return Ok((Some(record), Err(refusal)));
            }
            coupon.redemptions += 1;
            coupon.redemption = Some(RedemptionRecord {
                redemption_id: redemption_id.clone(),
                device: device.clone(),
                order_ref: order_ref.to_owned(),
                redeemed_at_ms: at_ms,
                rolled_back_at_ms: None,
                offline: false,
            });
            record.activity_redeemed += 1;
            let answer = Redemption {
                redemption_id: redemption_id.clone(),
                serial: serial.clone(),
                activity_id: activity_id.clone(),
                order_ref: order_ref.to_owned(),
                redeemed_at_ms: at_ms,
                rollback_until_ms: at_ms + DEFAULT_ROLLBACK_WINDOW_MS,
            };
            Ok((Some(record), Ok(answer)))
        },
    )
    .await?
    .and_then(|outcome| outcome);
    if outcome.is_ok() {
        notify_holder(control_plane, &activity_id, &serial, order_ref).await?;
    }
    // Whatever the outcome, a standing redemption of a referred coupon has
    // its sharer credited, once: this also completes a credit that an
    // earlier attempt committed the redemption for but did not finish.
    credit_referral(control_plane, &activity_id, &serial).await?;
    Ok(outcome)
}

/// Where the coupon behind `presentation` stands, for a till of the
/// merchant `device` acts for (counted as a validation in the funnel).
pub async fn validate(
    control_plane: &ControlPlane,
    device: &DeviceId,
    presentation: &str,
) -> Result<Result<OnlineValidation, RedeemRefused>, StoreError> {
    let presented = match presented(control_plane, device, presentation).await? {
        Ok(presented) => presented,
        Err(refused) => return Ok(Err(refused)),
    };
    let (activity_id, serial, expired) = (presented.activity_id, presented.serial, presented.expired);
    update_json::<ActivityRecord, OnlineValidation, RedeemRefused>(
        control_plane.store(),
        &activity_key(&activity_id),
        |stored| {
            let mut record = stored.ok_or(RedeemRefused::NotFound)?;
            let coupon = record.coupons.get_mut(&serial).ok_or(RedeemRefused::NotFound)?;
            coupon.validations += 1;
            let standing = if coupon.claim_rolled_back_at_ms.is_some() {
                CouponStanding::RolledBack
            } else if coupon.revoked {
                CouponStanding::Revoked
            } else if coupon.redeemed() {
                CouponStanding::Redeemed
            } else if expired {
                CouponStanding::Expired
            } else {
                CouponStanding::Usable
            };
            let answer = OnlineValidation {
                serial: serial.clone(),
                activity_id: activity_id.clone(),
                standing,
                expires_s: presented.expires_s,
            };
            Ok((Some(record), answer))
        },
    )
    .await
}

/// Tells the coupon's holder, if a member is logged in on the holding
/// device, that it was redeemed (a member notice).
async fn notify_holder(
    control_plane: &ControlPlane,
    activity_id: &str,
    serial: &str,
    order_ref: &str,
) -> Result<(), StoreError> {
    let Some(record) = super::activities::activity(control_plane, activity_id).await? else {
        return Ok(());
    };
    let Some(coupon) = record.coupons.get(serial) else {
        return Ok(());
    };
    if let Some(member_id) = crate::members::logged_in_member(control_plane, &coupon.holder).await? {
        let notice = edgepoints_protocol::NoticePost {
            kind: edgepoints_protocol::members::notice_kinds::COUPON_REDEEMED.to_owned(),
            text: format!(
                "Your coupon “{}” was redeemed at {} (order {order_ref})",
                record.activity.draft.title, record.activity.merchant_name
            ),
        };
        crate::notices::post(control_plane, &member_id, notice).await?;
    }
    Ok(())
}

/// Credits the sharer of a redeemed coupon that came through a referral
/// (once per redemption; nothing for a rolled-back one).
async fn credit_referral(control_plane: &ControlPlane, activity_id: &str, serial: &str) -> Result<(), StoreError> {
    let Some(record) = super::activities::activity(control_plane, activity_id).await? else {
        return Ok(());
    };
    let Some(coupon) = record.coupons.get(serial) else {
        return Ok(());
    };
    let (Some(code), Some(redemption)) = (&coupon.referral, &coupon.redemption) else {
        return Ok(());
    };
    if redemption.rolled_back_at_ms.is_some() {
        return Ok(());
    }
    if let Some(share) = super::shares::find(control_plane, code).await? {
        let points = crate::points::credit_referral(control_plane, &share.sharer, &redemption.redemption_id).await?;
        if points > 0 {
            tracing::info!(sharer = %share.sharer, points, "referral credited");
        }
    }
    Ok(())
}

/// Gives a redemption's use back, within its window.
pub async fn rollback(
    control_plane: &ControlPlane,
    device: &DeviceId,
    activity_id: &str,
    redemption_id: &str,
) -> Result<Result<RolledBack, RedeemRefused>, StoreError> {
    let Some(merchant_id) = merchants::merchant_of(control_plane, device).await? else {
        return Ok(Err(RedeemRefused::NotAMerchant));
    };
    let at_ms = now(control_plane).await?;
    update_json::<ActivityRecord, RolledBack, RedeemRefused>(
        control_plane.store(),
        &activity_key(activity_id),
        |stored| {
            let mut record = stored
                .filter(|r| r.activity.merchant_id == merchant_id)
                .ok_or(RedeemRefused::NotFound)?;
            let (serial, coupon) = record
                .coupons
                .iter_mut()
                .find(|(_, c)| c.redemption.as_ref().is_some_and(|r| r.redemption_id == redemption_id))
                .ok_or(RedeemRefused::NotFound)?;
            let serial = serial.clone();
            let redemption = coupon.redemption.as_mut().expect("found by its redemption");
            // Rolled back already: the same answer again, nothing changed.
            let rolled_back_at_ms = match redemption.rolled_back_at_ms {
                Some(earlier) => earlier,
                None if at_ms > redemption.redeemed_at_ms + DEFAULT_ROLLBACK_WINDOW_MS => {
                    return Err(RedeemRefused::RollbackWindowClosed);
                }
                None => {
                    redemption.rolled_back_at_ms = Some(at_ms);
                    coupon.rollbacks += 1;
                    record.activity_redeemed = record.activity_redeemed.saturating_sub(1);
                    at_ms
                }
            };
            Ok((
                Some(record),
                RolledBack {
                    redemption_id: redemption_id.to_owned(),
                    serial,
                    rolled_back_at_ms,
                },
            ))
        },
    )
    .await
}
