//! Online accounting and points, decided by the control plane alone.
//!
//! Online time is credited only between consecutive accepted heartbeats of
//! a node that was serving at both ends, is consenting and announced where
//! it serves, and only when the span is within the gap limit: a node that
//! was silent for longer may have been gone for all of it. Points are full
//! minutes of credited time times the rule's rate, within a daily cap per
//! owner. Everything about one device — its last heartbeat, its balance and
//! its ledger — is one record, changed in one compare-and-swap, so a
//! heartbeat is accepted and credited together or not at all.
//!
//! Delivered bytes are credited from consumers' receipts (see
//! [`edgepoints_protocol::receipts`]): full megabytes times the rule's
//! rate, within the same cap; the receipts taken are part of the node's
//! record, so taking a receipt and crediting it is one change too.
//!
//! The mock's clock is the wall clock plus an offset QA can move forward
//! (`POST /admin/clock`), so hours of accrual are tested in seconds.

use std::collections::BTreeMap;

use edgepoints_protocol::receipts::BYTES_PER_MB;
use edgepoints_protocol::{
    DeviceId, Heartbeat, HeartbeatAccepted, LedgerEntry, LedgerReason, PointsBalance, PointsRules, ReceiptAccepted,
};
use serde::{Deserialize, Serialize};

use crate::state::unix_millis;
use crate::store::{get_json, put_json, update_json, StoreError};
use crate::ControlPlane;

const CLOCK_OFFSET: &str = crate::state::keys::CLOCK_OFFSET;
const RULES: &str = crate::state::keys::POINTS_RULES;
const DEVICE_PREFIX: &str = crate::state::keys::POINTS_DEVICE_PREFIX;
const DAY_MS: u64 = 86_400_000;
/// Most credits one heartbeat answer lists.
const MAX_CREDITS_PER_ANSWER: usize = 100;

fn device_key(device: &str) -> String {
    format!("{DEVICE_PREFIX}{device}")
}

/// The control plane's time: the wall clock plus the offset QA set.
pub async fn now(control_plane: &ControlPlane) -> Result<u64, StoreError> {
    let offset = control_plane.store().increment(CLOCK_OFFSET, 0).await?;
    Ok(unix_millis().saturating_add(offset.max(0) as u64))
}

/// Moves the clock forward (never back: accounting assumes time only grows).
pub async fn advance_clock(control_plane: &ControlPlane, by_ms: u64) -> Result<u64, StoreError> {
    control_plane
        .store()
        .increment(CLOCK_OFFSET, by_ms.min(i64::MAX as u64) as i64)
        .await?;
    now(control_plane).await
}

pub async fn rules(control_plane: &ControlPlane) -> Result<PointsRules, StoreError> {
    Ok(get_json(control_plane.store(), RULES).await?.unwrap_or_default())
}

pub async fn set_rules(control_plane: &ControlPlane, rules: PointsRules) -> Result<(), StoreError> {
    put_json(control_plane.store(), RULES, &rules).await?;
    Ok(())
}

/// A balance and its ledger, within a daily cap: a device's, or a member's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub balance: u64,
    /// Points per control-plane day (days since the epoch), the last few.
    pub days: BTreeMap<u64, u64>,
    pub ledger: Vec<LedgerEntry>,
}

impl Account {
    fn today(&self, now_ms: u64) -> u64 {
        self.days.get(&(now_ms / DAY_MS)).copied().unwrap_or(0)
    }

    /// Credits up to `points` within the daily cap; returns what was
    /// credited. `device` names the earning device in a member's ledger.
    fn credit(&mut self, earned: Earned, device: Option<&DeviceId>, rules: &PointsRules) -> u64 {
        let allowed = rules.daily_cap.saturating_sub(self.today(earned.at_ms));
        let credited = earned.points.min(allowed);
        if credited == 0 {
            return 0;
        }
        *self.days.entry(earned.at_ms / DAY_MS).or_default() += credited;
        while self.days.len() > 7 {
            self.days.pop_first();
        }
        let detail = if credited < earned.points {
            format!(
                "{}; {} over the daily cap of {} not credited",
                earned.detail,
                earned.points - credited,
                rules.daily_cap
            )
        } else {
            earned.detail
        };
        self.push(LedgerEntry {
            id: 0,
            at_ms: earned.at_ms,
            points: credited as i64,
            reason: earned.reason,
            detail,
            device_id: device.cloned(),
            coupon: None,
            grant_id: None,
        });
        credited
    }

