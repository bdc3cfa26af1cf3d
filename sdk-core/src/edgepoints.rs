//! The SDK handle.

use std::fs::{File, OpenOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::consent::Consent;
use crate::events::{Event, EventSink};
use crate::host::{self, HostState, NetworkKind};
use crate::identity::DeviceIdentity;
use crate::registration::{self, Registration};
use crate::store::Store;
use crate::transport::Transport;
use crate::{Config, Error, EventListener, StoreError};

/// File that marks a data directory as in use by one open instance.
const LOCK_FILE: &str = "edgepoints.lock";

/// What every part of the SDK shares.
pub(crate) struct Shared {
    pub config: Config,
    pub store: Store,
    pub identity: DeviceIdentity,
    pub transport: Transport,
    pub events: EventSink,
    shut_down: AtomicBool,
    /// Held (and so locked) until shutdown.
    lock: Mutex<Option<File>>,
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

/// One SDK instance: the entry point to every flow.
///
/// Cheap to clone; all clones are the same instance.
#[derive(Clone)]
pub struct EdgePoints {
    shared: Arc<Shared>,
}

impl EdgePoints {
    /// Opens the SDK on `config.data_dir`, creating the store and the device
    /// key on first start. Does no network I/O.
    ///
    /// Only one instance may have a data directory open at a time; a second
    /// gets [`Error::InvalidInput`] rather than two writers racing.
    pub fn open(config: Config, listener: Option<Arc<dyn EventListener>>) -> Result<EdgePoints, Error> {
        config.validate()?;
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
        let transport = Transport::new(&config)?;
        tracing::info!(
            device_id = %identity.device_id(),
            database = %store.path().display(),
            endpoints = config.endpoints.len(),
            "edgepoints opened"
        );
        Ok(EdgePoints {
            shared: Arc::new(Shared {
                config,
                store,
                identity,
                transport,
                events: EventSink::new(listener),
                shut_down: AtomicBool::new(false),
                lock: Mutex::new(Some(lock)),
            }),
        })
    }

    /// This device's id, derived from its key; stable across restarts.
    pub fn device_id(&self) -> String {
        self.shared.identity.device_id().to_string()
    }

    /// Registers the device with the control plane, once; later calls return
    /// the stored registration without network I/O.
    pub async fn register(&self) -> Result<Registration, Error> {
        self.shared.ensure_open()?;
        registration::register(&self.shared).await
    }

    /// The stored registration, if any.
    pub fn registration(&self) -> Result<Option<Registration>, Error> {
        self.shared.ensure_open()?;
        Ok(registration::stored(&self.shared)?)
    }

    pub fn consent(&self) -> Consent {
        Consent::new(self.shared.clone())
    }

    /// The phone's state as the host last reported it.
    pub fn host_state(&self) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        Ok(host::load(&self.shared.store)?)
    }

    /// The host reports the network the phone is on.
    pub fn set_network(&self, network: NetworkKind) -> Result<HostState, Error> {
        self.update_host(|state| state.network = network)
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

    /// The host reports whether the app is in the foreground.
    pub fn set_foreground(&self, foreground: bool) -> Result<HostState, Error> {
        self.update_host(|state| state.foreground = foreground)
    }

    fn update_host(&self, change: impl FnOnce(&mut HostState)) -> Result<HostState, Error> {
        self.shared.ensure_open()?;
        match host::update(&self.shared.store, change)? {
            Some(state) => {
                self.shared.events.emit(Event::HostStateChanged { state });
                Ok(state)
            }
            None => self.host_state(),
        }
    }

    /// Ends this instance: later calls fail with [`Error::ShutDown`] and the
    /// data directory can be opened again. Idempotent.
    pub async fn shutdown(&self) {
        if self.shared.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Dropping the file releases the directory lock.
        self.shared.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        tracing::info!(device_id = %self.shared.identity.device_id(), "edgepoints shut down");
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}
