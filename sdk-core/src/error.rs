//! The SDK's internal error: rich, with sources. The bindings map it to a
//! small public error in one place.

use edgepoints_protocol::Problem;

/// Everything that can go wrong in an SDK call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller passed something the SDK will not accept; nothing changed.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The handle was shut down; open a new one.
    #[error("the SDK has been shut down")]
    ShutDown,

    /// The control plane answered with a final refusal (a 4xx other than
    /// 408/429, or a 409 that is not a retry-later).
    #[error("control plane refused the request ({status}): {problem}")]
    Rejected { status: u16, problem: Problem },

    /// Every attempt failed transiently (connect error, timeout, 5xx, 429).
    /// The call may or may not have reached the server; retrying with the
    /// same idempotency key is safe.
    #[error("control plane unreachable after {attempts} attempts")]
    Unavailable {
        attempts: u32,
        /// What the control plane asked for, if it said when to come back.
        retry_after: Option<std::time::Duration>,
        #[source]
        last: TransportFailure,
    },

    /// The control plane answered something this SDK cannot read.
    #[error("unexpected answer from the control plane: {0}")]
    Protocol(String),

    /// Not allowed now by the user's policy (network, battery, consent).
    #[error("not allowed now: {0}")]
    NotAllowed(String),

    /// Content did not match its hash or size; nothing of it was kept.
    #[error("content {hash} refused: {reason}")]
    ContentRejected { hash: String, reason: String },

    /// No source (node or origin) delivered the item intact now; `reason`
    /// lists what each one did.
    #[error("content {hash} could not be fetched: {reason}")]
    ContentUnavailable { hash: String, reason: String },

    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Whether trying the same call again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::ContentUnavailable { .. })
    }
}

/// Why one attempt at a request failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportFailure {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("status {status}")]
    Status { status: u16, problem: Option<Problem> },
    #[error("{}", RETRY_BUDGET_EXHAUSTED)]
    RetryBudgetExhausted,
    /// The answer was lost; the stored outbox entry recorded only this text.
    #[error("{0}")]
    Recorded(String),
}

/// How a refusal by the retry budget reads (also as stored in the outbox).
pub(crate) const RETRY_BUDGET_EXHAUSTED: &str = "retry budget exhausted: too many retries lately";

/// Failures of the local SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot use the data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database has schema version {found}, newer than this SDK's {supported}; refusing to touch it")]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