    /// Appends `entry` (numbered next) and moves the balance by its points;
    /// returns its id. The one place the balance changes: it is the sum of
    /// the ledger by construction, and the check re-adds it anyway.
    fn push(&mut self, mut entry: LedgerEntry) -> u64 {
        entry.id = self.ledger.len() as u64 + 1;
        self.balance = self.balance.saturating_add_signed(entry.points);
        let id = entry.id;
        self.ledger.push(entry);
        id
    }

    /// Debits `points` for what `spend` says, if the balance covers them;
    /// otherwise changes nothing and says what the balance is.
    pub fn debit(&mut self, points: u64, spend: Spend) -> Result<u64, NotEnoughPoints> {
        if points > self.balance {
            return Err(NotEnoughPoints {
                balance: self.balance,
                needed: points,
            });
        }
        Ok(self.push(LedgerEntry {
            id: 0,
            at_ms: spend.at_ms,
            points: -(points as i64),
            reason: spend.reason,
            detail: spend.detail,
            device_id: spend.device,
            coupon: spend.coupon,
            grant_id: spend.grant_id,
        }))
    }

    /// Gives `points` back (a refund is not earning: no daily cap).
    pub fn refund(&mut self, points: u64, spend: Spend) -> u64 {
        self.push(LedgerEntry {
            id: 0,
            at_ms: spend.at_ms,
            points: points as i64,
            reason: spend.reason,
            detail: spend.detail,
            device_id: spend.device,
            coupon: spend.coupon,
            grant_id: spend.grant_id,
        })
    }
}

/// What a debit or refund is for, as its ledger entry will say.
#[derive(Debug, Clone)]
pub struct Spend {
    pub reason: LedgerReason,
    pub detail: String,
    pub at_ms: u64,
    /// The device that spent (none for a refund the control plane makes).
    pub device: Option<DeviceId>,
    pub coupon: Option<edgepoints_protocol::LedgerCoupon>,
    pub grant_id: Option<String>,
}

/// A debit the balance does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotEnoughPoints {
    pub balance: u64,
    pub needed: u64,
}

/// Points a device's service earned, before the cap of whoever gets them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Earned {
    pub points: u64,
    pub reason: LedgerReason,
    pub detail: String,
    pub at_ms: u64,
    /// The online time or delivered bytes the points stand for.
    #[serde(default)]
    pub online_ms: u64,
    #[serde(default)]
    pub delivered_bytes: u64,
}

/// Points a device earned for the member logged in on it, waiting to be
/// moved to the member's account (see [`settle`]).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Owed {
    /// Position among the device's owed credits, from 1.
    pub n: u64,
    pub member_id: String,
    pub earned: Earned,
}

/// One device's presence and points.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DevicePoints {
    pub last_seq: u64,
    pub last_heartbeat_ms: u64,
    pub last_serving: bool,
    pub online_ms: u64,
    /// Credited online time not yet a full minute.
    pub remainder_ms: u64,
    /// What the device earned while no member was logged in on it.
    pub account: Account,
    /// The last ledger entry a heartbeat answer told the node about.
    #[serde(default)]
    pub reported_ledger_id: u64,
    /// Bytes credited from receipts, and those not yet a full megabyte.
    #[serde(default)]
    pub delivered_bytes: u64,
    #[serde(default)]
    pub delivered_remainder: u64,
    /// Receipts taken for this node, by nonce, until their window closes.
    #[serde(default)]
    pub receipts: BTreeMap<String, TakenReceipt>,
    /// Redemptions whose referral points this device was credited (each
    /// once, however often the redemption is answered again).
    #[serde(default)]
    pub referrals: std::collections::BTreeSet<String>,
    /// Credits earned for members, until their accounts took them.
    #[serde(default)]
    pub owed: Vec<Owed>,
    #[serde(default)]
    pub owed_count: u64,
}

