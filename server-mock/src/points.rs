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
    CreditReason, DeviceId, Heartbeat, HeartbeatAccepted, LedgerEntry, PointsBalance, PointsRules, ReceiptAccepted,
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

/// One device's presence and points.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DevicePoints {
    pub last_seq: u64,
    pub last_heartbeat_ms: u64,
    pub last_serving: bool,
    pub online_ms: u64,
    /// Credited online time not yet a full minute.
    pub remainder_ms: u64,
    pub balance: u64,
    /// Points per control-plane day (days since the epoch), the last few.
    pub days: BTreeMap<u64, u64>,
    pub ledger: Vec<LedgerEntry>,
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
}

/// What is remembered of a receipt taken for a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

impl DevicePoints {
    fn today(&self, now_ms: u64) -> u64 {
        self.days.get(&(now_ms / DAY_MS)).copied().unwrap_or(0)
    }

    /// Credits up to `points` within the daily cap; returns what was credited.
    fn credit(&mut self, points: u64, reason: CreditReason, detail: String, now_ms: u64, rules: &PointsRules) -> u64 {
        let allowed = rules.daily_cap.saturating_sub(self.today(now_ms));
        let credited = points.min(allowed);
        if credited == 0 {
            return 0;
        }
        self.balance += credited;
        *self.days.entry(now_ms / DAY_MS).or_default() += credited;
        while self.days.len() > 7 {
            self.days.pop_first();
        }
        let detail = if credited < points {
            format!(
                "{detail}; {} over the daily cap of {} not credited",
                points - credited,
                rules.daily_cap
            )
        } else {
            detail
        };
        self.ledger.push(LedgerEntry {
            id: self.ledger.len() as u64 + 1,
            at_ms: now_ms,
            points: credited,
            reason,
            detail,
        });
        credited
    }
}

/// What the control plane knows about the node besides the heartbeat.
pub struct NodeStanding {
    pub consenting: bool,
    /// Announced where it serves.
    pub reachable: bool,
}

/// Why a heartbeat was refused.
#[derive(Debug)]
pub enum HeartbeatRefused {
    OutOfOrder { seq: u64, last: u64 },
}

/// Accepts a heartbeat and credits the span it closes, in one change.
pub async fn accept_heartbeat(
    control_plane: &ControlPlane,
    heartbeat: &Heartbeat,
    standing: NodeStanding,
) -> Result<Result<HeartbeatAccepted, HeartbeatRefused>, StoreError> {
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    let gap_limit = rules.heartbeat_interval_ms.saturating_mul(rules.gap_limit_intervals);
    update_json::<DevicePoints, HeartbeatAccepted, HeartbeatRefused>(
        control_plane.store(),
        &device_key(heartbeat.device_id.as_str()),
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
                points.credit(
                    minutes * rules.points_per_online_minute,
                    CreditReason::OnlineTime,
                    format!("{minutes} min online"),
                    now_ms,
                    &rules,
                )
            } else {
                0
            };
            points.last_seq = heartbeat.seq;
            points.last_heartbeat_ms = now_ms;
            points.last_serving = heartbeat.serving;
            // The newest credits since the last answer, at most a page of
            // them: a node back after a long silence reads the rest in
            // its ledger.
            let unreported = points.ledger.iter().filter(|e| e.id > points.reported_ledger_id);
            let skip = unreported.clone().count().saturating_sub(MAX_CREDITS_PER_ANSWER);
            let credits: Vec<LedgerEntry> = unreported.skip(skip).cloned().collect();
            points.reported_ledger_id = points.ledger.len() as u64;
            let accepted = HeartbeatAccepted {
                seq: heartbeat.seq,
                next_interval_ms: rules.heartbeat_interval_ms,
                credited_online_ms,
                credited_points,
                balance: points.balance,
                credits,
            };
            Ok((Some(points), accepted))
        },
    )
    .await
}

pub async fn device_points(control_plane: &ControlPlane, device: &str) -> Result<DevicePoints, StoreError> {
    Ok(get_json(control_plane.store(), &device_key(device))
        .await?
        .unwrap_or_default())
}

pub async fn balance(control_plane: &ControlPlane, device: &str) -> Result<PointsBalance, StoreError> {
    let points = device_points(control_plane, device).await?;
    let rules = rules(control_plane).await?;
    let now_ms = now(control_plane).await?;
    Ok(PointsBalance {
        owner: device.to_owned(),
        balance: points.balance,
        today: points.today(now_ms),
        daily_cap: rules.daily_cap,
        online_ms: points.online_ms,
        delivered_bytes: points.delivered_bytes,
    })
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
    update_json::<DevicePoints, ReceiptAccepted, ReceiptRefused>(
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
                points.credit(
                    megabytes * rules.points_per_delivered_mb,
                    CreditReason::Delivery,
                    format!("{megabytes} MB delivered"),
                    now_ms,
                    &rules,
                )
            } else {
                0
            };
            let accepted = ReceiptAccepted {
                node_id: DeviceId::parse(receipt.node).expect("the route parsed the node id"),
                credited_bytes,
                credited_points,
            };
            Ok((Some(points), accepted))
        },
    )
    .await
}
