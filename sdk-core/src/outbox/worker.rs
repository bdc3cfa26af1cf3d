//! The outbox worker: one task that sends the head entry of every stream
//! when it is due, and sleeps until the next one is — woken early by a new
//! entry, a network that came back, or shutdown. No polling loop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepoints_protocol::request_auth::DEVICE_SIGNATURE_HEADER;
use edgepoints_protocol::{paths, OperationState, OperationStatus};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{defer, mark_done, mark_failed, record_transient, stream_heads, EntryKind, Sendable};
use crate::events::Event;
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::transport::{Attempted, Outgoing};
use crate::{consent, registration, TransportFailure};

/// How long to hold back when the retry budget says no.
const BUDGET_PAUSE: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true.
pub(crate) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // Entries whose status this process asked the control plane already: a
    // restart forgets it, so each interrupted entry is asked about once.
    let asked: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        if *stop.borrow() {
            return;
        }
        let heads = match shared.store().with(|c| stream_heads(c)) {
            Ok(heads) => heads,
            Err(error) => {
                tracing::error!(%error, "outbox unreadable; retrying");
                tokio::time::sleep(BUDGET_PAUSE).await;
                continue;
            }
        };
        let now = unix_millis();
        let (due, later): (Vec<_>, Vec<_>) = heads.into_iter().partition(|h| h.entry.next_attempt_at_ms <= now);
        if !due.is_empty() {
            let mut sends = JoinSet::new();
            for head in due {
                sends.spawn(deliver(shared.clone(), head, asked.clone()));
            }
            tokio::select! {
                () = async { while sends.join_next().await.is_some() {} } => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let sleep = match later.iter().map(|h| h.entry.next_attempt_at_ms).min() {
            Some(at) => Duration::from_millis(at.saturating_sub(now)),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            () = shared.outbox_wake().notified() => {}
            () = tokio::time::sleep(sleep) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One attempt at one entry, and its bookkeeping.
async fn deliver(shared: Arc<Shared>, head: Sendable, asked: Arc<Mutex<HashSet<i64>>>) {
    let id = head.entry.id;
    let retry = head.entry.attempts > 0;
    let first_ask = retry && asked.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
    let outcome = if first_ask {
        // Sent before, answer never seen (likely a restart): ask before
        // sending again. Sending again would be safe too; asking is cheaper
        // for the control plane and shows the stored answer at once.
        match operation_status(&shared, &head.entry.idempotency_key).await {
            Some(OperationStatus {
                state: OperationState::Completed,
                status: Some(status),
                body: Some(body),
                ..
            }) if (200..300).contains(&status) => Attempted::Done {
                status,
                body: body.into_bytes(),
                replayed: true,
            },
            Some(OperationStatus {
                state: OperationState::InProgress,
                ..
            }) => {
                let next = unix_millis() + shared.transport().retry_policy().backoff(1).as_millis() as u64;
                finish(&shared, &head, |c| {
                    defer(c, id, "still running on the control plane", next)
                });
                return;
            }
            _ => shared.transport().attempt(&head.request, retry).await,
        }
    } else {
        shared.transport().attempt(&head.request, retry).await
    };
    match outcome {
        Attempted::Done { status, body, replayed } => complete(&shared, &head, status, &body, replayed),
        Attempted::Refused { status, problem, .. } if head.kind.refusal_is_done(problem.code) => {
            tracing::info!(
                id,
                kind = head.kind.as_str(),
                code = problem.code.as_str(),
                "outbox entry needed no more"
            );
            complete(&shared, &head, status, b"{}", false);
        }
        Attempted::Refused { status, problem, .. } => {
            let _announcing = Announcing::new(&shared, id);
            tracing::warn!(id, kind = head.kind.as_str(), status, %problem, "outbox entry failed for good");
            let failed = shared.store().with(|c| {
                let tx = c.transaction()?;
                let changed = mark_failed(&tx, id, status, &problem)?;
                if changed && head.kind == EntryKind::OfflineRedemption {
                    crate::coupons::offline::refused(&tx, &head.context)?;
                }
                if changed && head.kind == EntryKind::RentalStep {
                    crate::rental::machine::refused(&tx, &head.context, &problem)?;
                }
                tx.commit()?;
                Ok(changed)
            });
            if let Ok(true) = failed {
                shared.events().emit(Event::OutboxEntryFailed {
                    id,
                    kind: head.kind.as_str().to_owned(),
                    status,
                    code: problem.code.as_str().to_owned(),
                    reason: problem.to_string(),
                });
            }
            bump(&shared);
        }
        // A retry the budget refused counts as a failed attempt (a caller
        // waiting on it should hear "unavailable" now, not when the budget
        // refills), but nothing was sent.
        Attempted::Transient {
            failure: failure @ TransportFailure::RetryBudgetExhausted,
            ..
        } => {
            let next = unix_millis() + BUDGET_PAUSE.as_millis() as u64;
            let error = failure.to_string();
            finish(&shared, &head, |c| record_transient(c, id, &error, next));
        }
        Attempted::Transient { failure, retry_after } => {
            let attempts = head.entry.attempts + 1;
            let wait = shared
                .transport()
                .retry_policy()
                .backoff_beyond(attempts, shared.config().outbox_max_delay)
                .max(retry_after.unwrap_or_default());
            let next = unix_millis() + wait.as_millis() as u64;
            let error = failure.to_string();
            finish(&shared, &head, |c| record_transient(c, id, &error, next));
        }
    }
}

fn finish(
    shared: &Shared,
    head: &Sendable,
    change: impl FnOnce(&mut rusqlite::Connection) -> Result<(), crate::StoreError>,
) {
    if let Err(error) = shared.store().with(change) {
        tracing::error!(id = head.entry.id, %error, "outbox bookkeeping failed");
    }
    bump(shared);
}

/// Marks an entry as finished in the store but not yet announced: a caller
/// waiting on it must not return before its events went out.
struct Announcing<'a> {
    shared: &'a Shared,
    id: i64,
}

impl<'a> Announcing<'a> {
    fn new(shared: &'a Shared, id: i64) -> Self {
        shared.announcing().lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        Announcing { shared, id }
    }
}

impl Drop for Announcing<'_> {
    fn drop(&mut self) {
        self.shared
            .announcing()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        bump(self.shared);
    }
}

/// Wakes every caller waiting on an entry.
fn bump(shared: &Shared) {
    shared.outbox_changed().send_modify(|generation| *generation += 1);
}

/// Marks the entry done and applies its answer locally, in one transaction.
fn complete(shared: &Shared, head: &Sendable, status: u16, body: &[u8], replayed: bool) {
    let _announcing = Announcing::new(shared, head.entry.id);
    let applied = shared.store().with(|c| {
        let tx = c.transaction()?;
        if !mark_done(&tx, head.entry.id, status, body)? {
            return Ok(Ok(Vec::new()));
        }
        let events = match head.kind {
            EntryKind::Registration => registration::apply_answer(shared, &tx, &head.entry.idempotency_key, body),
            EntryKind::ConsentReport => consent::apply_answer(&tx, &head.context),
            EntryKind::NodeAnnouncement => crate::node::announce::apply_answer(shared, body),
            // The control plane holds it now; nothing to change locally.
            EntryKind::CouponClaim => crate::coupons::customer::apply_claim(shared, &tx, &head.context, body),
            EntryKind::ClaimRollback => crate::coupons::customer::apply_claim_rollback(&tx, body),
            EntryKind::RewardRedemption => crate::points::apply_reward_redemption(body),
            EntryKind::Redemption => crate::coupons::merchant::apply_redemption(&tx, body),
            EntryKind::Rollback => crate::coupons::merchant::apply_rollback(&tx, body),
            EntryKind::OfflineRedemption => crate::coupons::offline::apply_settlement(&tx, body),
            EntryKind::RentalStep => crate::rental::machine::apply_answer(&tx, &head.context, body),
            EntryKind::HashFailureReport | EntryKind::Receipt | EntryKind::Logout => Ok(Vec::new()),
        };
        match events {
            Ok(events) => {
                tx.commit()?;
                Ok(Ok(events))
            }
            // The answer does not make sense: keep the entry pending rather
            // than mark done something whose effect was not applied.
            Err(error) => Ok(Err(error)),
        }
    });
    match applied {
        Ok(Ok(events)) => {
            tracing::info!(
                id = head.entry.id,
                kind = head.kind.as_str(),
                replayed,
                "outbox entry done"
            );
            bump(shared);
            for event in events {
                shared.events().emit(event);
            }
            shared.events().emit(Event::OutboxEntryCompleted {
                id: head.entry.id,
                kind: head.kind.as_str().to_owned(),
                idempotency_key: head.entry.idempotency_key.clone(),
            });
            bump(shared);
        }
        Ok(Err(error)) => {
            tracing::error!(id = head.entry.id, %error, "cannot apply the answer; will ask again");
            let next = unix_millis() + BUDGET_PAUSE.as_millis() as u64;
            finish(shared, head, |c| {
                record_transient(c, head.entry.id, &error.to_string(), next)
            });
        }
        Err(error) => {
            tracing::error!(id = head.entry.id, %error, "outbox bookkeeping failed");
            bump(shared);
        }
    }
}

/// Asks the control plane what became of a request (a signed read).
async fn operation_status(shared: &Shared, key: &str) -> Option<OperationStatus> {
    let path = paths::device_operation(shared.identity().device_id().as_str(), key);
    let mut request = Outgoing::get(path.clone());
    request.headers.push((
        DEVICE_SIGNATURE_HEADER,
        shared.identity().sign_request("GET", &path, unix_millis()),
    ));
    match shared.transport().attempt(&request, false).await {
        Attempted::Done { body, .. } => serde_json::from_slice(&body).ok(),
        // Unknown device (not registered yet) or no answer: just send.
        _ => None,
    }
}
