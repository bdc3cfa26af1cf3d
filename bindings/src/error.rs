//! The public error, and the one place core errors are mapped to it.

use edgepoints_core::Error as CoreError;

use crate::number::Signed;

/// What a Kotlin or Swift caller can catch: one sealed hierarchy, a
/// subclass (Swift: a case) per kind, with the fields an app acts on and a
/// readable message (Kotlin `message` and `toString()`, Swift
/// `description`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum EdgePointsError {
    /// The arguments were refused; nothing changed.
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// The control plane could not be reached; safe to try again.
    #[error("control plane unavailable: {reason}")]
    Unavailable { reason: String },
    /// The control plane refused the call; `code` is machine-readable.
    #[error("refused by the control plane ({status} {code}): {reason}")]
    Rejected { status: i32, code: String, reason: String },
    /// Not allowed now by the user's policy (network, battery, charging).
    #[error("not allowed now: {reason}")]
    NotAllowed { reason: String },
    /// The user has not consented to serving (or revoked it).
    #[error("the user has not consented to serve")]
    NoConsent,
    /// Another open instance holds this data directory; shut it down first.
    #[error("data directory {path} is in use by another open instance")]
    DataDirectoryInUse { path: String },
    /// The edge node was stopped; start a new one.
    #[error("the edge node is stopped")]
    NodeStopped,
    /// The member's points do not cover the price; nothing changed.
    #[error("not enough points: the balance is {balance}, {needed} are needed")]
    NotEnoughPoints { balance: i64, needed: i64 },
    /// The coupon was used and cannot be given back.
    #[error("the coupon was used and cannot be given back")]
    CouponUsed,
    /// No member is logged in on this device.
    #[error("no member is logged in")]
    NotLoggedIn,
    /// The member's session expired or was ended: log in again.
    #[error("the session of member {member_id} expired: log in again")]
    SessionExpired { member_id: String },
    /// A wrong member name or password (the control plane does not say which).
    #[error("wrong member name or password")]
    LoginFailed,
    /// Too many failed logins lately: wait this many seconds.
    #[error("too many failed logins: try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: i64 },
    /// The member name is taken.
    #[error("that member name is taken")]
    MemberTaken,
    /// The till refused a coupon presentation (its offline check).
    #[error("coupon refused: {reason:?}")]
    CouponRefused { reason: crate::coupons::CouponRefusal },
    /// Another member holds or rents the car (or it is out of service).
    #[error("the vehicle is taken")]
    VehicleTaken,
    /// The member has a rental in progress already.
    #[error("rental {rental_id} is in progress")]
    AlreadyRenting { rental_id: String },
    /// Not possible in the rental's phase; nothing changed.
    #[error("cannot {action} a rental that is {phase}")]
    RentalState { phase: String, action: String },
    /// The rental cannot end on the car's reading (`not_locked`,
    /// `doors_open`, `not_at_station`, `stale_reading`).
    #[error("the rental cannot end: {reason}")]
    EndRefused { reason: String },
    /// The car refused the command.
    #[error("the vehicle refused: {reason:?}")]
    VehicleRefused { reason: crate::rental::VehicleRefusal },
    /// The car could not be reached, or its answer did not verify.
    #[error("the vehicle is unreachable: {reason}")]
    VehicleUnreachable { reason: String },
    /// The host set no vehicle link.
    #[error("no vehicle link: set one with Rental.setVehicleLink")]
    NoVehicleLink,
    /// Content did not match its hash or size; nothing of it was kept.
    #[error("content refused: {reason}")]
    ContentRejected { hash: String, reason: String },
    /// No source delivered the item intact now; safe to try again later.
    #[error("content unavailable: {reason}")]
    ContentUnavailable { hash: String, reason: String },
    /// The secret store (the app's keystore, or the SDK's database) failed;
    /// nothing changed. Try again when it works (e.g. after the user
    /// unlocked the phone).
    #[error("secret store failed: {reason}")]
    SecretStore { reason: String },
    /// A secret the SDK had is gone from the secret store (e.g. the
    /// keystore was wiped). For the device key the SDK does not make a new
    /// one: that would be a new device, its points and coupons lost; erase
    /// the data directory to start over as a new device. For the member
    /// session, log out and in again.
    #[error("{secret} is missing from the secret store")]
    SecretLost { secret: String },
    /// The local database or data directory failed.
    #[error("storage failure: {reason}")]
    Storage { reason: String },
    /// The instance was shut down.
    #[error("the SDK instance was shut down")]
    ShutDown,
    /// A bug or an answer the SDK cannot read; please report it.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<CoreError> for EdgePointsError {
    fn from(error: CoreError) -> Self {
        // Logged once here, so every failed call leaves a trace in the host's
        // log whatever the app does with the exception.
        tracing::debug!(%error, "call failed");
        match error {
            CoreError::InvalidInput(reason) => EdgePointsError::InvalidInput { reason },
            CoreError::ShutDown => EdgePointsError::ShutDown,
            CoreError::Rejected { status, problem } => EdgePointsError::Rejected {
                status: status.signed(),
                code: serde_code(&problem),
                reason: problem.detail.clone().unwrap_or_else(|| problem.title.clone()),
            },
            error @ CoreError::Unavailable { .. } => EdgePointsError::Unavailable {
                reason: edgepoints_core::error_chain(&error),
            },
            CoreError::Protocol(reason) => EdgePointsError::Internal { reason },
            CoreError::NotAllowed(reason) => EdgePointsError::NotAllowed { reason },
            CoreError::NoConsent => EdgePointsError::NoConsent,
            CoreError::DataDirectoryInUse(path) => EdgePointsError::DataDirectoryInUse {
                path: path.display().to_string(),
            },
            CoreError::NodeStopped => EdgePointsError::NodeStopped,
            CoreError::NotLoggedIn => EdgePointsError::NotLoggedIn,
            CoreError::SessionExpired { member_id } => EdgePointsError::SessionExpired { member_id },
            CoreError::LoginFailed => EdgePointsError::LoginFailed,
            CoreError::TooManyAttempts { retry_after } => EdgePointsError::TooManyAttempts {
                // Rounded up: "0 s" would invite an attempt that fails again.
                retry_after_secs: retry_after.as_millis().div_ceil(1000).min(i64::MAX as u128) as i64,
            },
            CoreError::MemberTaken => EdgePointsError::MemberTaken,
            CoreError::CouponRefused { reason } => EdgePointsError::CouponRefused { reason: reason.into() },
            CoreError::NotEnoughPoints { balance, needed } => EdgePointsError::NotEnoughPoints {
                balance: balance.signed(),
                needed: needed.signed(),
            },
            CoreError::CouponUsed => EdgePointsError::CouponUsed,
            CoreError::VehicleTaken => EdgePointsError::VehicleTaken,
            CoreError::AlreadyRenting { rental_id } => EdgePointsError::AlreadyRenting { rental_id },
            CoreError::RentalState { phase, action } => EdgePointsError::RentalState { phase, action },
            CoreError::EndRefused { reason } => EdgePointsError::EndRefused { reason },
            CoreError::VehicleRefused { reason } => EdgePointsError::VehicleRefused { reason: reason.into() },
            CoreError::VehicleUnreachable(reason) => EdgePointsError::VehicleUnreachable { reason },
            CoreError::NoVehicleLink => EdgePointsError::NoVehicleLink,
            // A host without a runtime is the bindings' own bug, as is a
            // client the platform cannot set up: both are reported, not caught.
            error @ (CoreError::NoRuntime | CoreError::HttpClientSetup(_)) => EdgePointsError::Internal {
                reason: error.to_string(),
            },
            CoreError::Internal(reason) => EdgePointsError::Internal { reason },
            CoreError::ContentRejected { hash, reason } => EdgePointsError::ContentRejected { hash, reason },
            CoreError::ContentUnavailable { hash, reason } => EdgePointsError::ContentUnavailable { hash, reason },
            CoreError::SecretStore(reason) => EdgePointsError::SecretStore { reason },
            CoreError::SecretLost { secret } => EdgePointsError::SecretLost { secret },
            CoreError::Store(store) => EdgePointsError::Storage {
                reason: store.to_string(),
            },
        }
    }
}

fn serde_code(problem: &edgepoints_core::Problem) -> String {
    problem.code.as_str().to_owned()
}