impl DevicePoints {
    /// Credits what the device earned: to the member logged in on it (owed
    /// until [`settle`] moves it), or to the device. Returns the points
    /// credited to the device now (owed points are credited by `settle`).
    fn earn(&mut self, earned: Earned, member: Option<&str>, rules: &PointsRules) -> u64 {
        match member {
            Some(member_id) => {
                self.owed_count += 1;
                self.owed.push(Owed {
                    n: self.owed_count,
                    member_id: member_id.to_owned(),
                    earned,
                });
                0
            }
            None => self.account.credit(earned, None, rules),
        }
    }
}

/// A member's points: what the devices they were logged in on earned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberPoints {
    pub account: Account,
    /// Per device, the last of its owed credits this account took: a
    /// credit is moved once, however often settling is retried.
    pub settled: BTreeMap<String, u64>,
    /// Per device, the last ledger entry its heartbeat answers reported.
    pub reported: BTreeMap<String, u64>,
    /// Online time and delivered bytes the account was credited for.
    pub online_ms: u64,
    pub delivered_bytes: u64,
    /// What the member's redeemed rewards gave them, oldest first.
    #[serde(default)]
    pub grants: Vec<edgepoints_protocol::loyalty::RewardGrant>,
}

/// What is remembered of a receipt taken for a node.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TakenReceipt {
    pub consumer: String,
    pub content: String,
    /// Control-plane time it was taken at.
    pub taken_at_ms: u64,
    /// Wall-clock time after which the receipt is refused as expired
    /// anyway, so its nonce need not be remembered.
    pub forget_after_ms: u64,
    pub credited_bytes: u64,
}

/// What the control plane knows about the node besides the heartbeat.
pub struct NodeStanding {
    pub consenting: bool,
    /// Announced where it serves.
    pub reachable: bool,
    /// The member logged in on the device, who gets what it earns.
    pub member: Option<String>,
}

/// Why a heartbeat was refused.
#[derive(Debug)]
pub enum HeartbeatRefused {
    OutOfOrder { seq: u64, last: u64 },
}

/// Accepts a heartbeat and credits the span it closes, in one change; a
/// logged-in member's share is then settled into their account.
pub async fn accept_heartbeat(
    control_plane: &ControlPlane,
    heartbeat: &Heartbeat,
    standing: NodeStanding,
) -> Result<Result<HeartbeatAccepted, HeartbeatRefused>, StoreError> {
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    let gap_limit = rules.heartbeat_interval_ms.saturating_mul(rules.gap_limit_intervals);
    let device = heartbeat.device_id.as_str();
    let accepted = update_json::<DevicePoints, HeartbeatAccepted, HeartbeatRefused>(
        control_plane.store(),
        &device_key(device),
        |stored| {
            let mut points = stored.unwrap_or_default();
            if heartbeat.seq <= points.last_seq {
                return Err(HeartbeatRefused::OutOfOrder {
                    seq: heartbeat.seq,
                    last: points.last_seq,
                });
            }
            let span = now_ms.saturating_sub(points.last_heartbeat_ms);
            let creditable = points.last_seq > 0
                && points.last_serving
                && heartbeat.serving
                && standing.consenting
                && standing.reachable
                && span <= gap_limit;
            let credited_online_ms = if creditable { span } else { 0 };
            points.online_ms += credited_online_ms;
            points.remainder_ms += credited_online_ms;
            let minutes = points.remainder_ms / 60_000;
            points.remainder_ms %= 60_000;
            let credited_points = if minutes > 0 {
                let earned = Earned {
                    points: minutes * rules.points_per_online_minute,
                    reason: LedgerReason::OnlineTime,
                    detail: format!("{minutes} min online"),
                    at_ms: now_ms,
                    online_ms: minutes * 60_000,
                    delivered_bytes: 0,
                };
                points.earn(earned, standing.member.as_deref(), &rules)
            } else {
                0
            };
            points.last_seq = heartbeat.seq;
            points.last_heartbeat_ms = now_ms;
            points.last_serving = heartbeat.serving;
            let credits = unreported(&points.account.ledger, &mut points.reported_ledger_id);
            let accepted = HeartbeatAccepted {
                seq: heartbeat.seq,
                next_interval_ms: rules.heartbeat_interval_ms,
                credited_online_ms,
                credited_points,
                balance: points.account.balance,
                credits,
            };
            Ok((Some(points), accepted))
        },
    )
    .await?;
    let Ok(mut accepted) = accepted else {
        return Ok(accepted);
    };
    if let Some(member_id) = &standing.member {
        // The answer speaks of the member's account: its balance, and the
        // credits this device earned for it since the last answer.
        let settled = settle(control_plane, &heartbeat.device_id, member_id, true).await?;
        accepted.credited_points = settled.credited;
        accepted.balance = settled.balance;
        accepted.credits.extend(settled.reported);
    }
    Ok(Ok(accepted))
}

