//! The state one open SDK instance shares between its handle, its facades
//! and its background tasks.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::content::ContentState;
use crate::events::EventSink;
use crate::identity::DeviceIdentity;
use crate::policy::ServingGate;
use crate::presence::PresenceState;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::transport::Transport;
use crate::{Config, Error};

/// What every part of the SDK shares: one per open instance.
///
/// The parameter convention: internal functions take `&Shared` (the state
/// they read and change); the public facades (`Consent`, `EdgeNode`, …)
/// hold an [`crate::EdgePoints`], and background tasks an `Arc<Shared>`. Fields are
/// private: each part of the state is changed through the module that
/// names it.
pub(crate) struct Shared {
    config: Config,
    store: Store,
    /// The device key and the member session key (in the host's keystore if it gave one).
    secrets: Secrets,
    identity: DeviceIdentity,
    transport: Transport,
    events: EventSink,
    content: ContentState,
    presence: PresenceState,
    /// The runtime the instance was opened on; all its work runs there.
    runtime: tokio::runtime::Handle,
    /// Bumped whenever an outbox entry changes; callers waiting on an entry watch it.
    outbox_changed: watch::Sender<u64>,
    /// Wakes the outbox worker (new entry, network back).
    outbox_wake: Notify,
    /// Whether the node may serve now; recomputed on every consent or host change.
    serving_gate: watch::Sender<ServingGate>,
    /// Woken on every consent or host change, whether or not the gate
    /// moved (a new grant may change the monthly cap only).
    policy_changed: Notify,
    /// The member logged in now (a live session), or `None`; the member
    /// heartbeat follows it.
    member: watch::Sender<Option<String>>,
    /// One member heartbeat at a time (the timer's and the app's).
    member_beat: tokio::sync::Mutex<()>,
    /// Entries finished in the store whose events are still going out.
    announcing: Mutex<std::collections::HashSet<i64>>,
    /// The host's link to cars, once it set one.
    vehicle_link: Mutex<Option<std::sync::Arc<dyn crate::rental::VehicleLink>>>,
    /// Turns true once, at shutdown.
    stop: watch::Sender<bool>,
    shut_down: AtomicBool,
    /// Held (and so locked) until shutdown.
    lock: Mutex<Option<File>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: Config,
        store: Store,
        secrets: Secrets,
        identity: DeviceIdentity,
        transport: Transport,
        events: EventSink,
        content: ContentState,
        runtime: tokio::runtime::Handle,
        stop: watch::Sender<bool>,
        lock: File,
    ) -> Self {
        Shared {
            config,
            store,
            secrets,
            identity,
            transport,
            events,
            content,
            presence: PresenceState::default(),
            runtime,
            outbox_changed: watch::channel(0).0,
            outbox_wake: Notify::new(),
            serving_gate: watch::channel(ServingGate::NoConsent).0,
            policy_changed: Notify::new(),
            member: watch::channel(None).0,
            member_beat: tokio::sync::Mutex::new(()),
            announcing: Mutex::default(),
            vehicle_link: Mutex::new(None),
            stop,
            shut_down: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
            worker: Mutex::new(None),
        }
    }

    pub(crate) fn ensure_open(&self) -> Result<(), Error> {
        if self.shut_down.load(Ordering::Acquire) {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub(crate) fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(crate) fn events(&self) -> &EventSink {
        &self.events
    }

    pub(crate) fn content(&self) -> &ContentState {
        &self.content
    }

    pub(crate) fn presence(&self) -> &PresenceState {
        &self.presence
    }

    pub(crate) fn outbox_changed(&self) -> &watch::Sender<u64> {
        &self.outbox_changed
    }

    pub(crate) fn outbox_wake(&self) -> &Notify {
        &self.outbox_wake
    }

    pub(crate) fn serving_gate(&self) -> &watch::Sender<ServingGate> {
        &self.serving_gate
    }

    pub(crate) fn policy_changed(&self) -> &Notify {
        &self.policy_changed
    }

    pub(crate) fn member(&self) -> &watch::Sender<Option<String>> {
        &self.member
    }

    pub(crate) fn member_beat(&self) -> &tokio::sync::Mutex<()> {
        &self.member_beat
    }

    pub(crate) fn vehicle_link(&self) -> &Mutex<Option<std::sync::Arc<dyn crate::rental::VehicleLink>>> {
        &self.vehicle_link
    }

    pub(crate) fn announcing(&self) -> &Mutex<std::collections::HashSet<i64>> {
        &self.announcing
    }

    /// Starts `task` on the instance's runtime.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(task)
    }

    /// Marks the instance shut down and stops its background work; false
    /// if it was shut down already.
    pub(crate) fn begin_shutdown(&self) -> bool {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.signal_stop();
        true
    }

    /// Tells the background work to stop (the last handle went away, or
    /// shutdown).
    pub(crate) fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }

    pub(crate) fn worker_started(&self, worker: JoinHandle<()>) {
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(worker);
    }

    pub(crate) fn take_worker(&self) -> Option<JoinHandle<()>> {
        self.worker.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Frees the data directory: dropping the file releases its lock.
    pub(crate) fn release_lock(&self) {
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Resolves once the instance is shutting down.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(|stopped| *stopped).await;
    }
}
