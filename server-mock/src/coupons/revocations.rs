//! Revoking coupons: QA (or a merchant's support desk) revokes a coupon
//! (a bought one not used yet is refunded in full, in the same swap); the
//! control plane refuses its redemption, and tills learn of it from the
//! revocation log, synced as deltas, which holds truncated hashes of
//! serials rather than serials.

use edgepoints_protocol::coupons::redemption::RevocationPage;
use edgepoints_protocol::coupons::revocation_tag;

use super::activities::{activity_key, ActivityRecord, RefundCause};
use crate::points::{member_points_key, MemberPoints};
use crate::state::keys;
use crate::store::{get_json, update_json, update_json_pair, StoreError};
use crate::ControlPlane;

/// Most tags one page carries.
const PAGE: usize = 1000;

/// Revokes a coupon; false if there is no such coupon. A bought coupon
/// not used yet is refunded in full, in the same swap.
pub async fn revoke(control_plane: &ControlPlane, activity_id: &str, serial: &str) -> Result<bool, StoreError> {
    let Some(record) = super::activities::activity(control_plane, activity_id).await? else {
        return Ok(false);
    };
    let at_ms = crate::state::unix_millis();
    let revoke = |record: &mut ActivityRecord, account: Option<&mut crate::points::Account>| -> Result<bool, ()> {
        let title = record.activity.draft.title.clone();
        let coupon = record.coupons.get_mut(serial).ok_or(())?;
        let first = !coupon.revoked;
        if let Some(account) = account.filter(|_| first && !coupon.redeemed() && coupon.refund.is_none()) {
            coupon.settle_refund(account, RefundCause::Revoked, 100, (activity_id, serial, &title), at_ms);
        }
        coupon.revoked = true;
        Ok(first)
    };
    let payer = record
        .coupons
        .get(serial)
        .and_then(|c| c.paid.as_ref())
        .map(|p| p.member_id.clone());
    let revoked = match payer {
        None => {
            update_json::<ActivityRecord, bool, ()>(control_plane.store(), &activity_key(activity_id), |stored| {
                let mut record = stored.ok_or(())?;
                let first = revoke(&mut record, None)?;
                Ok((Some(record), first))
            })
            .await?
        }
        Some(member_id) => {
            update_json_pair::<ActivityRecord, MemberPoints, bool, ()>(
                control_plane.store(),
                (&activity_key(activity_id), &member_points_key(&member_id)),
                |stored, member| {
                    let mut record = stored.ok_or(())?;
                    let mut member = member.unwrap_or_default();
                    let first = revoke(&mut record, Some(&mut member.account))?;
                    Ok((Some(record), Some(member), first))
                },
            )
            .await?
        }
    };
    let Ok(first) = revoked else {
        return Ok(false);
    };
    // Logged on every revocation, first or repeated: a crash between the
    // swap and the log is repaired by revoking again.
    log(control_plane, serial).await?;
    if first {
        tracing::info!(activity_id, serial, "coupon revoked");
    }
    Ok(true)
}

/// Puts the serial's tag in the revocation log, once.
pub(super) async fn log(control_plane: &ControlPlane, serial: &str) -> Result<(), StoreError> {
    let serial16: [u8; 16] = hex::decode(serial)
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("stored serials are 16 bytes of hex");
    let tag = hex::encode(revocation_tag(&serial16));
    update_json::<Vec<String>, (), std::convert::Infallible>(control_plane.store(), keys::REVOCATIONS, |log| {
        let mut log = log.unwrap_or_default();
        if !log.contains(&tag) {
            log.push(tag.clone());
        }
        Ok((Some(log), ()))
    })
    .await?
    .unwrap_or_else(|never| match never {});
    Ok(())
}

/// The log after entry `after`.
pub async fn page(control_plane: &ControlPlane, after: u64) -> Result<RevocationPage, StoreError> {
    let log: Vec<String> = get_json(control_plane.store(), keys::REVOCATIONS)
        .await?
        .unwrap_or_default();
    let start = (after as usize).min(log.len());
    let tags: Vec<String> = log[start..].iter().take(PAGE).cloned().collect();
    Ok(RevocationPage {
        next_after: (start + tags.len()) as u64,
        tags,
    })
}