/// The newest ledger entries after `*reported`, at most a page of them (a
/// node back after a long silence reads the rest in its ledger); moves
/// `*reported` past them.
fn unreported(ledger: &[LedgerEntry], reported: &mut u64) -> Vec<LedgerEntry> {
    let fresh: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.id > *reported && e.reason.is_earning())
        .collect();
    let skip = fresh.len().saturating_sub(MAX_CREDITS_PER_ANSWER);
    *reported = ledger.last().map_or(*reported, |e| e.id.max(*reported));
    fresh.into_iter().skip(skip).cloned().collect()
}

/// What settling left.
pub struct Settled {
    pub balance: u64,
    /// Points this settle credited.
    pub credited: u64,
    /// With `report`: the member's ledger entries earned by the device and
    /// not reported to it before.
    pub reported: Vec<LedgerEntry>,
}

/// Moves the credits `device` owes `member_id` into the member's account,
/// each once (the account remembers the last it took per device), then
/// forgets them on the device. Safe to repeat and to interrupt: a credit
/// left owed is taken by the next settle.
pub async fn settle(
    control_plane: &ControlPlane,
    device: &DeviceId,
    member_id: &str,
    report: bool,
) -> Result<Settled, StoreError> {
    let rules = rules(control_plane).await?;
    let owed: Vec<Owed> = device_points(control_plane, device.as_str())
        .await?
        .owed
        .into_iter()
        .filter(|o| o.member_id == member_id)
        .collect();
    let settled = update_json::<MemberPoints, Settled, std::convert::Infallible>(
        control_plane.store(),
        &member_points_key(member_id),
        |stored| {
            let mut member = stored.unwrap_or_default();
            let taken = member.settled.get(device.as_str()).copied().unwrap_or(0);
            let mut credited = 0;
            for credit in owed.iter().filter(|o| o.n > taken) {
                member.online_ms += credit.earned.online_ms;
                member.delivered_bytes += credit.earned.delivered_bytes;
                credited += member.account.credit(credit.earned.clone(), Some(device), &rules);
            }
            if let Some(last) = owed.last() {
                member.settled.insert(device.as_str().to_owned(), last.n.max(taken));
            }
            let mut reported = Vec::new();
            if report {
                let mark = member.reported.entry(device.as_str().to_owned()).or_default();
                let ledger: Vec<LedgerEntry> = member
                    .account
                    .ledger
                    .iter()
                    .filter(|e| e.device_id.as_ref() == Some(device))
                    .cloned()
                    .collect();
                let last_id = member.account.ledger.last().map_or(0, |e| e.id);
                reported = unreported(&ledger, mark);
                *mark = (*mark).max(last_id);
            }
            let balance = member.account.balance;
            Ok((
                Some(member),
                Settled {
                    balance,
                    credited,
                    reported,
                },
            ))
        },
    )
    .await?
    .unwrap_or_else(|never| match never {});
    // The member's account holds them now; the device can forget them.
    if let Some(last) = owed.last().map(|o| o.n) {
        update_json::<DevicePoints, (), std::convert::Infallible>(
            control_plane.store(),
            &device_key(device.as_str()),
            |stored| {
                let mut points = stored.unwrap_or_default();
                points.owed.retain(|o| o.member_id != member_id || o.n > last);
                Ok((Some(points), ()))
            },
        )
        .await?
        .unwrap_or_else(|never| match never {});
    }
    Ok(settled)
}

pub(crate) fn member_points_key(member_id: &str) -> String {
    format!("{}{member_id}", crate::state::keys::POINTS_MEMBER_PREFIX)
}

