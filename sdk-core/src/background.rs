//! A bounded run of the SDK's pending work, for the time a phone's OS gives
//! an app in the background: Android's WorkManager (a `CoroutineWorker`,
//! about ten minutes at most) and iOS's background tasks
//! (`BGAppRefreshTask`, about thirty seconds).
//!
//! One call does, in this order, what fits in the time given:
//!
//! 1. the outbox: every queued call is sent (answers settle them once);
//! 2. the member heartbeat, if a member is logged in (it keeps the session
//!    and brings pushed notices, each an event);
//! 3. the manifest sync, if consent and the policy allow it now.
//!
//! It returns when all three are done or the time is up, whichever comes
//! first; what did not fit waits for the next run. Work already begun when
//! the time is up finishes on the SDK's runtime (each step is safe to cut
//! off by the OS too: the outbox is durable, content is verified and kept
//! whole or not at all).

use std::time::Duration;

use tokio::time::Instant;

use crate::members::MemberState;
use crate::node::SyncReport;
use crate::outbox::OutboxStatus;
use crate::policy::ServingGate;
use crate::{EdgePoints, Error};

/// What one background run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundRun {
    /// The outbox when the run ended (`pending` above 0: calls still wait).
    pub outbox: OutboxStatus,
    /// How many pushed notices the member heartbeat brought (0 when no
    /// member is logged in).
    pub notices: usize,
    /// The manifest sync, if it ran and finished.
    pub sync: Option<SyncReport>,
    /// Why there was no sync (no consent, not allowed now, out of time, or
    /// how it failed), if there was none.
    pub sync_skipped: Option<String>,
    /// Whether everything was done within the time.
    pub finished: bool,
}

impl EdgePoints {
    /// Runs the SDK's pending work (see the module documentation) for at
    /// most `budget`; call it from the platform's background scheduler.
    ///
    /// Fails only if the instance is shut down or its store fails; a step
    /// that fails (an unreachable control plane, say) is reported in the
    /// result and the run goes on to the next one.
    pub async fn run_pending(&self, budget: Duration) -> Result<BackgroundRun, Error> {
        self.shared().ensure_open()?;
        let sdk = self.clone();
        self.on_runtime(async move { sdk.run_pending_on_runtime(budget).await })
            .await
    }

    async fn run_pending_on_runtime(&self, budget: Duration) -> Result<BackgroundRun, Error> {
        let deadline = Instant::now() + budget;
        let left = || deadline.saturating_duration_since(Instant::now());

        let mut outbox = self.outbox().drain(left()).await?;
        let mut finished = outbox.pending == 0;

        let mut notices = 0;
        if let MemberState::LoggedIn { .. } = self.members().state()? {
            match tokio::time::timeout(left(), self.members().heartbeat_now()).await {
                Ok(Ok(brought)) => notices = brought.len(),
                Ok(Err(error)) => tracing::info!(%error, "background member heartbeat failed"),
                Err(_) => finished = false,
            }
        }

        let (sync, sync_skipped) = match self.serving_gate() {
            ServingGate::NoConsent => (None, Some("no consent".to_owned())),
            ServingGate::Paused { reason } => (None, Some(format!("not allowed now: {reason}"))),
            ServingGate::Serving => match tokio::time::timeout(left(), self.node().sync()).await {
                Ok(Ok(report)) => (Some(report), None),
                Ok(Err(error)) => (None, Some(error.to_string())),
                Err(_) => {
                    finished = false;
                    (None, Some("out of time".to_owned()))
                }
            },
        };
        // A sync announces what the node now holds (an outbox entry): give it
        // what time is left.
        if !left().is_zero() {
            outbox = self.outbox().drain(left()).await?;
        } else {
            outbox = self.outbox().status()?;
        }
        finished &= outbox.pending == 0;
        Ok(BackgroundRun {
            outbox,
            notices,
            sync,
            sync_skipped,
            finished,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_with_nothing_reachable_ends_on_time_and_says_what_waits() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::new(vec!["http://127.0.0.1:1".parse().unwrap()], dir.path());
        config.retry.max_attempts = 1;
        let sdk = EdgePoints::open(config, None).unwrap();
        sdk.consent().grant("t", crate::ConsentPolicy::default()).await.unwrap();
        let started = std::time::Instant::now();
        let run = sdk.run_pending(Duration::from_millis(300)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded: {:?}",
            started.elapsed()
        );
        assert_eq!(
            run.outbox.pending, 2,
            "the registration and the consent report wait: {run:?}"
        );
        assert!(!run.finished);
        // The host said nothing about the network: offline, so no sync.
        assert_eq!(run.sync, None);
        assert_eq!(run.sync_skipped.as_deref(), Some("not allowed now: offline"));
        sdk.shutdown().await;
    }
}
