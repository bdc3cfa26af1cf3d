//! An activity's funnel, from the control plane's own records: views are
//! counted as the control plane serves the activity's page (per the share
//! channel of the referral code it was read through), and everything else
//! is read off the activity's record — its shares per channel, and each
//! coupon with its referral, payment, refund and what tills did with it.

use std::collections::BTreeMap;

use edgepoints_protocol::coupons::funnel::{ActivityFunnel, ChannelFunnel, FunnelCounts, DIRECT};

use super::activities::ActivityRecord;
use crate::state::keys;
use crate::store::StoreError;
use crate::ControlPlane;

fn views_prefix(activity_id: &str) -> String {
    format!("{}{activity_id}:", keys::ACTIVITY_VIEWS_PREFIX)
}

/// The channel a referral code of `activity_id` stands for ([`DIRECT`]
/// for none, or for a code that is not a share of this activity).
async fn channel_of(
    control_plane: &ControlPlane,
    activity_id: &str,
    referral: Option<&str>,
) -> Result<String, StoreError> {
    let Some(code) = referral else {
        return Ok(DIRECT.to_owned());
    };
    Ok(super::shares::find(control_plane, code)
        .await?
        .filter(|share| share.activity_id == activity_id)
        .map_or_else(|| DIRECT.to_owned(), |share| share.channel))
}

/// Counts one view of the activity's page (one atomic increment).
pub async fn count_view(
    control_plane: &ControlPlane,
    activity_id: &str,
    referral: Option<&str>,
) -> Result<(), StoreError> {
    let channel = channel_of(control_plane, activity_id, referral).await?;
    control_plane
        .store()
        .increment(&format!("{}{channel}", views_prefix(activity_id)), 1)
        .await?;
    Ok(())
}

/// The activity's funnel, per channel and in all.
pub async fn funnel(control_plane: &ControlPlane, record: &ActivityRecord) -> Result<ActivityFunnel, StoreError> {
    let activity_id = &record.activity.activity_id;
    let mut channels: BTreeMap<String, FunnelCounts> = BTreeMap::new();
    let prefix = views_prefix(activity_id);
    for (key, value) in control_plane.store().scan(&prefix).await? {
        let views = std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        channels.entry(key[prefix.len()..].to_owned()).or_default().views += views;
    }
    for (channel, shares) in &record.shares_by_channel {
        channels.entry(channel.clone()).or_default().shares += u64::from(*shares);
    }
    let mut code_channels: BTreeMap<String, String> = BTreeMap::new();
    let mut conflicts_by_serial: BTreeMap<&str, u64> = BTreeMap::new();
    for conflict in &record.conflicts {
        *conflicts_by_serial.entry(conflict.serial.as_str()).or_default() += 1;
    }
    for (serial, coupon) in &record.coupons {
        let channel = match &coupon.referral {
            None => DIRECT.to_owned(),
            Some(code) => match code_channels.get(code) {
                Some(channel) => channel.clone(),
                None => {
                    let channel = channel_of(control_plane, activity_id, Some(code)).await?;
                    code_channels.insert(code.clone(), channel.clone());
                    channel
                }
            },
        };
        let counts = channels.entry(channel).or_default();
        counts.claims += 1;
        counts.referred_claims += u64::from(coupon.referral.is_some());
        counts.claims_rolled_back += u64::from(coupon.claim_rolled_back_at_ms.is_some());
        counts.validations += u64::from(coupon.validations);
        counts.redemptions += u64::from(coupon.redemptions);
        counts.rollbacks += u64::from(coupon.rollbacks);
        counts.offline_conflicts += conflicts_by_serial.get(serial.as_str()).copied().unwrap_or(0);
        counts.points_taken += coupon.paid.as_ref().map_or(0, |p| p.points);
        counts.points_refunded += coupon.refund.as_ref().map_or(0, |r| r.points);
    }
    let mut total = FunnelCounts::default();
    for counts in channels.values() {
        total.add(counts);
    }
    Ok(ActivityFunnel {
        activity_id: activity_id.clone(),
        title: record.activity.draft.title.clone(),
        state: record.activity.state,
        total,
        channels: channels
            .into_iter()
            .map(|(channel, counts)| ChannelFunnel { channel, counts })
            .collect(),
    })
}
