//! Bought coupons that expired unused: their points come back as the
//! activity's rule says (`refund_on_expiry_percent`), once. The sweep runs
//! in the background on every instance; each coupon is settled in one swap
//! of its activity's record and its payer's points, so instances sweeping
//! side by side settle it once.

use std::collections::BTreeMap;

use super::activities::{activity_key, ActivityRecord, RefundCause};
use crate::points::{member_points_key, MemberPoints};
use crate::state::keys;
use crate::store::{scan_json, update_json_pair, StoreError};
use crate::ControlPlane;

/// Bought, unused and past its date, and not settled yet.
fn due(record: &ActivityRecord, now_s: u64) -> BTreeMap<String, Vec<String>> {
    let mut by_member: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if now_s < record.activity.draft.valid_until_s {
        return by_member;
    }
    for (serial, coupon) in &record.coupons {
        let Some(paid) = &coupon.paid else { continue };
        if coupon.refund.is_none() && !coupon.revoked && !coupon.redeemed() {
            by_member
                .entry(paid.member_id.clone())
                .or_default()
                .push(serial.clone());
        }
    }
    by_member
}

/// Settles every bought coupon that expired unused; returns how many.
pub async fn sweep(control_plane: &ControlPlane) -> Result<usize, StoreError> {
    let now_ms = crate::state::unix_millis();
    let records: Vec<ActivityRecord> = scan_json(control_plane.store(), keys::ACTIVITY_PREFIX).await?;
    let mut settled = 0;
    for record in records {
        let activity_id = record.activity.activity_id.clone();
        for (member_id, serials) in due(&record, now_ms / 1000) {
            settled += update_json_pair::<ActivityRecord, MemberPoints, usize, std::convert::Infallible>(
                control_plane.store(),
                (&activity_key(&activity_id), &member_points_key(&member_id)),
                |stored, member| {
                    let Some(mut record) = stored else {
                        return Ok((None, member, 0));
                    };
                    let mut member = member.unwrap_or_default();
                    let percent = record
                        .activity
                        .draft
                        .points_price
                        .map_or(0, |p| p.refund_on_expiry_percent);
                    let title = record.activity.draft.title.clone();
                    let still_due = due(&record, now_ms / 1000).remove(&member_id).unwrap_or_default();
                    for serial in serials.iter().filter(|s| still_due.contains(s)) {
                        let coupon = record.coupons.get_mut(serial).expect("due coupons are on the record");
                        coupon.settle_refund(
                            &mut member.account,
                            RefundCause::ExpiredUnused,
                            percent,
                            (&activity_id, serial, &title),
                            now_ms,
                        );
                    }
                    let count = serials.iter().filter(|s| still_due.contains(s)).count();
                    Ok((Some(record), Some(member), count))
                },
            )
            .await?
            .unwrap_or_else(|never| match never {});
        }
    }
    if settled > 0 {
        tracing::info!(settled, "bought coupons expired unused settled");
    }
    Ok(settled)
}
