//! The outbox's rows: how entries are written, read, scheduled and ended
//! in SQLite. Every function takes the caller's connection or transaction,
//! so an entry and the local change it reports commit together.

use std::time::Duration;

use edgepoints_protocol::Problem;
use reqwest::Method;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::Value;

use super::{EntryKind, EntryState, NewEntry, OutboxEntry, OutboxStatus};
use crate::identity::new_idempotency_key;
use crate::time::unix_millis;
use crate::transport::Outgoing;
use crate::StoreError;

/// A pending entry with what it takes to send it.
#[derive(Debug, Clone)]
pub(crate) struct Sendable {
    pub entry: OutboxEntry,
    pub kind: EntryKind,
    pub request: Outgoing,
    pub context: Value,
}

const COLUMNS: &str = "id, stream, kind, idempotency_key, state, attempts, next_attempt_at_ms, last_error, \
                       created_at_ms, finished_at_ms, method, path, body, context";

fn read_entry(row: &Row<'_>) -> rusqlite::Result<(OutboxEntry, String, String, Vec<u8>, String)> {
    let state: String = row.get(4)?;
    Ok((
        OutboxEntry {
            id: row.get(0)?,
            stream: row.get(1)?,
            kind: row.get(2)?,
            idempotency_key: row.get(3)?,
            state: EntryState::parse(&state).unwrap_or(EntryState::Failed),
            attempts: row.get(5)?,
            next_attempt_at_ms: row.get::<_, i64>(6)? as u64,
            last_error: row.get(7)?,
            created_at_ms: row.get::<_, i64>(8)? as u64,
            finished_at_ms: row.get::<_, Option<i64>>(9)?.map(|v| v as u64),
        },
        row.get(10)?,
        row.get(11)?,
        row.get(12)?,
        row.get(13)?,
    ))
}

fn sendable(raw: (OutboxEntry, String, String, Vec<u8>, String)) -> Result<Sendable, StoreError> {
    let (entry, method, path, body, context) = raw;
    let kind = EntryKind::parse(&entry.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox entry {} has unknown kind {}", entry.id, entry.kind)))?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| StoreError::Corrupt(format!("outbox entry {} has method {method}", entry.id)))?;
    let context = serde_json::from_str(&context).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Sendable {
        request: Outgoing {
            method,
            path,
            body: Some(body),
            idempotency_key: Some(entry.idempotency_key.clone()),
            headers: Vec::new(),
        },
        entry,
        kind,
        context,
    })
}

/// Queues a signed `POST` that needs nothing else written with it (a
/// report, a receipt): in one transaction after the device's registration,
/// then wakes the worker.
pub(crate) fn queue_signed_post(
    shared: &crate::shared::Shared,
    kind: EntryKind,
    path: String,
    envelope: &edgepoints_protocol::SignedEnvelope,
    context: Value,
) -> Result<i64, StoreError> {
    let id = shared.store().with(|c| {
        let tx = c.transaction()?;
        crate::registration::ensure_queued(shared, &tx)?;
        let (id, _) = enqueue(
            &tx,
            NewEntry {
                kind,
                method: Method::POST,
                path,
                body: serde_json::to_vec(envelope).expect("envelope serialises"),
                context,
                idempotency_key: None,
            },
        )?;
        tx.commit()?;
        Ok(id)
    })?;
    shared.outbox_wake().notify_one();
    Ok(id)
}

/// Writes an entry inside the caller's transaction; returns its id and key.
pub(crate) fn enqueue(tx: &Transaction<'_>, entry: NewEntry) -> Result<(i64, String), StoreError> {
    let key = match entry.idempotency_key {
        Some(key) => key,
        None => new_idempotency_key()?,
    };
    let now = unix_millis() as i64;
    tx.execute(
        "INSERT INTO outbox (stream, kind, method, path, body, context, idempotency_key, state,
                             next_attempt_at_ms, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)",
        params![
            entry.kind.stream(),
            entry.kind.as_str(),
            entry.method.as_str(),
            entry.path,
            entry.body,
            entry.context.to_string(),
            key,
            now
        ],
    )?;
    Ok((tx.last_insert_rowid(), key))
}

