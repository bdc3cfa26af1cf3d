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

    /// Not allowed now by the user's policy (network, battery, charging).
    #[error("not allowed now: {0}")]
    NotAllowed(String),

    /// The user has not consented to serving (or revoked it): the node
    /// neither starts nor syncs.
    #[error("the user has not consented to serve")]
    NoConsent,

    /// Another open instance holds this data directory.
    #[error("data directory {} is in use by another open instance", .0.display())]
    DataDirectoryInUse(std::path::PathBuf),

    /// The SDK was opened outside a Tokio runtime; it needs one to run on.
    #[error("open the SDK from within a Tokio runtime")]
    NoRuntime,

    /// The HTTP client (TLS roots, proxy settings) could not be set up on
    /// this platform.
    #[error("cannot set up the HTTP client: {0}")]
    HttpClientSetup(String),

    /// No member is logged in on this device (never, or logged out).
    #[error("no member is logged in")]
    NotLoggedIn,

    /// The member's session expired or was ended on the server; member
    /// calls fail with this until the next login.
    #[error("the session of member {member_id} expired: log in again")]
    SessionExpired { member_id: String },

    /// A wrong member name or password (the control plane does not say
    /// which).
    #[error("wrong member name or password")]
    LoginFailed,

    /// Too many failed logins for this member lately: the control plane
    /// evaluates no attempt before `retry_after` has passed.
    #[error("too many failed logins: try again in {} s", .retry_after.as_secs())]
    TooManyAttempts { retry_after: std::time::Duration },

    /// The till refused a coupon presentation (offline check).
    #[error("coupon refused: {reason}")]
    CouponRefused {
        reason: edgepoints_protocol::coupons::Refusal,
    },

    /// The member's points do not cover the price; nothing changed.
    #[error("not enough points: the balance is {balance}, {needed} are needed")]
    NotEnoughPoints { balance: u64, needed: u64 },

    /// The coupon was redeemed, revoked or has expired: it cannot be given
    /// back.
    #[error("the coupon was used and cannot be given back")]
    CouponUsed,

    /// The member name is taken.
    #[error("that member name is taken")]
    MemberTaken,

    /// Another member holds or rents the car, or it is out of service.
    #[error("the vehicle is taken")]
    VehicleTaken,

    /// The member has a rental in progress already.
    #[error("the member has rental {rental_id} in progress")]
    AlreadyRenting { rental_id: String },

    /// The step is not possible in the rental's phase; nothing changed.
    #[error("cannot {action} a rental that is {phase}")]
    RentalState { phase: String, action: String },

    /// The control plane would not end the rental on the car's reading:
    /// `not_locked`, `doors_open`, `not_at_station` or `stale_reading`.
    #[error("the rental cannot end: {reason}")]
    EndRefused { reason: String },

    /// The car refused the command, with its reason.
    #[error("the vehicle refused: {reason}")]
    VehicleRefused {
        reason: edgepoints_protocol::rental::vehicle_check::VehicleRefusal,
    },

    /// The car could not be reached through the host's link, or its
    /// answer did not verify; a command in flight is settled later.
    #[error("the vehicle is unreachable: {0}")]
    VehicleUnreachable(String),

    /// The host set no link to cars (see `Rental::set_vehicle_link`).
    #[error("no vehicle link: the host must set one")]
    NoVehicleLink,

    /// The edge node was stopped; start a new one.
    #[error("the edge node is stopped")]
    NodeStopped,

    /// A task of the SDK ended abnormally: a bug, please report it.
    #[error("internal error: {0}")]
    Internal(String),

    /// Content did not match its hash or size; nothing of it was kept.
    #[error("content {hash} refused: {reason}")]
    ContentRejected { hash: String, reason: String },

    /// No source (node or origin) delivered the item intact now; `reason`
    /// lists what each one did.
    #[error("content {hash} could not be fetched: {reason}")]
    ContentUnavailable { hash: String, reason: String },

    /// The secret store (the host's keystore, or the database's table)
    /// failed; nothing changed. Safe to try again when it works.
    #[error("secret store failed: {0}")]
    SecretStore(String),

    /// The database says a secret exists that the secret store no longer
    /// has (e.g. the app's keystore entry was wiped). The SDK does not make
    /// a new one: for the device key that would be a new device, its points
    /// and coupons lost. To start over as a new device, erase the data
    /// directory; a lost member session needs a new login.
    #[error("{secret} is missing from the secret store")]
    SecretLost { secret: String },

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

/// An error and its causes on one line: "unreachable after 1 attempts:
/// status 503".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
