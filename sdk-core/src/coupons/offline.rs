//! Redeeming while the till is offline: the till checks the presentation
//! itself, marks the serial redeemed here, and queues a redemption signed
//! by its key with a strictly increasing counter. Its offline budget (as
//! last synced; the control plane enforces it too) caps how many, so the
//! merchant's exposure is known. When the queue drains, the control plane
//! settles: the first redemption of a coupon stands; a later one is a
//! conflict that both tills hear of as an event with both records.

use edgepoints_protocol::coupons::redemption::{
    OfflineBudget, OfflineRedemption, RedemptionConflict, Settlement, DEFAULT_OFFLINE_BUDGET,
    DEFAULT_OFFLINE_BUDGET_VALUE_CENTS,
};
use edgepoints_protocol::{paths, Purpose};
use reqwest::Method;
use rusqlite::{params, OptionalExtension};

use super::merchant::Validation;
use crate::events::Event;
use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{Error, StoreError};

/// A redemption recorded offline, waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRedemption {
    pub serial: String,
    pub activity_id: String,
    pub counter: u64,
    pub outbox_id: i64,
    /// Offline redemptions left today, and their value in cents, as this
    /// till counts them.
    pub budget_left: u32,
    pub budget_left_value_cents: u64,
}

/// What this till may still redeem offline today: the budget as last
/// synced, less what it settled then and what waits in its outbox.
fn budget_left(tx: &rusqlite::Transaction<'_>) -> Result<(u32, u64), StoreError> {
    let (max, used, max_value, used_value): (Option<i64>, i64, Option<i64>, i64) = tx
        .query_row(
            "SELECT budget_max, budget_used, budget_max_value, budget_used_value FROM offline_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .unwrap_or((None, 0, None, 0));
    let (pending, pending_value): (i64, i64) = tx.query_row(
        "SELECT count(*), coalesce(sum(json_extract(context, '$.value_cents')), 0)
         FROM outbox WHERE kind = ?1 AND state = 'pending'",
        [EntryKind::OfflineRedemption.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let max = max.unwrap_or(i64::from(DEFAULT_OFFLINE_BUDGET));
    let max_value = max_value.unwrap_or(DEFAULT_OFFLINE_BUDGET_VALUE_CENTS as i64);
    Ok((
        (max - used - pending).max(0) as u32,
        (max_value - used_value - pending_value).max(0) as u64,
    ))
}

/// Records an offline redemption of a presentation the till found valid.
pub(crate) fn record(
    shared: &Shared,
    validation: Validation,
    presentation: &str,
    order_ref: &str,
    value_cents: u64,
) -> Result<QueuedRedemption, Error> {
    let (serial, activity_id) = match validation {
        Validation::Valid {
            serial, activity_id, ..
        } => (serial, activity_id),
        Validation::Refused { reason } => return Err(Error::CouponRefused { reason }),
    };
    let queued = shared.store().with(|c| {
        let tx = c.transaction()?;
        let (left, left_value) = budget_left(&tx)?;
        if left == 0 || value_cents > left_value {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO offline_state (singleton, counter) VALUES (1, 1)
             ON CONFLICT (singleton) DO UPDATE SET counter = counter + 1",
            [],
        )?;
        let counter: i64 = tx.query_row("SELECT counter FROM offline_state", [], |r| r.get(0))?;
        let now = unix_millis();
        tx.execute(
            "INSERT INTO redeemed_serials (serial, redeemed_at_ms) VALUES (?1, ?2) ON CONFLICT (serial) DO NOTHING",
            params![serial, now as i64],
        )?;
        let payload = OfflineRedemption {
            device_id: shared.identity().device_id().clone(),
            presentation: presentation.trim().to_owned(),
            order_ref: order_ref.to_owned(),
            value_cents,
            counter: counter as u64,
            redeemed_at_ms: now,
        };
        let envelope = shared.identity().sign(Purpose::OfflineRedemption, &payload);
        let (outbox_id, _) = outbox::enqueue(
            &tx,
            NewEntry {
                kind: EntryKind::OfflineRedemption,
                method: Method::POST,
                path: paths::device_offline_redemptions(shared.identity().device_id().as_str()),
                body: serde_json::to_vec(&envelope).expect("envelope serialises"),
                context: serde_json::json!({ "serial": serial, "value_cents": value_cents }),
                idempotency_key: None,
            },
        )?;
        tx.commit()?;
        Ok(Some(QueuedRedemption {
            serial: serial.clone(),
            activity_id: activity_id.clone(),
            counter: counter as u64,
            outbox_id,
            budget_left: left - 1,
            budget_left_value_cents: left_value - value_cents,
        }))
    })?;
    shared.outbox_wake().notify_one();
    queued.ok_or_else(|| Error::NotAllowed("this till's offline budget for today (count or value) is used up".into()))
}

/// The control plane refused an offline redemption for good (over budget,
/// revoked, expired): the coupon was not redeemed, so this till forgets
/// its mark (in the transaction that ends the entry).
pub(crate) fn refused(tx: &rusqlite::Transaction<'_>, context: &serde_json::Value) -> Result<(), StoreError> {
    if let Some(serial) = context["serial"].as_str() {
        tx.execute("DELETE FROM redeemed_serials WHERE serial = ?1", [serial])?;
    }
    Ok(())
}

/// Gives the app each conflict once, and remembers it was given.
fn announce(shared: &Shared, conflicts: Vec<RedemptionConflict>) -> Result<u32, StoreError> {
    let mut new = 0;
    for conflict in conflicts {
        let inserted = shared.store().with(|c| {
            Ok(c.execute(
                "INSERT INTO seen_conflicts (conflict_id) VALUES (?1) ON CONFLICT DO NOTHING",
                [&conflict.conflict_id],
            )?)
        })?;
        if inserted > 0 {
            new += 1;
            shared.events().emit(Event::RedemptionConflict { conflict });
        }
    }
    Ok(new)
}

/// Applies a settlement (outbox worker): a conflict is kept to be
/// announced once the transaction commits.
pub(crate) fn apply_settlement(tx: &rusqlite::Transaction<'_>, body: &[u8]) -> Result<Vec<Event>, Error> {
    let settlement: Settlement =
        serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("settlement: {e}")))?;
    match settlement {
        Settlement::Accepted { .. } => Ok(Vec::new()),
        Settlement::Conflict { conflict } => {
            let inserted = tx
                .execute(
                    "INSERT INTO seen_conflicts (conflict_id) VALUES (?1) ON CONFLICT DO NOTHING",
                    [&conflict.conflict_id],
                )
                .map_err(StoreError::from)?;
            Ok(if inserted > 0 {
                vec![Event::RedemptionConflict { conflict }]
            } else {
                Vec::new()
            })
        }
    }
}

/// Syncs the offline budget and the conflicts this till was part of
/// (announcing new ones); returns the conflicts that were new.
pub(crate) async fn sync(shared: &Shared) -> Result<u32, Error> {
    let device = shared.identity().device_id().to_string();
    let budget: OfflineBudget =
        crate::transport::signed_get(shared, paths::device_offline_budget(&device), Vec::new()).await?;
    shared.store().with(|c| {
        c.execute(
            "INSERT INTO offline_state (singleton, budget_max, budget_used, budget_max_value, budget_used_value)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (singleton) DO UPDATE SET budget_max = ?1, budget_used = ?2, budget_max_value = ?3,
                 budget_used_value = ?4",
            params![
                i64::from(budget.max_count),
                i64::from(budget.used),
                budget.max_value_cents as i64,
                budget.used_value_cents as i64
            ],
        )?;
        Ok(())
    })?;
    let conflicts: Vec<RedemptionConflict> =
        crate::transport::signed_get(shared, paths::device_redemption_conflicts(&device), Vec::new()).await?;
    Ok(announce(shared, conflicts)?)
}