/// The pending entry of `kind` that is furthest along, if any.
pub(crate) fn pending_of_kind(connection: &Connection, kind: EntryKind) -> Result<Option<i64>, StoreError> {
    Ok(connection
        .query_row(
            "SELECT id FROM outbox WHERE kind = ?1 AND state = 'pending' ORDER BY id LIMIT 1",
            [kind.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

/// The first pending entry of every stream: what may be sent now.
pub(crate) fn stream_heads(connection: &Connection) -> Result<Vec<Sendable>, StoreError> {
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox
         WHERE id IN (SELECT min(id) FROM outbox WHERE state = 'pending' GROUP BY stream)"
    ))?;
    let rows = statement.query_map([], read_entry)?;
    let mut heads = Vec::new();
    for raw in rows {
        heads.push(sendable(raw?)?);
    }
    Ok(heads)
}

/// Counts a transient failure and schedules the next attempt.
pub(crate) fn record_transient(
    connection: &Connection,
    id: i64,
    error: &str,
    next_attempt_at_ms: u64,
) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at_ms = ?3
         WHERE id = ?1 AND state = 'pending'",
        params![id, error, next_attempt_at_ms as i64],
    )?;
    Ok(())
}

/// Moves the next attempt without counting one (budget, still running).
pub(crate) fn defer(connection: &Connection, id: i64, reason: &str, next_attempt_at_ms: u64) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE outbox SET last_error = ?2, next_attempt_at_ms = ?3 WHERE id = ?1 AND state = 'pending'",
        params![id, reason, next_attempt_at_ms as i64],
    )?;
    Ok(())
}

/// Marks an entry done with its answer; false if it was not pending.
pub(crate) fn mark_done(tx: &Transaction<'_>, id: i64, status: u16, body: &[u8]) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE outbox SET state = 'done', attempts = attempts + 1, response_status = ?2, response_body = ?3,
                finished_at_ms = ?4, last_error = NULL
         WHERE id = ?1 AND state = 'pending'",
        params![id, status, body, unix_millis() as i64],
    )? == 1)
}

/// Ends an entry that can never succeed.
pub(crate) fn mark_failed(tx: &Transaction<'_>, id: i64, status: u16, problem: &Problem) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, response_status = ?2, problem_json = ?3,
                last_error = ?4, finished_at_ms = ?5
         WHERE id = ?1 AND state = 'pending'",
        params![
            id,
            status,
            serde_json::to_string(problem).expect("problem serialises"),
            problem.to_string(),
            unix_millis() as i64
        ],
    )? == 1)
}

/// Makes every pending entry due now (the network came back, or the app asked).
pub(crate) fn make_due_now(connection: &Connection) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE outbox SET next_attempt_at_ms = min(next_attempt_at_ms, ?1) WHERE state = 'pending'",
        [unix_millis() as i64],
    )?;
    Ok(())
}

/// Drops finished entries older than `age`, keeping the table small.
pub(crate) fn prune(connection: &Connection, age: Duration) -> Result<usize, StoreError> {
    let before = unix_millis().saturating_sub(age.as_millis() as u64) as i64;
    Ok(connection.execute(
        "DELETE FROM outbox WHERE state = 'done' AND finished_at_ms < ?1",
        [before],
    )?)
}

pub(super) fn status(connection: &Connection) -> Result<OutboxStatus, StoreError> {
    let mut status = OutboxStatus::default();
    let mut statement = connection.prepare("SELECT state, count(*), min(created_at_ms) FROM outbox GROUP BY state")?;
    let rows = statement.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
    })?;
    let now = unix_millis();
    for row in rows {
        let (state, count, oldest) = row?;
        match EntryState::parse(&state)? {
            EntryState::Pending => {
                status.pending = count as u64;
                status.oldest_pending_age_ms = oldest.map(|t| now.saturating_sub(t as u64));
            }
            EntryState::Done => status.done = count as u64,
            EntryState::Failed => status.failed = count as u64,
        }
    }
    status.last_error = connection
        .query_row(
            "SELECT last_error FROM outbox WHERE state != 'done' AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(status)
}

/// The newest `limit` entries, newest first.
pub(super) fn newest(connection: &Connection, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut statement = connection.prepare(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"))?;
    let rows = statement.query_map([limit], read_entry)?;
    let mut entries = Vec::new();
    for raw in rows {
        entries.push(raw?.0);
    }
    Ok(entries)
}
