//! The SDK handle as Kotlin and Swift see it.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::consent::Consent;
use crate::content::ContentCache;
use crate::events::{EventListener, ListenerBridge};
use crate::fetch::FetchReport;
use crate::host::{HostState, NetworkKind};
use crate::node::EdgeNode;
use crate::outbox::Outbox;
use crate::policy::ServingGate;
use crate::secrets::{SecretStore, SecretStoreBridge};
use crate::EdgePointsError;

/// Settings for one instance. Durations in milliseconds.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EdgePointsConfig {
    /// Control-plane base URLs, e.g. `https://cp1.example.com`.
    pub endpoints: Vec<String>,
    /// An app-private folder, e.g. `context.filesDir/edgepoints`.
    pub data_dir: String,
    #[uniffi(default = 10000)]
    pub request_timeout_ms: i64,
    #[uniffi(default = 5000)]
    pub connect_timeout_ms: i64,
    /// Attempts per call, the first included.
    #[uniffi(default = 6)]
    pub max_attempts: i32,
    #[uniffi(default = 200)]
    pub retry_base_delay_ms: i64,
    #[uniffi(default = 10000)]
    pub retry_max_delay_ms: i64,
    /// Longest wait between attempts of a queued call during a long outage.
    #[uniffi(default = 300000)]
    pub outbox_max_delay_ms: i64,
    /// Most bytes of verified content kept on disk.
    #[uniffi(default = 536870912)]
    pub content_disk_budget_bytes: i64,
    /// Most bytes of content kept in memory for serving.
    #[uniffi(default = 33554432)]
    pub content_memory_budget_bytes: i64,
    /// The edge node's upload rate cap in bytes per second; 0 for none.
    #[uniffi(default = 0)]
    pub upload_bytes_per_second: i64,
    /// How long a fetch gives one node before asking the next one too.
    #[uniffi(default = 300)]
    pub hedge_delay_ms: i64,
    /// How long a fetch waits for a source's bytes before giving up on it.
    #[uniffi(default = 5000)]
    pub source_idle_timeout_ms: i64,
    /// `android`, `ios`, ...
    pub platform: String,
    pub app_version: String,
}

/// A duration in milliseconds from the host.
fn millis(what: &str, ms: i64) -> Result<Duration, EdgePointsError> {
    Ok(Duration::from_millis(unsigned(what, ms)?))
}

impl TryFrom<EdgePointsConfig> for core::Config {
    type Error = EdgePointsError;

    fn try_from(config: EdgePointsConfig) -> Result<Self, Self::Error> {
        let endpoints = crate::parse::endpoints(&config.endpoints)?;
        let mut core_config = core::Config::new(endpoints, config.data_dir);
        core_config.request_timeout = millis("request_timeout_ms", config.request_timeout_ms)?;
        core_config.connect_timeout = millis("connect_timeout_ms", config.connect_timeout_ms)?;
        core_config.retry = core::RetryPolicy {
            max_attempts: unsigned("max_attempts", config.max_attempts)?,
            base_delay: millis("retry_base_delay_ms", config.retry_base_delay_ms)?,
            max_delay: millis("retry_max_delay_ms", config.retry_max_delay_ms)?,
        };
        core_config.outbox_max_delay = millis("outbox_max_delay_ms", config.outbox_max_delay_ms)?;
        core_config.content_disk_budget_bytes =
            unsigned("content_disk_budget_bytes", config.content_disk_budget_bytes)?;
        core_config.content_memory_budget_bytes =
            unsigned("content_memory_budget_bytes", config.content_memory_budget_bytes)?;
        core_config.node_limits.upload_bytes_per_second =
            unsigned("upload_bytes_per_second", config.upload_bytes_per_second)?;
        core_config.hedge_delay = millis("hedge_delay_ms", config.hedge_delay_ms)?;
        core_config.source_idle_timeout = millis("source_idle_timeout_ms", config.source_idle_timeout_ms)?;
        core_config.platform = config.platform;
        core_config.app_version = config.app_version;
        Ok(core_config)
    }
}

/// A coarse position.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoLocation {
    pub latitude: f64,
    pub longitude: f64,
}

impl From<GeoLocation> for core::Location {
    fn from(l: GeoLocation) -> Self {
        core::Location {
            latitude: l.latitude,
            longitude: l.longitude,
        }
    }
}

impl From<core::Location> for GeoLocation {
    fn from(l: core::Location) -> Self {
        GeoLocation {
            latitude: l.latitude,
            longitude: l.longitude,
        }
    }
}

/// What the control plane said when it registered this device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Registration {
    pub device_id: String,
    pub registered_at_ms: i64,
    pub control_plane_key_id: String,
}

impl From<core::Registration> for Registration {
    fn from(r: core::Registration) -> Self {
        Registration {
            device_id: r.device_id,
            registered_at_ms: r.registered_at_ms.signed(),
            control_plane_key_id: r.control_plane_key_id,
        }
    }
}

/// One SDK instance. Open one per data directory; call `shutdown()` when done.
#[derive(uniffi::Object)]
pub struct EdgePoints {
    inner: core::EdgePoints,
}

