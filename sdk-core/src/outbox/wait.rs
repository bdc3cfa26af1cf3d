//! Waiting for one entry as a direct call would, while the worker sends it.

use edgepoints_protocol::Problem;
use rusqlite::{params, OptionalExtension};

use super::EntryState;

use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{Error, StoreError, TransportFailure};

/// Waits for entry `id` as a direct call would: until it is done (the
/// answer's body),
/// failed for good ([`Error::Rejected`]), or has failed transiently as many
/// times as the retry policy allows ([`Error::Unavailable`]; the entry stays
/// pending and the worker goes on with it).
pub(crate) async fn wait(shared: &Shared, id: i64) -> Result<Vec<u8>, Error> {
    let mut changes = shared.outbox_changed().subscribe();
    let max_attempts = shared.transport().retry_policy().max_attempts;
    // Someone waits: whatever stands before the entry in its stream, and the
    // entry itself, go now rather than at their scheduled time.
    shared.store().with(|c| {
        c.execute(
            "UPDATE outbox SET next_attempt_at_ms = min(next_attempt_at_ms, ?2)
             WHERE state = 'pending' AND stream = (SELECT stream FROM outbox WHERE id = ?1) AND id <= ?1",
            params![id, unix_millis() as i64],
        )?;
        Ok(())
    })?;
    // Attempts count on the whole way to the entry: an entry stuck behind
    // a failing one in its stream fails as a direct call would.
    let attempts_before = attempts_up_to(shared, id)?;
    shared.outbox_wake().notify_one();
    loop {
        shared.ensure_open()?;
        let row = shared.store().with(|c| {
            Ok(c.query_row(
                "SELECT state, attempts, last_error, response_body, response_status, problem_json
                 FROM outbox WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                        r.get::<_, Option<u16>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?)
        })?;
        let Some((state, _, last_error, body, status, problem)) = row else {
            return Err(Error::Protocol(format!("outbox entry {id} vanished")));
        };
        let announced = !shared
            .announcing()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id);
        match EntryState::parse(&state)? {
            EntryState::Done | EntryState::Failed if !announced => {}
            EntryState::Done => return Ok(body.unwrap_or_default()),
            EntryState::Failed => {
                let status = status.unwrap_or(400);
                let problem = problem
                    .and_then(|p| serde_json::from_str::<Problem>(&p).ok())
                    .unwrap_or_else(|| {
                        Problem::new(status, edgepoints_protocol::ProblemCode::Unknown, "refused")
                            .with_detail(last_error.clone().unwrap_or_default())
                    });
                return Err(Error::Rejected { status, problem });
            }
            EntryState::Pending => {
                let last_error = last_error.or(stream_error(shared, id)?);
                // The budget said no: the caller hears it now rather than
                // after waiting out the budget's pauses.
                let budget_refused = last_error
                    .as_deref()
                    .is_some_and(|e| e == crate::error::RETRY_BUDGET_EXHAUSTED);
                let made = attempts_up_to(shared, id)?.saturating_sub(attempts_before);
                if made >= max_attempts || (budget_refused && made >= 1) {
                    return Err(Error::Unavailable {
                        attempts: made,
                        retry_after: None,
                        last: TransportFailure::Recorded(last_error.unwrap_or_else(|| "no answer".into())),
                    });
                }
            }
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Err(Error::ShutDown);
                }
            }
            () = shared.stopped() => return Err(Error::ShutDown),
        }
    }
}

/// Attempts made so far on entry `id` and the entries before it in its stream.
fn attempts_up_to(shared: &Shared, id: i64) -> Result<u32, StoreError> {
    shared.store().with(|c| {
        Ok(c.query_row(
            "SELECT coalesce(sum(attempts), 0) FROM outbox
             WHERE stream = (SELECT stream FROM outbox WHERE id = ?1) AND id <= ?1",
            [id],
            |r| r.get(0),
        )?)
    })
}

/// The newest error on the way to entry `id`.
fn stream_error(shared: &Shared, id: i64) -> Result<Option<String>, StoreError> {
    shared.store().with(|c| {
        Ok(c.query_row(
            "SELECT last_error FROM outbox
             WHERE stream = (SELECT stream FROM outbox WHERE id = ?1) AND id <= ?1 AND state = 'pending'
               AND last_error IS NOT NULL
             ORDER BY id LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
    })
}
