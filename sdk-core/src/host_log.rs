//! Forwards the SDK's `tracing` events to a logger the host provides
//! (Logcat on Android, OSLog on iOS, anything on the JVM).
//!
//! The logger is host code: if it fails, the line is dropped and the
//! failure counted ([`crate::host_callback_failures`]); logging never fails
//! an SDK call. A logger that logs through the SDK again is not re-entered.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Arc, Once, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::Layer;

use crate::host_callback::{call_host, HostCallback};
use crate::HostCallbackError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<&Level> for LogLevel {
    fn from(level: &Level) -> Self {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }
}

/// Receives every SDK log line at or above the level given to
/// [`set_host_logger`]. Called on SDK threads; must not block.
pub trait HostLogger: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String) -> Result<(), HostCallbackError>;
}

struct Installed {
    logger: Arc<dyn HostLogger>,
    max_level: LogLevel,
}

static LOGGER: RwLock<Option<Installed>> = RwLock::new(None);
static SUBSCRIBER: Once = Once::new();

thread_local! {
    /// Set while this thread is inside the host's logger.
    static IN_HOST_LOGGER: Cell<bool> = const { Cell::new(false) };
}

/// Routes SDK logs to `logger`. Call once at app start; calling again
/// replaces the logger and level.
pub fn set_host_logger(logger: Arc<dyn HostLogger>, max_level: LogLevel) {
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = Some(Installed { logger, max_level });
    SUBSCRIBER.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(HostLogLayer);
        // Another global subscriber (a host embedding Rust elsewhere) wins;
        // ours then stays silent rather than failing the app.
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("edgepoints: a global tracing subscriber is already set; SDK logs go there");
        }
    });
}

struct HostLogLayer;

impl<S: Subscriber> Layer<S> for HostLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let level = LogLevel::from(metadata.level());
        // Dependencies (HTTP, TLS, SQLite) are loud below INFO; the host
        // gets only the SDK's own detail.
        if level > LogLevel::Info && !metadata.target().starts_with("edgepoints") {
            return;
        }
        if IN_HOST_LOGGER.with(Cell::get) {
            return;
        }
        let logger = {
            let guard = LOGGER.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(installed) if level <= installed.max_level => installed.logger.clone(),
                _ => return,
            }
        };
        let mut line = LineWriter::default();
        event.record(&mut line);
        let target = metadata.target().to_owned();
        IN_HOST_LOGGER.with(|inside| inside.set(true));
        call_host(HostCallback::Logger, || logger.log(level, target, line.finish()));
        IN_HOST_LOGGER.with(|inside| inside.set(false));
    }
}

/// Renders an event as `message key=value key=value`.
#[derive(Default)]
struct LineWriter {
    message: String,
    fields: String,
}

impl LineWriter {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields.trim_start().to_owned()
        } else {
            self.message + &self.fields
        }
    }
}

impl Visit for LineWriter {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}
