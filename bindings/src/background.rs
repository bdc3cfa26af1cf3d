//! A bounded background run, as Kotlin and Swift see it.

use edgepoints_core as core;

use crate::node::SyncReport;
use crate::outbox::OutboxStatus;

/// What one `runPending` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackgroundRun {
    /// The outbox when the run ended (`pending` above 0: calls still wait).
    pub outbox: OutboxStatus,
    /// Pushed notices the member heartbeat brought (each also an event).
    pub notices: i32,
    /// The manifest sync, if it ran and finished.
    pub sync: Option<SyncReport>,
    /// Why there was no sync (no consent, not allowed now, out of time, or
    /// how it failed).
    pub sync_skipped: Option<String>,
    /// Whether everything was done in the time given.
    pub finished: bool,
}

impl From<core::BackgroundRun> for BackgroundRun {
    fn from(run: core::BackgroundRun) -> Self {
        BackgroundRun {
            outbox: run.outbox.into(),
            notices: i32::try_from(run.notices).unwrap_or(i32::MAX),
            sync: run.sync.map(Into::into),
            sync_skipped: run.sync_skipped,
            finished: run.finished,
        }
    }
}
