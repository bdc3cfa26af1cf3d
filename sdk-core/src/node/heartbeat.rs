//! Heartbeats: while the node serves, it tells the control plane so, signed,
//! at the interval the control plane asks for (±10 % jitter, so a fleet
//! that started together does not beat together). One timer, no polling:
//! the loop sleeps until the next beat, a change of the serving gate, or
//! the node's stop.
//!
//! - A pause (or revoked consent) sends one last `serving: false` beat, so
//!   the paused span is never credited, and stops the beats until serving
//!   resumes.
//! - An unreachable control plane gets beats at a growing distance (1 s,
//!   2 s, 4 s, … up to four intervals), not a storm.
//! - The sequence number is stored and increases across restarts; the
//!   control plane refuses anything not above the last it accepted.
//!
//! The answer lists every credit since the previous heartbeat — online
//! time, and deliveries credited from consumers' receipts in between — and
//! each becomes a `PointsCredited` event.
//!
//! Heartbeats are not outbox entries: a lost one is a gap, and resending it
//! later would claim time that was not observed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepoints_protocol::{paths, Heartbeat, HeartbeatAccepted, Purpose};
use reqwest::Method;
use tokio::sync::watch;

use super::stats::Counters;
use crate::events::Event;
use crate::policy::ServingGate;
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::transport::Outgoing;
use crate::{Error, StoreError};

/// The interval until the control plane names one.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// What one heartbeat earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReport {
    pub seq: u64,
    pub credited_online_ms: u64,
    /// Points for the online time this heartbeat closed.
    pub credited_points: u64,
    /// Points for deliveries credited since the previous heartbeat (from
    /// consumers' receipts).
    pub delivery_points: u64,
    pub balance: u64,
    pub next_interval: Duration,
}

pub(crate) struct Heartbeater {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    /// Requests and bytes already reported, for the deltas.
    reported: Mutex<(u64, u64)>,
    /// One beat at a time, so sequence numbers reach the server in order.
    sending: tokio::sync::Mutex<()>,
}

impl Heartbeater {
    pub(crate) fn new(shared: Arc<Shared>, counters: Arc<Counters>) -> Self {
        Heartbeater {
            shared,
            counters,
            reported: Mutex::new((0, 0)),
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// Sends one heartbeat now; the outcome shows in the presence status.
    pub(crate) async fn beat(&self, serving: bool) -> Result<HeartbeatReport, Error> {
        let outcome = self.send(serving).await;
        let presence = self.shared.presence();
        match &outcome {
            Ok(report) => presence.heartbeat_accepted(report.clone(), unix_millis()),
            Err(Error::ShutDown) => {}
            Err(error) => presence.heartbeat_failed(error),
        }
        outcome
    }

    async fn send(&self, serving: bool) -> Result<HeartbeatReport, Error> {
        let _one_at_a_time = self.sending.lock().await;
        let shared = &self.shared;
        shared.ensure_open()?;
        let seq = next_seq(shared)?;
        let (requests, bytes) = self.counters.totals();
        let (reported_requests, reported_bytes) = *self.reported.lock().unwrap_or_else(|p| p.into_inner());
        let heartbeat = Heartbeat {
            device_id: shared.identity().device_id().clone(),
            seq,
            serving,
            requests_delta: requests.saturating_sub(reported_requests),
            bytes_delta: bytes.saturating_sub(reported_bytes),
            sent_at_ms: unix_millis(),
        };
        let envelope = shared.identity().sign(Purpose::Heartbeat, &heartbeat);
        let request = Outgoing {
            method: Method::POST,
            path: paths::device_heartbeats(shared.identity().device_id().as_str()),
            body: Some(serde_json::to_vec(&envelope).expect("envelope serialises")),
            idempotency_key: Some(crate::identity::new_idempotency_key()?),
            headers: Vec::new(),
        };
        let body = shared.transport().attempt(&request, false).await.into_body()?;
        let accepted: HeartbeatAccepted =
            serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("heartbeat answer: {e}")))?;
        *self.reported.lock().unwrap_or_else(|p| p.into_inner()) = (requests, bytes);
        // One event per credit, oldest first, each with the balance it left
        // (the answer lists earnings only, so every entry is positive).
        let credits: Vec<_> = accepted.credits.iter().filter(|c| c.points > 0).collect();
        let mut balance = accepted
            .balance
            .saturating_sub(credits.iter().map(|c| c.points.unsigned_abs()).sum());
        for credit in credits {
            balance += credit.points.unsigned_abs();
            shared.events().emit(Event::PointsCredited {
                points: credit.points.unsigned_abs(),
                balance,
                reason: credit.reason,
            });
        }
        Ok(HeartbeatReport {
            seq: accepted.seq,
            credited_online_ms: accepted.credited_online_ms,
            credited_points: accepted.credited_points,
            delivery_points: accepted
                .credits
                .iter()
                .filter(|c| c.reason == edgepoints_protocol::LedgerReason::Delivery)
                .map(|c| c.points.max(0).unsigned_abs())
                .sum(),
            balance: accepted.balance,
            next_interval: Duration::from_millis(accepted.next_interval_ms.max(100)),
        })
    }
}