/// One points account as QA reads it: its owner, balance, totals, and the
/// newest entries of its ledger.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountSummary {
    /// A device id or a member id.
    pub owner: String,
    pub balance: u64,
    pub online_ms: u64,
    pub delivered_bytes: u64,
    /// Entries in the whole ledger.
    pub entries: u64,
    /// Credits earned for a member, not yet moved into their account.
    pub owed: u64,
    /// The newest entries, newest first.
    pub recent: Vec<LedgerEntry>,
}

/// Every points account: the devices' and the members'.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointsAccounts {
    pub devices: Vec<AccountSummary>,
    pub members: Vec<AccountSummary>,
}

impl AccountSummary {
    fn of(owner: &str, account: &Account, (online_ms, delivered_bytes, owed): (u64, u64, u64), recent: usize) -> Self {
        AccountSummary {
            owner: owner.to_owned(),
            balance: account.balance,
            online_ms,
            delivered_bytes,
            entries: account.ledger.len() as u64,
            owed,
            recent: account.ledger.iter().rev().take(recent).cloned().collect(),
        }
    }
}

/// Every device's and member's account, with up to `recent` ledger
/// entries each (QA).
pub async fn accounts(control_plane: &ControlPlane, recent: usize) -> Result<PointsAccounts, StoreError> {
    let mut devices = Vec::new();
    for (key, bytes) in control_plane.store().scan(DEVICE_PREFIX).await? {
        let p: DevicePoints = crate::store::decode(&key, &bytes)?;
        let totals = (p.online_ms, p.delivered_bytes, p.owed.len() as u64);
        devices.push(AccountSummary::of(
            &key[DEVICE_PREFIX.len()..],
            &p.account,
            totals,
            recent,
        ));
    }
    let mut members = Vec::new();
    let member_prefix = crate::state::keys::POINTS_MEMBER_PREFIX;
    for (key, bytes) in control_plane.store().scan(member_prefix).await? {
        let p: MemberPoints = crate::store::decode(&key, &bytes)?;
        let totals = (p.online_ms, p.delivered_bytes, 0);
        members.push(AccountSummary::of(
            &key[member_prefix.len()..],
            &p.account,
            totals,
            recent,
        ));
    }
    Ok(PointsAccounts { devices, members })
}

pub async fn device_points(control_plane: &ControlPlane, device: &str) -> Result<DevicePoints, StoreError> {
    Ok(get_json(control_plane.store(), &device_key(device))
        .await?
        .unwrap_or_default())
}

pub async fn member_points(control_plane: &ControlPlane, member_id: &str) -> Result<MemberPoints, StoreError> {
    Ok(get_json(control_plane.store(), &member_points_key(member_id))
        .await?
        .unwrap_or_default())
}

pub async fn balance(control_plane: &ControlPlane, device: &str) -> Result<PointsBalance, StoreError> {
    let points = device_points(control_plane, device).await?;
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    Ok(PointsBalance {
        owner: device.to_owned(),
        balance: points.account.balance,
        today: points.account.today(now_ms),
        daily_cap: rules.daily_cap,
        online_ms: points.online_ms,
        delivered_bytes: points.delivered_bytes,
    })
}

/// A member's balance, after settling what `device` owes them (the other
/// devices' credits are settled at their next heartbeat or receipt).
pub async fn member_balance(
    control_plane: &ControlPlane,
    device: &DeviceId,
    member_id: &str,
) -> Result<PointsBalance, StoreError> {
    settle(control_plane, device, member_id, false).await?;
    let member = member_points(control_plane, member_id).await?;
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    Ok(PointsBalance {
        owner: member_id.to_owned(),
        balance: member.account.balance,
        today: member.account.today(now_ms),
        daily_cap: rules.daily_cap,
        online_ms: member.online_ms,
        delivered_bytes: member.delivered_bytes,
    })
}

