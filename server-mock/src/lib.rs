//! The reference control plane of edgepoints, for integration tests and QA.
//!
//! A real HTTP server (axum on tokio) that plays the control plane: device
//! registration, consent, sync status, health, and an admin API for QA
//! (state dump, fault injection). Every mutating route goes through the
//! idempotency layer ([`idempotency`]), which follows the IETF httpapi
//! Idempotency-Key draft.
//!
//! Several instances can serve one state: in one process over a shared
//! [`ControlPlane`] (memory by default), or as separate processes over Redis
//! ([`store::RedisStore`]), so that failover is tested for real.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = edgepoints_mock_server::MockServer::start(Default::default()).await?;
//! println!("control plane at {}", server.url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod coupons;
pub mod device_keys;
pub mod faults;
pub mod geo;
pub mod idempotency;
pub mod loyalty;
pub mod members;
pub mod metrics;
pub mod notices;
pub mod openapi;
pub mod origin;
pub mod points;
mod probe;
mod problem;
mod registry;
pub mod rental;
pub mod review;
mod routes;
pub mod routing;
pub mod signature_batches;
pub mod state;
pub mod store;
pub mod testing;
pub mod vehicles;
mod verify;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use state::{ControlPlane, ControlPlaneKey};

/// How to start a single mock control plane on memory.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Seed of the control plane's signing key, for reproducible runs;
    /// `None` makes a random key.
    pub key_seed: Option<[u8; 32]>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            key_seed: None,
        }
    }
}

/// What one instance served (the shared state counts all instances).
#[derive(Debug, Default)]
pub struct InstanceStats {
    requests: AtomicU64,
}

impl InstanceStats {
    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A running mock instance. Dropping it without [`MockServer::shutdown`]
/// stops it too.
pub struct MockServer {
    addr: SocketAddr,
    control_plane: Arc<ControlPlane>,
    stats: Arc<InstanceStats>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// One instance over a fresh in-memory state, on the current runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        let control_plane = Arc::new(ControlPlane::in_memory(config.key_seed).await);
        Self::start_with(config.listen, control_plane).await
    }

    /// One more instance over an existing control-plane state.
    pub async fn start_with(listen: SocketAddr, control_plane: Arc<ControlPlane>) -> std::io::Result<MockServer> {
        // Counters record only once a recorder is installed.
        metrics::recorder();
        control_plane.start_background();
        if control_plane.hosts_vehicles() {
            control_plane.host_vehicles().await.map_err(std::io::Error::other)?;
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        // Answers go out as soon as they are written: a client waiting on
        // one small answer per request gains nothing from Nagle's batching.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let stats = Arc::new(InstanceStats::default());
        let app = routes::router(control_plane.clone(), stats.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "mock server stopped with an error");
            }
        });
        tracing::info!(%addr, store = %control_plane.store().describe(), "mock control plane listening");
        Ok(MockServer {
            addr,
            control_plane,
            stats,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `count` instances on ephemeral loopback ports over one state.
    pub async fn start_cluster(count: usize, control_plane: Arc<ControlPlane>) -> std::io::Result<Vec<MockServer>> {
        let mut servers = Vec::with_capacity(count);
        for _ in 0..count {
            servers.push(Self::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), control_plane.clone()).await?);
        }
        Ok(servers)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control_plane(&self) -> &Arc<ControlPlane> {
        &self.control_plane
    }

    /// API requests this instance received.
    pub fn requests_served(&self) -> u64 {
        self.stats.requests()
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
