//! The SDK handle.

use std::fs::OpenOptions;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::consent::Consent;
use crate::events::{Event, EventSink};
use crate::host::{self, HostState, NetworkKind};
use crate::identity::DeviceIdentity;
use crate::outbox::{self, Outbox};
use crate::registration::{self, Registration};
use crate::secrets::{SecretStore, Secrets};
use crate::shared::Shared;
use crate::store::Store;
use crate::transport::Transport;
use crate::{Config, Error, EventListener, StoreError};

/// File that marks a data directory as in use by one open instance.
const LOCK_FILE: &str = "edgepoints.lock";

/// Finished outbox entries are kept this long for the app to inspect.
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the host provides besides its [`Config`].
#[derive(Clone, Default)]
pub struct HostServices {
    /// Receives the SDK's events.
    pub listener: Option<Arc<dyn EventListener>>,
    /// Keeps the device key and the member session key (the platform
    /// keystore on phones); `None` keeps them in the SDK's database.
    pub secret_store: Option<Arc<dyn SecretStore>>,
}

/// Stops the background work when the last handle goes away.
struct Lifecycle {
    shared: Arc<Shared>,
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        self.shared.signal_stop();
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
    /// Must be called within a Tokio runtime ([`Error::NoRuntime`]
    /// otherwise): the instance's work all runs on it, whoever polls its
    /// calls. Only one instance may have a data directory open at a time; a
    /// second gets [`Error::DataDirectoryInUse`] rather than two writers
    /// racing.
    pub fn open(config: Config, listener: Option<Arc<dyn EventListener>>) -> Result<EdgePoints, Error> {
        EdgePoints::open_with(
            config,
            HostServices {
                listener,
                ..HostServices::default()
            },
        )
    }

    /// [`EdgePoints::open`] with everything the host provides: the event
    /// listener and, on phones, the platform keystore for the device key and
    /// the member session ([`SecretStore`]). A store that fails, or lost the
    /// device key, fails the open ([`Error::SecretStore`],
    /// [`Error::SecretLost`]) rather than making a new identity.
    pub fn open_with(config: Config, host: HostServices) -> Result<EdgePoints, Error> {
        let HostServices { listener, secret_store } = host;
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        std::fs::create_dir_all(&config.data_dir).map_err(StoreError::Io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(config.data_dir.join(LOCK_FILE))
            .map_err(StoreError::Io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::DataDirectoryInUse(config.data_dir.clone())),
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::Io(e).into()),
        }
        let store = Store::open(&config.data_dir)?;
        let secrets = Secrets::open(&store, secret_store)?;
        let identity = DeviceIdentity::load_or_create(&store, &secrets)?;
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
        let shared = Arc::new(Shared::new(
            config,
            store,
            secrets,
            identity,
            transport,
            EventSink::new(listener),
            content,
            runtime,
            stop,
            lock,
        ));
        crate::members::session::resume(&shared)?;
        let worker = shared.spawn(outbox::worker::run(shared.clone(), stop_rx));
        shared.spawn(crate::members::heartbeat::run(shared.clone()));
        let sdk = EdgePoints {
            _lifecycle: Arc::new(Lifecycle { shared: shared.clone() }),
            shared: shared.clone(),
        };
        sdk.refresh_serving_gate()?;
        shared.worker_started(worker);
        shared.spawn(crate::rental::resume(sdk.clone()));
        Ok(sdk)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The shared state, for a background task to hold.
    pub(crate) fn shared_arc(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Resolves once the instance is shutting down.
    pub(crate) async fn stopped(&self) {
        self.shared.stopped().await
    }

    /// Runs `work` on the instance's runtime and waits for it.
    ///
    /// Why: Kotlin and Swift poll the SDK's futures on an executor of their
    /// own, but the node's server, its timers and the HTTP client's pool must
    /// live on one runtime that outlasts the call. Every public async call
    /// goes through here, so no caller has to know which of them spawn.
    /// A caller that gives up (a cancelled coroutine) does not cut the work
    /// short: it runs to its end, so the state it leaves is consistent.
    pub(crate) async fn on_runtime<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        self.shared
            .spawn(work)
            .await
            .map_err(|e| Error::Internal(format!("an SDK task ended abnormally: {e}")))?
    }

    /// This device's id, derived from its key; stable across restarts.
    pub fn device_id(&self) -> String {
        self.shared.identity().device_id().to_string()
    }