/// Credits `sharer` (or the member logged in on it) the referral points of
/// redemption `redemption_id`, once. Returns the points credited now.
pub async fn credit_referral(
    control_plane: &ControlPlane,
    sharer: &DeviceId,
    redemption_id: &str,
) -> Result<u64, StoreError> {
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    let member = crate::members::logged_in_member(control_plane, sharer).await?;
    let credited = update_json::<DevicePoints, u64, std::convert::Infallible>(
        control_plane.store(),
        &device_key(sharer.as_str()),
        |stored| {
            let mut points = stored.unwrap_or_default();
            if !points.referrals.insert(redemption_id.to_owned()) {
                return Ok((Some(points), 0));
            }
            let earned = Earned {
                points: rules.points_per_referral,
                reason: LedgerReason::Referral,
                detail: format!("referral redeemed ({redemption_id})"),
                at_ms: now_ms,
                online_ms: 0,
                delivered_bytes: 0,
            };
            let credited = points.earn(earned, member.as_deref(), &rules);
            Ok((Some(points), credited))
        },
    )
    .await?
    .unwrap_or_else(|never| match never {});
    match member {
        Some(member_id) => Ok(settle(control_plane, sharer, &member_id, false).await?.credited),
        None => Ok(credited),
    }
}

/// A receipt the route checked (signatures, ticket, statement), for the
/// node's record to take or refuse.
pub struct CheckedReceipt<'a> {
    pub node: &'a str,
    pub consumer: &'a str,
    pub content: &'a str,
    pub nonce: &'a str,
    pub bytes: u64,
    pub forget_after_ms: u64,
    /// The member logged in on the node, who gets what it earns.
    pub member: Option<&'a str>,
}

/// Why a checked receipt was not taken.
#[derive(Debug)]
pub enum ReceiptRefused {
    Replayed { taken_at_ms: u64 },
}

/// Takes a receipt for the node and credits its bytes, in one change:
/// a nonce is taken once, and full megabytes become points (the rest
/// waits for the next receipt). A repeat delivery of the same item to the
/// same consumer within a day is taken, so it cannot be replayed later,
/// but credits nothing.
pub async fn accept_receipt(
    control_plane: &ControlPlane,
    receipt: CheckedReceipt<'_>,
) -> Result<Result<ReceiptAccepted, ReceiptRefused>, StoreError> {
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    let wall_ms = unix_millis();
    let node = DeviceId::parse(receipt.node).expect("the route parsed the node id");
    let accepted = update_json::<DevicePoints, ReceiptAccepted, ReceiptRefused>(
        control_plane.store(),
        &device_key(receipt.node),
        |stored| {
            let mut points = stored.unwrap_or_default();
            points.receipts.retain(|_, taken| taken.forget_after_ms >= wall_ms);
            if let Some(taken) = points.receipts.get(receipt.nonce) {
                return Err(ReceiptRefused::Replayed {
                    taken_at_ms: taken.taken_at_ms,
                });
            }
            let repeat = points.receipts.values().any(|taken| {
                taken.consumer == receipt.consumer
                    && taken.content == receipt.content
                    && taken.credited_bytes > 0
                    && now_ms.saturating_sub(taken.taken_at_ms) < DAY_MS
            });
            let credited_bytes = if repeat { 0 } else { receipt.bytes };
            points.receipts.insert(
                receipt.nonce.to_owned(),
                TakenReceipt {
                    consumer: receipt.consumer.to_owned(),
                    content: receipt.content.to_owned(),
                    taken_at_ms: now_ms,
                    forget_after_ms: receipt.forget_after_ms,
                    credited_bytes,
                },
            );
            points.delivered_bytes += credited_bytes;
            points.delivered_remainder += credited_bytes;
            let megabytes = points.delivered_remainder / BYTES_PER_MB;
            points.delivered_remainder %= BYTES_PER_MB;
            let credited_points = if megabytes > 0 {
                let earned = Earned {
                    points: megabytes * rules.points_per_delivered_mb,
                    reason: LedgerReason::Delivery,
                    detail: format!("{megabytes} MB delivered"),
                    at_ms: now_ms,
                    online_ms: 0,
                    delivered_bytes: megabytes * BYTES_PER_MB,
                };
                points.earn(earned, receipt.member, &rules)
            } else {
                0
            };
            let accepted = ReceiptAccepted {
                node_id: node.clone(),
                credited_bytes,
                credited_points,
            };
            Ok((Some(points), accepted))
        },
    )
    .await?;
    let Ok(mut accepted) = accepted else {
        return Ok(accepted);
    };
    if let Some(member_id) = receipt.member {
        accepted.credited_points = settle(control_plane, &node, member_id, false).await?.credited;
    }
    Ok(Ok(accepted))
}
