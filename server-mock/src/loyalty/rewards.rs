//! The rewards catalogue (QA-editable) and redeeming a reward: the debit
//! and the grant are one change of the member's points record, so there
//! is never one without the other. A rental credit is taken off the fee of
//! the member's next rental when it ends, once.

use edgepoints_protocol::loyalty::{Reward, RewardGrant, RewardKind};
use edgepoints_protocol::{DeviceId, LedgerReason};

use crate::coupons::merchants::random_id;
use crate::points::{member_points_key, now, MemberPoints, NotEnoughPoints, Spend};
use crate::state::keys;
use crate::store::{get_json, put_json, update_json, StoreError};
use crate::ControlPlane;

/// What the catalogue offers until QA sets one.
fn default_catalogue() -> Vec<Reward> {
    vec![
        Reward {
            reward_id: "rental-credit-5".into(),
            title: "5.00 off your next rental".into(),
            points: 50,
            kind: RewardKind::RentalCredit { amount_cents: 500 },
            active: true,
        },
        Reward {
            reward_id: "harbour-coffee".into(),
            title: "A coffee at Harbour Coffee".into(),
            points: 30,
            kind: RewardKind::Voucher {
                partner: "Harbour Coffee".into(),
            },
            active: true,
        },
    ]
}

/// Every reward, offered or not.
pub async fn catalogue(control_plane: &ControlPlane) -> Result<Vec<Reward>, StoreError> {
    Ok(get_json(control_plane.store(), keys::REWARDS)
        .await?
        .unwrap_or_else(default_catalogue))
}

/// Adds a reward, or replaces the one with its id.
pub async fn put_reward(control_plane: &ControlPlane, reward: Reward) -> Result<(), StoreError> {
    let mut rewards = catalogue(control_plane).await?;
    rewards.retain(|r| r.reward_id != reward.reward_id);
    rewards.push(reward);
    rewards.sort_by(|a, b| a.reward_id.cmp(&b.reward_id));
    put_json(control_plane.store(), keys::REWARDS, &rewards).await
}

/// Why a reward was not redeemed.
#[derive(Debug)]
pub enum RewardRefused {
    /// No such reward offered.
    NotFound,
    NotEnoughPoints(NotEnoughPoints),
}

/// A voucher's code: 12 characters people can read out.
fn voucher_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).expect("the system has randomness");
    random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Redeems `reward_id` for `member_id` (logged in on `device`): the debit
/// and the grant in one swap.
pub async fn redeem(
    control_plane: &ControlPlane,
    device: &DeviceId,
    member_id: &str,
    reward_id: &str,
) -> Result<Result<RewardGrant, RewardRefused>, StoreError> {
    let Some(reward) = catalogue(control_plane)
        .await?
        .into_iter()
        .find(|r| r.reward_id == reward_id && r.active)
    else {
        return Ok(Err(RewardRefused::NotFound));
    };
    // What this device earned for the member counts.
    crate::points::settle(control_plane, device, member_id, false).await?;
    let at_ms = now(control_plane).await?;
    let grant_id = random_id();
    let code = matches!(reward.kind, RewardKind::Voucher { .. }).then(voucher_code);
    update_json::<MemberPoints, RewardGrant, RewardRefused>(
        control_plane.store(),
        &member_points_key(member_id),
        |stored| {
            let mut member = stored.unwrap_or_default();
            member
                .account
                .debit(
                    reward.points,
                    Spend {
                        reason: LedgerReason::RewardRedemption,
                        detail: format!("reward “{}”", reward.title),
                        at_ms,
                        device: Some(device.clone()),
                        coupon: None,
                        grant_id: Some(grant_id.clone()),
                    },
                )
                .map_err(RewardRefused::NotEnoughPoints)?;
            let grant = RewardGrant {
                grant_id: grant_id.clone(),
                reward_id: reward.reward_id.clone(),
                title: reward.title.clone(),
                points: reward.points,
                kind: reward.kind.clone(),
                granted_at_ms: at_ms,
                code: code.clone(),
                used_by_rental: None,
                used_cents: 0,
            };
            member.grants.push(grant.clone());
            Ok((Some(member), grant))
        },
    )
    .await
}

/// The member's grants, oldest first.
pub async fn grants(control_plane: &ControlPlane, member_id: &str) -> Result<Vec<RewardGrant>, StoreError> {
    Ok(crate::points::member_points(control_plane, member_id).await?.grants)
}

/// The rental credit `rental_id` takes off a fee of `fee_cents`: the one
/// already bound to it (a retried end), else the member's oldest unused
/// credit, now bound to it; 0 if there is none. The grant and its use are
/// one swap, so a credit is taken by one rental, once.
pub async fn take_rental_credit(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
    fee_cents: u64,
) -> Result<Option<(String, u64)>, StoreError> {
    Ok(
        update_json::<MemberPoints, Option<(String, u64)>, std::convert::Infallible>(
            control_plane.store(),
            &member_points_key(member_id),
            |stored| {
                let Some(mut member) = stored else {
                    return Ok((None, None));
                };
                if let Some(bound) = member
                    .grants
                    .iter()
                    .find(|g| g.used_by_rental.as_deref() == Some(rental_id))
                {
                    let taken = Some((bound.title.clone(), bound.used_cents.min(fee_cents)));
                    return Ok((Some(member), taken));
                }
                let unused = member
                    .grants
                    .iter_mut()
                    .find(|g| g.used_by_rental.is_none() && matches!(g.kind, RewardKind::RentalCredit { .. }));
                let Some(grant) = unused else {
                    return Ok((Some(member), None));
                };
                let RewardKind::RentalCredit { amount_cents } = grant.kind else {
                    unreachable!("found as a rental credit")
                };
                grant.used_by_rental = Some(rental_id.to_owned());
                grant.used_cents = amount_cents.min(fee_cents);
                let taken = Some((grant.title.clone(), grant.used_cents));
                Ok((Some(member), taken))
            },
        )
        .await?
        .unwrap_or_else(|never| match never {}),
    )
}