    /// Registers the device with the control plane, once; later calls return
    /// the stored registration without network I/O.
    pub async fn register(&self) -> Result<Registration, Error> {
        self.shared.ensure_open()?;
        let sdk = self.clone();
        self.on_runtime(async move { registration::register(sdk.shared()).await })
            .await
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
        self.shared.transport().current_endpoint()
    }

    /// The phone's state as the host last reported it.
    pub fn host_state(&self) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        Ok(host::load(self.shared.store())?)
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
        self.shared.presence().located(location);
        crate::node::announce::reannounce_running_node(&self.shared)?;
        Ok(())
    }

    /// The host names the phone's addresses (from its connectivity APIs),
    /// or lets the SDK list the interfaces itself (`None`). A running node
    /// listening on all interfaces reports them, and the control plane
    /// probes each before routing to it.
    pub fn set_network_addresses(&self, addresses: Option<Vec<std::net::IpAddr>>) -> Result<(), Error> {
        self.shared.ensure_open()?;
        self.shared.presence().host_addressed(addresses);
        crate::node::announce::reannounce_running_node(&self.shared)?;
        Ok(())
    }

    /// The host reports whether the app is in the foreground.
    pub fn set_foreground(&self, foreground: bool) -> Result<HostState, Error> {
        self.update_host(|state| state.foreground = foreground)
    }

    fn update_host(&self, change: impl FnOnce(&mut HostState)) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        let network_before = host::load(self.shared.store())?.network;
        match host::update(self.shared.store(), change)? {
            Some(state) => {
                self.refresh_serving_gate()?;
                if state.network != network_before {
                    // A new network, likely new addresses: report them.
                    crate::node::announce::reannounce_running_node(&self.shared)?;
                }
                self.shared.events().emit(Event::HostStateChanged { state });
                Ok(state)
            }
            None => self.host_state(),
        }
    }

    /// Whether the node may serve now, and if not, why.
    pub fn serving_gate(&self) -> crate::policy::ServingGate {
        self.shared.serving_gate().borrow().clone()
    }

    /// Recomputes the serving gate from consent and host state; a running
    /// node follows it at once.
    pub(crate) fn refresh_serving_gate(&self) -> Result<(), Error> {
        let gate = crate::policy::ServingGate::decide(&self.consent().state()?, &self.host_state()?);
        self.shared.serving_gate().send_if_modified(|current| {
            if *current == gate {
                false
            } else {
                tracing::info!(?gate, "serving gate changed");
                *current = gate;
                true
            }
        });
        self.shared.policy_changed().notify_one();
        Ok(())
    }

    /// Ends this instance: stops the outbox worker (entries not yet sent
    /// stay in the outbox for the next start), makes later calls fail with
    /// [`Error::ShutDown`], and frees the data directory. Idempotent.
    pub async fn shutdown(&self) {
        if !self.shared.begin_shutdown() {
            return;
        }
        if let Some(worker) = self.shared.take_worker() {
            let _ = worker.await;
        }
        self.shared.release_lock();
        tracing::info!(device_id = %self.shared.identity().device_id(), "edgepoints shut down");
    }

    /// How the control plane sees this device's node: addresses reported
    /// and reached, heartbeats.
    pub fn presence(&self) -> crate::presence::Presence {
        crate::presence::Presence::new(self.clone())
    }

    /// Coupons as a customer: browse, claim, hold, present.
    pub fn coupons(&self) -> crate::coupons::Coupons {
        crate::coupons::Coupons::new(self.clone())
    }

    /// Coupons as a merchant's device: enrol, write activities, check
    /// presentations at the till offline.
    pub fn merchant(&self) -> crate::coupons::Merchant {
        crate::coupons::Merchant::new(self.clone())
    }

    /// Sign-up, login and logout, the member's session and pushed notices.
    pub fn members(&self) -> crate::members::Members {
        crate::members::Members::new(self.clone())
    }

    /// Renting cars: find, reserve, start, unlock, end, charge.
    pub fn rental(&self) -> crate::rental::Rental {
        crate::rental::Rental::new(self.clone())
    }

    /// The points of the member logged in, else of this device, as the
    /// control plane keeps them.
    pub fn points(&self) -> crate::points::Points {
        crate::points::Points::new(self.clone())
    }

    pub fn config(&self) -> &Config {
        self.shared.config()
    }
}