/// The next sequence number, stored before it is used.
fn next_seq(shared: &Shared) -> Result<u64, StoreError> {
    shared.store().with(|c| {
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO node_state (singleton, heartbeat_seq) VALUES (1, 1)
             ON CONFLICT (singleton) DO UPDATE SET heartbeat_seq = heartbeat_seq + 1",
            [],
        )?;
        let seq: i64 = tx.query_row("SELECT heartbeat_seq FROM node_state", [], |r| r.get(0))?;
        tx.commit()?;
        Ok(seq as u64)
    })
}

fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

fn serving(gate: &watch::Receiver<ServingGate>) -> bool {
    matches!(*gate.borrow(), ServingGate::Serving)
}

/// The heartbeat loop of a running node, after its first beat (sent by
/// `start`, so the control plane knows the node is up when it returns).
pub(crate) async fn run(
    heartbeater: Arc<Heartbeater>,
    first: Result<HeartbeatReport, Error>,
    mut gate: watch::Receiver<ServingGate>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut interval = DEFAULT_INTERVAL;
    let mut failures = 0u32;
    let mut outcome = first;
    loop {
        match outcome {
            Ok(report) => {
                interval = report.next_interval;
                failures = 0;
            }
            Err(Error::ShutDown) => return,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "heartbeat failed");
            }
        }
        if serving(&gate) {
            let wait = if failures == 0 {
                jittered(interval)
            } else {
                jittered(Duration::from_secs(1 << (failures - 1).min(16)).min(interval * 4))
            };
            match next_wake(wait, &mut gate, &mut stopped).await {
                Wake::Due => {}
                // The span from the last beat to the pause counts; the pause does not.
                Wake::Paused => final_beat(&heartbeater).await,
                Wake::Stopped => return final_beat(&heartbeater).await,
                Wake::Gone => return,
            }
        }
        // Paused, since the start or just now: the last beat said
        // `serving: false`, and nothing more goes (nor wakes) until serving
        // resumes; then a beat goes at once.
        while !serving(&gate) {
            tokio::select! {
                changed = gate.changed() => if changed.is_err() { return },
                _ = stopped.changed() => return,
            }
        }
        // An interface may have come or gone without the host saying so:
        // looked at once per beat, when the node wakes anyway.
        if let Err(error) = super::announce::reannounce_if_addresses_moved(&heartbeater.shared) {
            tracing::warn!(%error, "address check failed");
        }
        outcome = heartbeater.beat(true).await;
    }
}

/// Why the heartbeat loop woke.
enum Wake {
    /// The next beat is due.
    Due,
    /// Serving paused (or consent went).
    Paused,
    /// The node stops.
    Stopped,
    /// The SDK is gone.
    Gone,
}

/// Sleeps until the next beat is due, serving pauses, or the node stops;
/// gate changes that leave the node serving do not end the sleep.
async fn next_wake(
    wait: Duration,
    gate: &mut watch::Receiver<ServingGate>,
    stopped: &mut watch::Receiver<bool>,
) -> Wake {
    let sleep = tokio::time::sleep(wait);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return Wake::Due,
            changed = gate.changed() => {
                if changed.is_err() {
                    return Wake::Gone;
                }
                if !serving(gate) {
                    return Wake::Paused;
                }
            }
            _ = stopped.changed() => return Wake::Stopped,
        }
    }
}

/// A best-effort `serving: false` beat (pause or stop), briefly.
async fn final_beat(heartbeater: &Heartbeater) {
    match tokio::time::timeout(Duration::from_secs(2), heartbeater.beat(false)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::debug!(%error, "last heartbeat not delivered"),
        Err(_) => tracing::debug!("last heartbeat timed out"),
    }
}
