//! The balance check QA runs on demand (`GET /admin/points/check`): every
//! account's balance against the sum of its ledger; every bought coupon
//! against the one debit and at most one refund it has, and every debit
//! for a coupon against a coupon; every reward debit against its grant.
//! It reads the records one by one, so run it when the calls under test
//! have finished (or expect to see a change half-read).

use std::collections::{BTreeMap, BTreeSet};

use edgepoints_protocol::loyalty::{AccountCheck, BalanceCheck};
use edgepoints_protocol::{LedgerEntry, LedgerReason};

use crate::coupons::activities::ActivityRecord;
use crate::points::{Account, DevicePoints, MemberPoints};
use crate::state::keys;
use crate::store::{scan_json, StoreError};
use crate::ControlPlane;

fn check_account(owner: String, account: &Account, problems: &mut Vec<String>) -> AccountCheck {
    let ledger_sum: i64 = account.ledger.iter().map(|e| e.points).sum();
    if ledger_sum < 0 {
        problems.push(format!("{owner}: the ledger sums to {ledger_sum}, below zero"));
    }
    if i128::from(ledger_sum) != i128::from(account.balance) {
        problems.push(format!(
            "{owner}: balance {} but the ledger sums to {ledger_sum}",
            account.balance
        ));
    }
    for (at, entry) in account.ledger.iter().enumerate() {
        if entry.id != at as u64 + 1 {
            problems.push(format!("{owner}: entry {} at position {}", entry.id, at + 1));
        }
    }
    let mut running: i64 = 0;
    for entry in &account.ledger {
        running += entry.points;
        if running < 0 {
            problems.push(format!("{owner}: the balance went below zero at entry {}", entry.id));
            break;
        }
    }
    AccountCheck {
        owner,
        balance: account.balance,
        ledger_sum,
        entries: account.ledger.len() as u64,
    }
}

fn entry(member: Option<&MemberPoints>, id: u64) -> Option<&LedgerEntry> {
    member.and_then(|m| m.account.ledger.get(id.checked_sub(1)? as usize))
}

/// Runs the check over every account, coupon and grant.
pub async fn check(control_plane: &ControlPlane) -> Result<BalanceCheck, StoreError> {
    let mut attempt = check_once(control_plane).await?;
    for _ in 0..2 {
        if attempt.holds() {
            break;
        }
        let again = check_once(control_plane).await?;
        // Only what both readings saw stands.
        let problems = attempt
            .problems
            .iter()
            .filter(|p| again.problems.contains(p))
            .cloned()
            .collect();
        attempt = BalanceCheck { problems, ..again };
    }
    Ok(attempt)
}

async fn check_once(control_plane: &ControlPlane) -> Result<BalanceCheck, StoreError> {
    let mut problems = Vec::new();
    let mut accounts = Vec::new();
    let members: Vec<(String, Vec<u8>)> = control_plane.store().scan(keys::POINTS_MEMBER_PREFIX).await?;
    let mut by_member: BTreeMap<String, MemberPoints> = BTreeMap::new();
    for (key, bytes) in members {
        let id = key[keys::POINTS_MEMBER_PREFIX.len()..].to_owned();
        let member: MemberPoints = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        accounts.push(check_account(format!("member:{id}"), &member.account, &mut problems));
        by_member.insert(id, member);
    }
    let devices: Vec<(String, Vec<u8>)> = control_plane.store().scan(keys::POINTS_DEVICE_PREFIX).await?;
    for (key, bytes) in devices {
        let points: DevicePoints = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        let owner = format!("device:{}", &key[keys::POINTS_DEVICE_PREFIX.len()..]);
        if points.account.ledger.iter().any(|e| !e.reason.is_earning()) {
            problems.push(format!("{owner}: a device's own account only earns"));
        }
        accounts.push(check_account(owner, &points.account, &mut problems));
    }

    // Each bought coupon: its debit, and its refund if any.
    let activities: Vec<ActivityRecord> = scan_json(control_plane.store(), keys::ACTIVITY_PREFIX).await?;
    let mut paid_for: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut refunded_by: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut coupons_bought = 0;
    for record in &activities {
        for (serial, coupon) in &record.coupons {
            let Some(paid) = &coupon.paid else { continue };
            coupons_bought += 1;
            let member = by_member.get(&paid.member_id);
            let names_coupon = |e: &LedgerEntry| {
                e.coupon
                    .as_ref()
                    .is_some_and(|c| &c.serial == serial && c.activity_id == record.activity.activity_id)
            };
            match entry(member, paid.ledger_id) {
                Some(e)
                    if e.reason == LedgerReason::CouponPurchase
                        && e.points == -(paid.points as i64)
                        && names_coupon(e) =>
                {
                    paid_for.insert((paid.member_id.clone(), paid.ledger_id));
                }
                _ => problems.push(format!("coupon {serial}: no matching debit of {} points", paid.points)),
            }
            if let Some(refund) = &coupon.refund {
                match (refund.ledger_id, refund.points) {
                    (None, 0) => {}
                    (Some(id), points) => match entry(member, id) {
                        Some(e)
                            if e.reason == LedgerReason::CouponRefund
                                && e.points == points as i64
                                && names_coupon(e) =>
                        {
                            refunded_by.insert((paid.member_id.clone(), id));
                        }
                        _ => problems.push(format!("coupon {serial}: no matching refund of {points} points")),
                    },
                    (None, points) => problems.push(format!("coupon {serial}: a refund of {points} without an entry")),
                }
                if refund.points > paid.points {
                    problems.push(format!("coupon {serial}: refunded more than was paid"));
                }
            }
        }
    }

    // Every coupon debit and refund in the ledgers belongs to a coupon;
    // every reward debit to a grant, and each grant to its debit.
    let mut grants = 0;
    for (member_id, member) in &by_member {
        for e in &member.account.ledger {
            let key = (member_id.clone(), e.id);
            match e.reason {
                LedgerReason::CouponPurchase if !paid_for.contains(&key) => {
                    problems.push(format!("member:{member_id}: debit {} pays for no coupon", e.id));
                }
                LedgerReason::CouponRefund if !refunded_by.contains(&key) => {
                    problems.push(format!("member:{member_id}: refund {} belongs to no coupon", e.id));
                }
                LedgerReason::RewardRedemption => {
                    let granted = member.grants.iter().find(|g| Some(&g.grant_id) == e.grant_id.as_ref());
                    if granted.is_none_or(|g| e.points != -(g.points as i64)) {
                        problems.push(format!("member:{member_id}: reward debit {} has no grant", e.id));
                    }
                }
                _ => {}
            }
        }
        for grant in &member.grants {
            grants += 1;
            let debits = member
                .account
                .ledger
                .iter()
                .filter(|e| e.reason == LedgerReason::RewardRedemption && e.grant_id.as_ref() == Some(&grant.grant_id))
                .count();
            if debits != 1 {
                problems.push(format!(
                    "member:{member_id}: grant {} has {debits} debits",
                    grant.grant_id
                ));
            }
        }
    }
    Ok(BalanceCheck {
        accounts,
        problems,
        coupons_bought,
        grants,
    })
}