#[uniffi::export(async_runtime = "tokio")]
impl EdgePoints {
    /// Opens the SDK on `config.data_dir`. No network I/O; cheap enough for
    /// the main thread, though disk I/O is best kept off it. `listener` gets
    /// the events (see `SdkEvents` for a `Flow`); `secret_store` keeps the
    /// device key and the member session in the platform keystore (without
    /// one they stay in the SDK's database file).
    #[uniffi::constructor(default(listener = None, secret_store = None))]
    pub fn new(
        config: EdgePointsConfig,
        listener: Option<Arc<dyn EventListener>>,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<Self>, EdgePointsError> {
        let host = core::HostServices {
            listener: listener.map(|l| Arc::new(ListenerBridge(l)) as Arc<dyn core::EventListener>),
            secret_store: secret_store.map(|s| Arc::new(SecretStoreBridge(s)) as Arc<dyn core::SecretStore>),
        };
        // The SDK's background work runs on the bindings' runtime.
        let _runtime = crate::runtime::runtime()?.enter();
        let inner = core::EdgePoints::open_with(config.try_into()?, host)?;
        Ok(Arc::new(EdgePoints { inner }))
    }

    /// Fetches the item named `hash` into the local cache, verified: from a
    /// nearby node the control plane routes to, else from the origin.
    pub async fn fetch(&self, hash: String) -> Result<FetchReport, EdgePointsError> {
        Ok(self.inner.fetch(crate::parse::content_hash(&hash)?).await?.into())
    }

    /// Shares where the phone is, coarsely (a city is enough), or stops
    /// sharing it (`None`): routing then prefers nearby nodes.
    pub fn set_location(&self, location: Option<GeoLocation>) -> Result<(), EdgePointsError> {
        Ok(self.inner.set_location(location.map(Into::into))?)
    }

    /// The phone's IP addresses as the host knows them (e.g. from
    /// `LinkProperties`), or `None` to let the SDK list its interfaces.
    pub fn set_network_addresses(&self, addresses: Option<Vec<String>>) -> Result<(), EdgePointsError> {
        let parsed = addresses.as_deref().map(crate::parse::ip_addresses).transpose()?;
        Ok(self.inner.set_network_addresses(parsed)?)
    }

    /// How the control plane sees this device's node: addresses reported
    /// and reached, heartbeats.
    pub fn presence(&self) -> Arc<crate::presence::Presence> {
        Arc::new(crate::presence::Presence::new(self.inner.presence()))
    }

    /// Coupons as a customer: browse, claim, hold, present.
    pub fn coupons(&self) -> Arc<crate::coupons::Coupons> {
        Arc::new(crate::coupons::Coupons::new(self.inner.coupons()))
    }

    /// Coupons as a merchant's device: enrol, activities, the till.
    pub fn merchant(&self) -> Arc<crate::coupons::Merchant> {
        Arc::new(crate::coupons::Merchant::new(self.inner.merchant()))
    }

    /// Sign-up, login and logout, the session and pushed notices.
    pub fn members(&self) -> Arc<crate::members::Members> {
        Arc::new(crate::members::Members::new(self.inner.members()))
    }

    /// Renting cars: find, reserve, start, unlock, end, charge.
    pub fn rental(&self) -> Arc<crate::rental::Rental> {
        Arc::new(crate::rental::Rental::new(self.inner.rental()))
    }

    /// The points of the member logged in, else of this device.
    pub fn points(&self) -> Arc<crate::points::Points> {
        Arc::new(crate::points::Points::new(self.inner.points()))
    }

    /// This device's stable id.
    pub fn device_id(&self) -> String {
        self.inner.device_id()
    }

    /// Registers the device with the control plane, once.
    pub async fn register(&self) -> Result<Registration, EdgePointsError> {
        Ok(self.inner.register().await?.into())
    }

    /// The stored registration, if the device is registered.
    pub fn registration(&self) -> Result<Option<Registration>, EdgePointsError> {
        Ok(self.inner.registration()?.map(Into::into))
    }

    /// This device as an edge node.
    pub fn node(&self) -> Arc<EdgeNode> {
        Arc::new(EdgeNode::new(self.inner.node()))
    }

    /// Verified content kept on this device.
    pub fn content(&self) -> Arc<ContentCache> {
        Arc::new(ContentCache::new(self.inner.content()))
    }

    /// Whether the node may serve now, and if not, why.
    pub fn serving_gate(&self) -> ServingGate {
        self.inner.serving_gate().into()
    }

    /// Every mutating call, durable until the control plane answered it.
    pub fn outbox(&self) -> Arc<Outbox> {
        Arc::new(Outbox::new(self.inner.outbox()))
    }

    /// The user's consent to serving: grant, revoke, read.
    pub fn consent(&self) -> Arc<Consent> {
        Arc::new(Consent::new(self.inner.consent()))
    }

    /// What the host last said about the phone: network, battery, foreground.
    pub fn host_state(&self) -> Result<HostState, EdgePointsError> {
        Ok(self.inner.host_state()?.into())
    }

    /// Call from the host's connectivity callback.
    pub fn set_network(&self, network: NetworkKind) -> Result<HostState, EdgePointsError> {
        Ok(self.inner.set_network(network.into())?.into())
    }

    /// Call from the host's battery callback; `percent` is 0 to 100.
    pub fn set_battery(&self, percent: i32, charging: bool) -> Result<HostState, EdgePointsError> {
        Ok(self.inner.set_battery(unsigned("percent", percent)?, charging)?.into())
    }

    /// Call when the app moves to the foreground or background.
    pub fn set_foreground(&self, foreground: bool) -> Result<HostState, EdgePointsError> {
        Ok(self.inner.set_foreground(foreground)?.into())
    }

    /// Runs the SDK's pending work for at most `timeout_ms`: sends what the
    /// outbox holds, keeps the member's session (bringing their notices),
    /// and syncs the cache if consent and the policy allow it now. Call it
    /// from Android's WorkManager or an iOS background task; what does not
    /// fit waits for the next run (`finished` says whether all of it did).
    pub async fn run_pending(&self, timeout_ms: i64) -> Result<crate::background::BackgroundRun, EdgePointsError> {
        let budget = millis("timeout_ms", timeout_ms)?;
        Ok(self.inner.run_pending(budget).await?.into())
    }

    /// Ends the instance; the data directory can then be opened again.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await
    }
}
