//! Shares: a device shares a live activity to a channel; the share gets a
//! short unguessable referral code, and claims through it are the sharer's.
//! When such a coupon is redeemed, the sharer earns referral points, once
//! per redemption.

use edgepoints_protocol::coupons::activities::{ActivityState, Share};
use edgepoints_protocol::DeviceId;
use serde::{Deserialize, Serialize};

use super::activities;
use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

/// A share as the control plane records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareRecord {
    pub referral_code: String,
    pub activity_id: String,
    pub sharer: DeviceId,
    pub channel: String,
    pub shared_at_ms: u64,
}

fn share_key(code: &str) -> String {
    format!("{}{code}", keys::SHARE_PREFIX)
}

fn referral_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789"; // 31, no look-alikes
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the system has randomness");
    // 10 characters of 31: about 49.5 bits.
    random
        .iter()
        .take(10)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Why a share was refused.
#[derive(Debug)]
pub enum ShareRefused {
    NotLive,
    BadChannel,
}

/// Records a share of a live activity by `sharer`.
pub async fn share(
    control_plane: &ControlPlane,
    sharer: &DeviceId,
    activity_id: &str,
    channel: &str,
    base_url: &str,
) -> Result<Result<Share, ShareRefused>, StoreError> {
    let channel = channel.trim().to_lowercase();
    if channel.is_empty() || channel.chars().count() > 32 {
        return Ok(Err(ShareRefused::BadChannel));
    }
    let live = activities::activity(control_plane, activity_id)
        .await?
        .is_some_and(|r| r.activity.state == ActivityState::Live);
    if !live {
        return Ok(Err(ShareRefused::NotLive));
    }
    let record = ShareRecord {
        referral_code: referral_code(),
        activity_id: activity_id.to_owned(),
        sharer: sharer.clone(),
        channel: channel.clone(),
        shared_at_ms: now(control_plane).await?,
    };
    put_json(control_plane.store(), &share_key(&record.referral_code), &record).await?;
    activities::count_share(control_plane, activity_id, &channel).await?;
    Ok(Ok(Share {
        link: format!(
            "{}/v1/activities/{activity_id}?ref={}",
            base_url.trim_end_matches('/'),
            record.referral_code
        ),
        referral_code: record.referral_code,
        activity_id: activity_id.to_owned(),
        channel,
    }))
}

pub async fn find(control_plane: &ControlPlane, code: &str) -> Result<Option<ShareRecord>, StoreError> {
    get_json(control_plane.store(), &share_key(code.trim())).await
}
