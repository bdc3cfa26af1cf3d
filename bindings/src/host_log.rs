//! The host's logger (Logcat on Android, OSLog on iOS, anything on the JVM)
//! as a foreign trait; the forwarding itself is the core's.

use std::sync::Arc;

use edgepoints_core as core;

use crate::host_callback::HostCallbackError;

/// How loud a log line is; the logger gets lines at or above the level set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is off, the SDK carries on.
    Warn,
    /// A milestone (node started, consent granted).
    Info,
    /// Detail for developers.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for core::LogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => core::LogLevel::Error,
            LogLevel::Warn => core::LogLevel::Warn,
            LogLevel::Info => core::LogLevel::Info,
            LogLevel::Debug => core::LogLevel::Debug,
            LogLevel::Trace => core::LogLevel::Trace,
        }
    }
}

impl From<core::LogLevel> for LogLevel {
    fn from(level: core::LogLevel) -> Self {
        match level {
            core::LogLevel::Error => LogLevel::Error,
            core::LogLevel::Warn => LogLevel::Warn,
            core::LogLevel::Info => LogLevel::Info,
            core::LogLevel::Debug => LogLevel::Debug,
            core::LogLevel::Trace => LogLevel::Trace,
        }
    }
}

/// Implemented by the app: receives every SDK log line at or above the level
/// given to [`set_logger`]. Called on SDK threads; must not block. If it
/// throws, the line is dropped and the failure counted.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// Receives one line: its level, the SDK module it came from, the text.
    fn log(&self, level: LogLevel, target: String, message: String) -> Result<(), HostCallbackError>;
}

struct LoggerBridge(Arc<dyn Logger>);

impl core::HostLogger for LoggerBridge {
    fn log(&self, level: core::LogLevel, target: String, message: String) -> Result<(), core::HostCallbackError> {
        Ok(self.0.log(level.into(), target, message)?)
    }
}

/// Routes SDK logs to `logger`. Call once at app start; calling again
/// replaces the logger and level.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>, max_level: LogLevel) {
    core::set_host_logger(Arc::new(LoggerBridge(logger)), max_level.into());
}
