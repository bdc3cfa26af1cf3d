//! The reference control plane of edgepoints, for integration tests and QA.
//!
//! A real HTTP server (axum on tokio) that plays the control plane: device
//! registration, consent, health, and an admin API for QA (state dump, fault
//! injection). Every mutating route goes through the idempotency layer
//! ([`idempotency`]), which follows the IETF httpapi Idempotency-Key draft.
//!
//! Start it in-process from a test:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = edgepoints_mock_server::MockServer::start(Default::default()).await?;
//! println!("control plane at {}", server.url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod faults;
pub mod idempotency;
mod problem;
mod routes;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use state::{ControlPlane, ControlPlaneKey};

/// How to start a mock control plane.
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

/// A running mock control plane. Dropping it without [`MockServer::shutdown`]
/// stops it too.
pub struct MockServer {
    addr: SocketAddr,
    control_plane: Arc<ControlPlane>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds and starts serving in the background on the current runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        let control_plane = Arc::new(ControlPlane::new(ControlPlaneKey::new(config.key_seed)?));
        Self::start_with(config.listen, control_plane).await
    }

    /// Starts one more instance over an existing control-plane state.
    pub async fn start_with(listen: SocketAddr, control_plane: Arc<ControlPlane>) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = routes::router(control_plane.clone());
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
        tracing::info!(%addr, "mock control plane listening");
        Ok(MockServer {
            addr,
            control_plane,
            stop: Some(stop),
            task: Some(task),
        })
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
