//! A holder gives an unused coupon back: the claim is rolled back (the
//! coupon leaves the activity's count and the holder's, and is revoked, so
//! tills refuse it offline too), and a bought coupon's points come back as
//! the activity's rule says — the coupon and the refund in one swap of the
//! activity's record and the paying member's points.

use edgepoints_protocol::coupons::activities::ClaimRolledBack;
use edgepoints_protocol::DeviceId;

use super::activities::{activity_key, ActivityRecord, CouponRecord, RefundCause};
use crate::points::{member_points_key, MemberPoints};
use crate::store::{update_json, update_json_pair, StoreError};
use crate::ControlPlane;

/// Why a claim was not rolled back.
#[derive(Debug)]
pub enum ClaimRollbackRefused {
    /// No such coupon held by this device.
    NotFound,
    /// Redeemed, revoked or expired: there is nothing unused to give back.
    Used,
}

/// Rolls the claim of coupon `serial` back for its holder `device`. Asked
/// again, it answers the same and changes nothing.
pub async fn roll_back(
    control_plane: &ControlPlane,
    device: &DeviceId,
    activity_id: &str,
    serial: &str,
) -> Result<Result<ClaimRolledBack, ClaimRollbackRefused>, StoreError> {
    let Some(record) = super::activities::activity(control_plane, activity_id).await? else {
        return Ok(Err(ClaimRollbackRefused::NotFound));
    };
    let Some(coupon) = record.coupons.get(serial).filter(|c| &c.holder == device) else {
        return Ok(Err(ClaimRollbackRefused::NotFound));
    };
    let at_ms = crate::state::unix_millis();
    let title = record.activity.draft.title.clone();
    let percent = record
        .activity
        .draft
        .points_price
        .map_or(0, |p| p.refund_on_rollback_percent);
    let outcome = match coupon.paid.clone() {
        None => {
            update_json::<ActivityRecord, ClaimRolledBack, ClaimRollbackRefused>(
                control_plane.store(),
                &activity_key(activity_id),
                |stored| {
                    let mut record = stored.ok_or(ClaimRollbackRefused::NotFound)?;
                    let answer = take_back(&mut record, device, serial, at_ms, |_| {})?;
                    Ok((Some(record), answer))
                },
            )
            .await?
        }
        Some(paid) => {
            update_json_pair::<ActivityRecord, MemberPoints, ClaimRolledBack, ClaimRollbackRefused>(
                control_plane.store(),
                (&activity_key(activity_id), &member_points_key(&paid.member_id)),
                |stored, member| {
                    let mut record = stored.ok_or(ClaimRollbackRefused::NotFound)?;
                    let mut member = member.unwrap_or_default();
                    let answer = take_back(&mut record, device, serial, at_ms, |coupon| {
                        coupon.settle_refund(
                            &mut member.account,
                            RefundCause::ClaimRolledBack,
                            percent,
                            (activity_id, serial, &title),
                            at_ms,
                        );
                    })?;
                    Ok((Some(record), Some(member), answer))
                },
            )
            .await?
        }
    };
    if outcome.is_ok() {
        // Tills learn of it from the revocation log (logged once, also when
        // a repeat finds the claim rolled back already).
        super::revocations::log(control_plane, serial).await?;
    }
    Ok(outcome)
}

/// The claim rolled back on the record (or found so: the same answer),
/// with what `refund` settles for a bought coupon.
fn take_back(
    record: &mut ActivityRecord,
    device: &DeviceId,
    serial: &str,
    at_ms: u64,
    refund: impl FnOnce(&mut CouponRecord),
) -> Result<ClaimRolledBack, ClaimRollbackRefused> {
    let activity_id = record.activity.activity_id.clone();
    let coupon = record
        .coupons
        .get_mut(serial)
        .filter(|c| &c.holder == device)
        .ok_or(ClaimRollbackRefused::NotFound)?;
    if let Some(earlier) = coupon.claim_rolled_back_at_ms {
        return Ok(ClaimRolledBack {
            activity_id,
            serial: serial.to_owned(),
            refunded_points: coupon.refund.as_ref().map_or(0, |r| r.points),
            rolled_back_at_ms: earlier,
        });
    }
    let expired = at_ms / 1000 >= record.activity.draft.valid_until_s;
    if coupon.revoked || coupon.redeemed() || coupon.refund.is_some() || expired {
        return Err(ClaimRollbackRefused::Used);
    }
    coupon.claim_rolled_back_at_ms = Some(at_ms);
    coupon.revoked = true;
    if coupon.paid.is_some() {
        refund(coupon);
    }
    let refunded_points = coupon.refund.as_ref().map_or(0, |r| r.points);
    record.activity.claimed = record.activity.claimed.saturating_sub(1);
    if let Some(held) = record.claims_by_holder.get_mut(device.as_str()) {
        *held = held.saturating_sub(1);
    }
    Ok(ClaimRolledBack {
        activity_id,
        serial: serial.to_owned(),
        refunded_points,
        rolled_back_at_ms: at_ms,
    })
}
