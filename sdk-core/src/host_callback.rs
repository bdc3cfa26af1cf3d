//! Host callbacks — the app's event listener and logger — are app code, and
//! app code has bugs. A callback that fails (returns an error, throws in
//! Kotlin or Swift, panics in Rust) must never change the outcome of the SDK
//! call that triggered it, nor end a background task: the failure is
//! caught here, counted, and reported once through the log.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A host callback failed. What a foreign exception becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HostCallbackError {
    pub message: String,
}

impl HostCallbackError {
    pub fn new(message: impl Into<String>) -> Self {
        HostCallbackError {
            message: message.into(),
        }
    }
}

/// Which host callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostCallback {
    EventListener,
    Logger,
}

impl HostCallback {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            HostCallback::EventListener => "event listener",
            HostCallback::Logger => "logger",
        }
    }
}

/// How often each host callback failed since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCallbackFailures {
    pub event_listener: u64,
    pub logger: u64,
}

static FAILURES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static REPORTED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// The failures counted so far.
pub fn host_callback_failures() -> HostCallbackFailures {
    HostCallbackFailures {
        event_listener: FAILURES[HostCallback::EventListener.index()].load(Ordering::Relaxed),
        logger: FAILURES[HostCallback::Logger.index()].load(Ordering::Relaxed),
    }
}

/// Calls a host callback; whatever it does, returns normally.
pub(crate) fn call_host(callback: HostCallback, call: impl FnOnce() -> Result<(), HostCallbackError>) {
    let failure = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.message,
        Err(panic) => panic_message(panic.as_ref()),
    };
    FAILURES[callback.index()].fetch_add(1, Ordering::Relaxed);
    if !REPORTED[callback.index()].swap(true, Ordering::AcqRel) {
        // Once per process: a listener that throws on every event must not
        // turn the log into a copy of the event stream. The count goes on.
        // A failing logger cannot carry its own report: standard error does.
        if callback == HostCallback::Logger {
            eprintln!("edgepoints: the host logger failed ({failure}); further failures are only counted");
        }
        tracing::error!(
            callback = callback.name(),
            error = %failure,
            "a host callback failed; the SDK carries on, and further failures are only counted"
        );
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_or_panicking_callback_is_counted_and_the_caller_goes_on() {
        let before = host_callback_failures().event_listener;
        call_host(HostCallback::EventListener, || Err(HostCallbackError::new("app bug")));
        call_host(HostCallback::EventListener, || panic!("app bug"));
        call_host(HostCallback::EventListener, || Ok(()));
        assert_eq!(host_callback_failures().event_listener - before, 2);
    }
}
