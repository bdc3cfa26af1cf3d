//! The outbox as Kotlin and Swift see it.

use std::time::Duration;

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::EdgePointsError;

/// Where one outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OutboxEntryState {
    /// Waiting to be sent, or sent and not yet answered.
    Pending,
    /// Answered by the control plane; applied once.
    Done,
    /// Refused for good by the control plane; `last_error` says why.
    Failed,
}

impl From<core::EntryState> for OutboxEntryState {
    fn from(state: core::EntryState) -> Self {
        match state {
            core::EntryState::Pending => OutboxEntryState::Pending,
            core::EntryState::Done => OutboxEntryState::Done,
            core::EntryState::Failed => OutboxEntryState::Failed,
        }
    }
}

/// One mutating call on its way to the control plane.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxEntry {
    pub id: i64,
    pub stream: String,
    pub kind: String,
    pub idempotency_key: String,
    pub state: OutboxEntryState,
    pub attempts: i32,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

impl From<core::OutboxEntry> for OutboxEntry {
    fn from(e: core::OutboxEntry) -> Self {
        OutboxEntry {
            id: e.id,
            stream: e.stream,
            kind: e.kind,
            idempotency_key: e.idempotency_key,
            state: e.state.into(),
            attempts: e.attempts.signed(),
            next_attempt_at_ms: e.next_attempt_at_ms.signed(),
            last_error: e.last_error,
            created_at_ms: e.created_at_ms.signed(),
            finished_at_ms: e.finished_at_ms.signed(),
        }
    }
}

/// The outbox at a glance: show "3 changes waiting to sync" from this.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxStatus {
    pub pending: i64,
    pub failed: i64,
    pub done: i64,
    pub oldest_pending_age_ms: Option<i64>,
    pub last_error: Option<String>,
}

impl From<core::OutboxStatus> for OutboxStatus {
    fn from(s: core::OutboxStatus) -> Self {
        OutboxStatus {
            pending: s.pending.signed(),
            failed: s.failed.signed(),
            done: s.done.signed(),
            oldest_pending_age_ms: s.oldest_pending_age_ms.signed(),
            last_error: s.last_error,
        }
    }
}

/// Every mutating call, durable until the control plane has answered it.
#[derive(uniffi::Object)]
pub struct Outbox {
    inner: core::Outbox,
}

impl Outbox {
    pub(crate) fn new(inner: core::Outbox) -> Self {
        Outbox { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Outbox {
    /// Counts of pending, failed and done entries, and the oldest pending one's age.
    pub fn status(&self) -> Result<OutboxStatus, EdgePointsError> {
        Ok(self.inner.status()?.into())
    }

    /// The newest `limit` entries, newest first.
    pub fn entries(&self, limit: i32) -> Result<Vec<OutboxEntry>, EdgePointsError> {
        Ok(self
            .inner
            .entries(unsigned("limit", limit)?)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sends every waiting entry now (e.g. on a "sync now" button).
    pub fn retry_now(&self) -> Result<(), EdgePointsError> {
        Ok(self.inner.retry_now()?)
    }

    /// Sends now and waits until nothing is pending or `timeout_ms` passes.
    pub async fn drain(&self, timeout_ms: i64) -> Result<OutboxStatus, EdgePointsError> {
        Ok(self
            .inner
            .drain(Duration::from_millis(unsigned("timeout_ms", timeout_ms)?))
            .await?
            .into())
    }
}
