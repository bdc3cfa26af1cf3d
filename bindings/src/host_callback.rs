//! What a throwing host callback becomes, and how often it happened.

use edgepoints_core as core;

use crate::number::Signed;

/// An error a listener or logger may throw. Anything else it throws is
/// taken as this too; either way the SDK counts it and carries on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HostCallbackError {
    /// The callback failed; `reason` says why.
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HostCallbackError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HostCallbackError::Failed { reason: error.reason }
    }
}

impl From<HostCallbackError> for core::HostCallbackError {
    fn from(error: HostCallbackError) -> Self {
        core::HostCallbackError::new(error.to_string())
    }
}

/// How often each host callback failed since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct HostCallbackFailures {
    pub event_listener: i64,
    pub logger: i64,
}

impl From<core::HostCallbackFailures> for HostCallbackFailures {
    fn from(failures: core::HostCallbackFailures) -> Self {
        HostCallbackFailures {
            event_listener: failures.event_listener.signed(),
            logger: failures.logger.signed(),
        }
    }
}

/// How often the app's listener and logger failed (threw) so far; the SDK
/// reports the first failure of each in the log and only counts the rest.
#[uniffi::export]
pub fn host_callback_failures() -> HostCallbackFailures {
    core::host_callback_failures().into()
}
