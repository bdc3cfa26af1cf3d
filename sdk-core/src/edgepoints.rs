//! The SDK handle.

use std::fs::{File, OpenOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::consent::Consent;
use crate::events::{Event, EventSink};
use crate::host::{self, HostState, NetworkKind};
use crate::identity::DeviceIdentity;
use crate::outbox::{self, Outbox};
use crate::registration::{self, Registration};
use crate::store::Store;
use crate::transport::Transport;
use crate::{Config, Error, EventListener, StoreError};

/// File that marks a data directory as in use by one open instance.
const LOCK_FILE: &str = "edgepoints.lock";

/// Finished outbox entries are kept this long for the app to inspect.
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// What every part of the SDK shares.
pub(crate) struct Shared {
    pub config: Config,
    pub store: Store,
    pub identity: DeviceIdentity,
    pub transport: Transport,
    pub events: EventSink,
    pub content: crate::content::ContentState,
    /// Bumped whenever an outbox entry changes; callers waiting on an entry watch it.
    pub outbox_changed: watch::Sender<u64>,
    /// Wakes the outbox worker (new entry, network back).
    pub outbox_wake: Notify,
    /// Whether the node may serve now; recomputed on every consent or host change.
    pub serving_gate: watch::Sender<crate::policy::ServingGate>,
    /// The base URL the running edge node serves under, if one runs.
    pub node_url: Mutex<Option<String>>,
    /// Where the phone is, coarsely, if the host shares it (not stored: the
    /// host tells it again after a start).
    pub location: Mutex<Option<edgepoints_protocol::Location>>,
    /// The running node's listen address.
    pub node_listen: Mutex<Option<std::net::SocketAddr>>,
    /// The phone's addresses as the host named them, if it did.
    pub host_addresses: Mutex<Option<Vec<std::net::IpAddr>>>,
    /// What the last announcement reported, and which of it the control
    /// plane could reach.
    pub reported_addresses: Mutex<Vec<String>>,
    pub reachable_addresses: Mutex<Vec<String>>,
    /// The address the control plane saw the last announcement come from.
    pub seen_from: Mutex<Option<String>>,
    /// How the heartbeats go.
    pub heartbeats: Mutex<crate::presence::HeartbeatState>,
    /// Entries finished in the store whose events are still going out.
    pub announcing: Mutex<std::collections::HashSet<i64>>,
    /// Turns true once, at shutdown.
    stop: watch::Sender<bool>,
    shut_down: AtomicBool,
    /// Held (and so locked) until shutdown.
    lock: Mutex<Option<File>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn ensure_open(&self) -> Result<(), Error> {
        if self.shut_down.load(Ordering::Acquire) {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }
}

/// Stops the background work when the last handle goes away.
struct Lifecycle {
    shared: Arc<Shared>,
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        let _ = self.shared.stop.send(true);
    }
}

/// One SDK instance: the entry point to every flow.
///
/// Cheap to clone; all clones are the same instance. Background work (the
/// outbox worker) runs until [`EdgePoints::shutdown`] or until the last
/// clone, and every object obtained from it, is dropped.
#[derive(Clone)]
pub struct EdgePoints {
    shared: Arc<Shared>,
    _lifecycle: Arc<Lifecycle>,
}

impl EdgePoints {
    /// Opens the SDK on `config.data_dir`, creating the store and the device
    /// key on first start, and starts the outbox worker, which resumes any
    /// call a previous process left unfinished. Does no network I/O itself.
    ///
    /// Must be called within a Tokio runtime: the worker runs on it. Only
    /// one instance may have a data directory open at a time; a second gets
    /// [`Error::InvalidInput`] rather than two writers racing.
    pub fn open(config: Config, listener: Option<Arc<dyn EventListener>>) -> Result<EdgePoints, Error> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::InvalidInput("open the SDK from within a Tokio runtime".into()))?;
        std::fs::create_dir_all(&config.data_dir).map_err(StoreError::Io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(config.data_dir.join(LOCK_FILE))
            .map_err(StoreError::Io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::InvalidInput(format!(
                    "data directory {} is in use by another open instance",
                    config.data_dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::Io(e).into()),
        }
        let store = Store::open(&config.data_dir)?;
        let identity = DeviceIdentity::load_or_create(&store)?;
        let transport = Transport::new(&config, identity.device_id().as_str())?;
        let pruned = store.with(|c| outbox::prune(c, KEEP_FINISHED))?;
        let content = crate::content::ContentState::open(
            &config.data_dir,
            &store,
            config.content_disk_budget_bytes,
            config.content_memory_budget_bytes,
        )?;
        tracing::info!(
            device_id = %identity.device_id(),
            database = %store.path().display(),
            endpoints = config.endpoints.len(),
            pruned,
            "edgepoints opened"
        );
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            store,
            identity,
            transport,
            events: EventSink::new(listener),
            content,
            outbox_changed: watch::channel(0).0,
            outbox_wake: Notify::new(),
            serving_gate: watch::channel(crate::policy::ServingGate::NoConsent).0,
            node_url: Mutex::default(),
            location: Mutex::default(),
            node_listen: Mutex::default(),
            host_addresses: Mutex::default(),
            reported_addresses: Mutex::default(),
            reachable_addresses: Mutex::default(),
            seen_from: Mutex::default(),
            heartbeats: Mutex::new(crate::presence::HeartbeatState::new()),
            announcing: Mutex::default(),
            stop,
            shut_down: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
            worker: Mutex::new(None),
        });
        let worker = runtime.spawn(outbox::worker::run(shared.clone(), stop_rx));
        let sdk = EdgePoints {
            _lifecycle: Arc::new(Lifecycle { shared: shared.clone() }),
            shared: shared.clone(),
        };
        sdk.refresh_serving_gate()?;
        *shared.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(worker);
        Ok(sdk)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Resolves once the instance is shutting down.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.shared.stop.subscribe();
        let _ = stop.wait_for(|stopped| *stopped).await;
    }

    /// This device's id, derived from its key; stable across restarts.
    pub fn device_id(&self) -> String {
        self.shared.identity.device_id().to_string()
    }

    /// Registers the device with the control plane, once; later calls return
    /// the stored registration without network I/O.
    pub async fn register(&self) -> Result<Registration, Error> {
        self.shared.ensure_open()?;
        registration::register(self).await
    }

    /// The stored registration, if any.
    pub fn registration(&self) -> Result<Option<Registration>, Error> {
        self.shared.ensure_open()?;
        Ok(registration::stored(&self.shared)?)
    }

    pub fn consent(&self) -> Consent {
        Consent::new(self.clone())
    }

    /// This device as an edge node: serving cached content to routed users.
    pub fn node(&self) -> crate::node::EdgeNode {
        crate::node::EdgeNode::new(self.clone())
    }

    /// Verified content kept on this device.
    pub fn content(&self) -> crate::content::ContentCache {
        crate::content::ContentCache::new(self.clone())
    }

    /// Every mutating call, as it travels to the control plane.
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.clone())
    }

    /// The control-plane endpoint this instance's calls go to now.
    pub fn current_endpoint(&self) -> url::Url {
        self.shared.transport.current_endpoint()
    }

    /// The phone's state as the host last reported it.
    pub fn host_state(&self) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        Ok(host::load(&self.shared.store)?)
    }

    /// The host reports the network the phone is on. Coming back online
    /// sends waiting outbox entries at once.
    pub fn set_network(&self, network: NetworkKind) -> Result<HostState, Error> {
        let before = self.host_state()?.network;
        let state = self.update_host(|state| state.network = network)?;
        if before == NetworkKind::Offline && network != NetworkKind::Offline {
            self.outbox().retry_now()?;
        }
        Ok(state)
    }

    /// The host reports battery level (0–100) and whether it is charging.
    pub fn set_battery(&self, percent: u8, charging: bool) -> Result<HostState, Error> {
        if percent > 100 {
            return Err(Error::InvalidInput(format!(
                "battery percent must be 0 to 100, got {percent}"
            )));
        }
        self.update_host(|state| {
            state.battery_percent = percent;
            state.charging = charging;
        })
    }

    /// The host shares where the phone is, coarsely (a city is enough), or
    /// stops sharing it (`None`). Routing then prefers nearby nodes, and a
    /// running node is announced with it.
    pub fn set_location(&self, location: Option<edgepoints_protocol::Location>) -> Result<(), Error> {
        self.shared.ensure_open()?;
        if location.is_some_and(|l| !l.is_valid()) {
            return Err(Error::InvalidInput(
                "latitude must be -90 to 90 and longitude -180 to 180".into(),
            ));
        }
        *self.shared.location.lock().unwrap_or_else(|p| p.into_inner()) = location;
        crate::node::announce::holdings_changed(&self.shared)?;
        Ok(())
    }

    /// The host names the phone's addresses (from its connectivity APIs),
    /// or lets the SDK list the interfaces itself (`None`). A running node
    /// listening on all interfaces reports them, and the control plane
    /// probes each before routing to it.
    pub fn set_network_addresses(&self, addresses: Option<Vec<std::net::IpAddr>>) -> Result<(), Error> {
        self.shared.ensure_open()?;
        *self.shared.host_addresses.lock().unwrap_or_else(|p| p.into_inner()) = addresses;
        crate::node::announce::holdings_changed(&self.shared)?;
        Ok(())
    }

    /// The host reports whether the app is in the foreground.
    pub fn set_foreground(&self, foreground: bool) -> Result<HostState, Error> {
        self.update_host(|state| state.foreground = foreground)
    }

    fn update_host(&self, change: impl FnOnce(&mut HostState)) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        let network_before = host::load(&self.shared.store)?.network;
        match host::update(&self.shared.store, change)? {
            Some(state) => {
                self.refresh_serving_gate()?;
                if state.network != network_before {
                    // A new network, likely new addresses: report them.
                    crate::node::announce::holdings_changed(&self.shared)?;
                }
                self.shared.events.emit(Event::HostStateChanged { state });
                Ok(state)
            }
            None => self.host_state(),
        }
    }

    /// Whether the node may serve now, and if not, why.
    pub fn serving_gate(&self) -> crate::policy::ServingGate {
        self.shared.serving_gate.borrow().clone()
    }

    /// Recomputes the serving gate from consent and host state; a running
    /// node follows it at once.
    pub(crate) fn refresh_serving_gate(&self) -> Result<(), Error> {
        let gate = crate::policy::ServingGate::decide(&self.consent().state()?, &self.host_state()?);
        self.shared.serving_gate.send_if_modified(|current| {
            if *current == gate {
                false
            } else {
                tracing::info!(?gate, "serving gate changed");
                *current = gate;
                true
            }
        });
        Ok(())
    }

    /// Ends this instance: stops the outbox worker (entries not yet sent
    /// stay in the outbox for the next start), makes later calls fail with
    /// [`Error::ShutDown`], and frees the data directory. Idempotent.
    pub async fn shutdown(&self) {
        if self.shared.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.shared.stop.send(true);
        let worker = self.shared.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        // Dropping the file releases the directory lock.
        self.shared.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        tracing::info!(device_id = %self.shared.identity.device_id(), "edgepoints shut down");
    }

    /// How the control plane sees this device's node: addresses reported
    /// and reached, heartbeats.
    pub fn presence(&self) -> crate::presence::Presence {
        crate::presence::Presence::new(self.clone())
    }

    /// This device's points, as the control plane keeps them.
    pub fn points(&self) -> crate::points::Points {
        crate::points::Points::new(self.clone())
    }

    /// A signed `GET` of `path` on the control plane, retried like any call.
    pub(crate) async fn signed_get<T: serde::de::DeserializeOwned>(&self, path: String) -> Result<T, Error> {
        self.signed_get_with(path, Vec::new()).await
    }

    /// [`Self::signed_get`] with extra (unsigned) headers.
    pub(crate) async fn signed_get_with<T: serde::de::DeserializeOwned>(
        &self,
        path: String,
        headers: Vec<(&'static str, String)>,
    ) -> Result<T, Error> {
        use crate::transport::{Attempted, Outgoing};
        let shared = self.shared();
        shared.ensure_open()?;
        let policy = shared.transport.retry_policy().clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = Outgoing::get(path.clone());
            request.headers.extend(headers.iter().cloned());
            request.headers.push((
                edgepoints_protocol::request_auth::DEVICE_SIGNATURE_HEADER,
                shared.identity.sign_request("GET", &path, crate::time::unix_millis()),
            ));
            match shared.transport.attempt(&request, attempt > 1).await {
                Attempted::Done { body, .. } => {
                    return serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{path}: {e}")))
                }
                Attempted::Refused { status, problem } => return Err(Error::Rejected { status, problem }),
                Attempted::Transient { failure, retry_after } => {
                    if attempt >= policy.max_attempts {
                        return Err(Error::Unavailable {
                            attempts: attempt,
                            retry_after,
                            last: failure,
                        });
                    }
                    tokio::time::sleep(retry_after.unwrap_or_else(|| policy.backoff(attempt))).await;
                }
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}
