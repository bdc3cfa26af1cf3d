//! The outbox: every mutating call the SDK accepts is first written here,
//! in the same SQLite transaction as the local change it reports, and then
//! sent by a worker ([`worker`]) until the control plane has answered it.
//!
//! - An entry is sent with the idempotency key chosen when it was written,
//!   on every attempt, across restarts: the control plane applies it once.
//! - A lost answer (timeout, dropped connection, killed app) is never taken
//!   for a failure: the entry is sent again, or after a restart its status is
//!   asked first, until the stored result comes back.
//! - Entries of one stream go in order; an entry that can never succeed
//!   (a 4xx other than 408/409/429) ends as `failed` with its problem and an
//!   event, and the entries behind it go on.
//! - When the control plane answers, the entry's local effect (say, "the
//!   consent of revision 3 is reported") is applied in the same transaction
//!   that marks it done.

pub(crate) mod worker;

use std::time::Duration;

use edgepoints_protocol::Problem;
use reqwest::Method;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::Value;

use crate::edgepoints::EdgePoints;
use crate::identity::new_idempotency_key;
use crate::time::unix_millis;
use crate::transport::Outgoing;
use crate::{Error, StoreError, TransportFailure};

/// What an entry does; decides how its answer is applied locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Registration,
    ConsentReport,
    NodeAnnouncement,
    HashFailureReport,
    Receipt,
}

impl EntryKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EntryKind::Registration => "device.register",
            EntryKind::ConsentReport => "device.consent",
            EntryKind::NodeAnnouncement => "device.node",
            EntryKind::HashFailureReport => "device.hash-failure",
            EntryKind::Receipt => "device.receipt",
        }
    }

    /// Entries of one stream are sent in order. The device's own calls
    /// share one: its registration goes before its consent reports and node
    /// announcements, and the control plane sees them in the order made.
    pub(crate) fn stream(self) -> &'static str {
        match self {
            EntryKind::Registration
            | EntryKind::ConsentReport
            | EntryKind::NodeAnnouncement
            | EntryKind::HashFailureReport
            | EntryKind::Receipt => DEVICE_STREAM,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "device.register" => Some(EntryKind::Registration),
            "device.consent" => Some(EntryKind::ConsentReport),
            "device.node" => Some(EntryKind::NodeAnnouncement),
            "device.hash-failure" => Some(EntryKind::HashFailureReport),
            "device.receipt" => Some(EntryKind::Receipt),
            _ => None,
        }
    }
}

/// The stream of the device's own calls: registration before consent.
pub(crate) const DEVICE_STREAM: &str = "device";

/// A call to write to the outbox.
pub(crate) struct NewEntry {
    pub kind: EntryKind,
    pub method: Method,
    pub path: String,
    pub body: Vec<u8>,
    /// What the local side needs when the answer comes (e.g. the revision).
    pub context: Value,
    /// The key, when the caller chose and stored it already.
    pub idempotency_key: Option<String>,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    Pending,
    Done,
    Failed,
}

impl EntryState {
    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(EntryState::Pending),
            "done" => Ok(EntryState::Done),
            "failed" => Ok(EntryState::Failed),
            other => Err(StoreError::Corrupt(format!("outbox state `{other}`"))),
        }
    }
}

/// One entry, as the app can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub stream: String,
    pub kind: String,
    pub idempotency_key: String,
    pub state: EntryState,
    /// Attempts made: sent, or held back by the retry budget.
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
    pub last_error: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: Option<u64>,
}

/// The outbox at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxStatus {
    pub pending: u64,
    pub failed: u64,
    pub done: u64,
    /// Age of the oldest pending entry.
    pub oldest_pending_age_ms: Option<u64>,
    /// The last error of any pending or failed entry, newest first.
    pub last_error: Option<String>,
}

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
    shared: &crate::edgepoints::Shared,
    kind: EntryKind,
    path: String,
    envelope: &edgepoints_protocol::SignedEnvelope,
    context: Value,
) -> Result<i64, StoreError> {
    let id = shared.store.with(|c| {
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
    shared.outbox_wake.notify_one();
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

fn status(connection: &Connection) -> Result<OutboxStatus, StoreError> {
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

/// Waits for entry `id` as a direct call would: until it is done (the
/// answer's body),
/// failed for good ([`Error::Rejected`]), or has failed transiently as many
/// times as the retry policy allows ([`Error::Unavailable`]; the entry stays
/// pending and the worker goes on with it).
pub(crate) async fn wait(sdk: &EdgePoints, id: i64) -> Result<Vec<u8>, Error> {
    let shared = sdk.shared();
    let mut changes = shared.outbox_changed.subscribe();
    let max_attempts = shared.transport.retry_policy().max_attempts;
    // Someone waits: whatever stands before the entry in its stream, and the
    // entry itself, go now rather than at their scheduled time.
    shared.store.with(|c| {
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
    shared.outbox_wake.notify_one();
    loop {
        shared.ensure_open()?;
        let row = shared.store.with(|c| {
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
            .announcing
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
            () = sdk.stopped() => return Err(Error::ShutDown),
        }
    }
}

/// Attempts made so far on entry `id` and the entries before it in its stream.
fn attempts_up_to(shared: &crate::edgepoints::Shared, id: i64) -> Result<u32, StoreError> {
    shared.store.with(|c| {
        Ok(c.query_row(
            "SELECT coalesce(sum(attempts), 0) FROM outbox
             WHERE stream = (SELECT stream FROM outbox WHERE id = ?1) AND id <= ?1",
            [id],
            |r| r.get(0),
        )?)
    })
}

/// The newest error on the way to entry `id`.
fn stream_error(shared: &crate::edgepoints::Shared, id: i64) -> Result<Option<String>, StoreError> {
    shared.store.with(|c| {
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

/// The outbox as the app sees it. Obtained from [`EdgePoints::outbox`].
#[derive(Clone)]
pub struct Outbox {
    sdk: EdgePoints,
}

impl Outbox {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Outbox { sdk }
    }

    pub fn status(&self) -> Result<OutboxStatus, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(self.sdk.shared().store.with(|c| status(c))?)
    }

    /// The newest `limit` entries, newest first.
    pub fn entries(&self, limit: u32) -> Result<Vec<OutboxEntry>, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(self.sdk.shared().store.with(|c| {
            let mut statement = c.prepare(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"))?;
            let rows = statement.query_map([limit], read_entry)?;
            let mut entries = Vec::new();
            for raw in rows {
                entries.push(raw?.0);
            }
            Ok(entries)
        })?)
    }

    /// Sends every pending entry now instead of at its scheduled time.
    pub fn retry_now(&self) -> Result<(), Error> {
        self.sdk.shared().ensure_open()?;
        self.sdk.shared().store.with(|c| make_due_now(c))?;
        self.sdk.shared().outbox_wake.notify_one();
        Ok(())
    }

    /// Sends now and waits until nothing is pending or `timeout` passes;
    /// returns the status then (pending may be above 0 after a timeout).
    pub async fn drain(&self, timeout: Duration) -> Result<OutboxStatus, Error> {
        let mut changes = self.sdk.shared().outbox_changed.subscribe();
        self.retry_now()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status()?;
            let announcing = !self
                .sdk
                .shared()
                .announcing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty();
            if status.pending == 0 && !announcing {
                return Ok(status);
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(Error::ShutDown);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return self.status(),
                () = self.sdk.stopped() => return Err(Error::ShutDown),
            }
        }
    }
}
