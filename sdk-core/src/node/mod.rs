//! The edge node: serves verified content from the cache over HTTP/1.1
//! (hyper) to users the control plane routed here, each request carrying
//! an access ticket the node checks offline.
//!
//! Limits: connections beyond `max_connections` get an immediate 503 (not a
//! queue that grows), request heads must arrive within the header timeout
//! and fit the head size limit, and stopping the node closes every
//! connection within a second.
//!
//! Policy: the node follows the serving gate (consent against the phone's
//! state). When the phone leaves the policy, open connections are cut at
//! once and new ones get 503 until it is back; when consent is revoked the
//! listener closes.

mod addresses;
pub(crate) mod announce;
mod body;
mod bookkeeping;
mod conn;
mod handle;
mod heartbeat;
mod http;
mod server;
mod stats;
mod sync;
mod token_bucket;
mod upload_meter;

pub use handle::NodeHandle;
pub use heartbeat::HeartbeatReport;
pub use stats::NodeStats;
pub use sync::SyncReport;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use edgepoints_protocol::envelope::decode_public_key;
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::http::ServeContext;
use self::stats::Counters;
use self::token_bucket::TokenBucket;
use crate::edgepoints::EdgePoints;
use crate::policy::ServingGate;
use crate::presence::ServingNode;
use crate::{Error, StoreError};

/// The edge node of this device. Obtained from [`EdgePoints::node`].
#[derive(Clone)]
pub struct EdgeNode {
    sdk: EdgePoints,
}

impl EdgeNode {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        EdgeNode { sdk }
    }

    /// Starts serving on `listen` (port 0 picks one). The device must have
    /// consented; it registers first if needed, to learn the control
    /// plane's key for checking tickets. [`Error::NoConsent`] without
    /// consent.
    pub async fn start(&self, listen: SocketAddr) -> Result<NodeHandle, Error> {
        let node = self.clone();
        self.sdk
            .on_runtime(async move { node.start_on_runtime(listen).await })
            .await
    }

    async fn start_on_runtime(&self, listen: SocketAddr) -> Result<NodeHandle, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        if !self.sdk.consent().state()?.is_granted() {
            return Err(Error::NoConsent);
        }
        let registration = self.sdk.register().await?;
        let control_plane_key = decode_public_key(&registration.control_plane_public_key)
            .map_err(|e| Error::Protocol(format!("control-plane key: {e}")))?;
        let listener = TcpListener::bind(listen).await.map_err(StoreError::Io)?;
        let addr = listener.local_addr().map_err(StoreError::Io)?;
        let counters = Arc::new(Counters::default());
        let meter = Arc::new(upload_meter::open_meter(shared)?);
        let bucket = match shared.config().node_limits.upload_bytes_per_second {
            0 => None,
            rate => Some(Arc::new(TokenBucket::new(rate))),
        };
        let context = Arc::new(ServeContext {
            cache: self.sdk.content(),
            node_id: shared.identity().device_id().clone(),
            key_id: registration.control_plane_key_id,
            key: control_plane_key,
            tickets: http::ticket_cache(),
            sdk: self.sdk.clone(),
            counters: counters.clone(),
            serving: AtomicBool::new(false),
            meter: meter.clone(),
            bucket,
        });
        let (stop, stopped) = watch::channel(false);
        let limits = shared.config().node_limits.clone();
        let gate = shared.serving_gate().subscribe();
        let heartbeater = Arc::new(heartbeat::Heartbeater::new(self.sdk.shared_arc(), counters.clone()));
        let mut tasks = vec![
            shared.spawn(server::accept_loop(listener, context, limits, gate, stopped.clone())),
            shared.spawn(bookkeeping::run(
                self.sdk.shared_arc(),
                counters.clone(),
                meter.clone(),
                stopped.clone(),
            )),
        ];
        let url = format!("http://{}", advertised(addr));
        shared.presence().serving(ServingNode {
            url: url.clone(),
            listen: addr,
        });
        announce::announce(shared, Some(url)).await?;
        // Beats start once the control plane knows where the node serves;
        // the first goes now. Not reaching the control plane does not stop
        // the node: the loop tries again later.
        let serving = matches!(*shared.serving_gate().borrow(), ServingGate::Serving);
        let first = heartbeater.beat(serving).await;
        tasks.push(shared.spawn(heartbeat::run(
            heartbeater.clone(),
            first,
            shared.serving_gate().subscribe(),
            stopped,
        )));
        tracing::info!(%addr, "edge node serving");
        Ok(NodeHandle::new(
            self.sdk.clone(),
            addr,
            counters,
            meter,
            heartbeater,
            stop,
            tasks,
        ))
    }
}

/// The address to announce for a listener. A wildcard listener is
/// announced on loopback here; the device's interface addresses, probed
/// by the control plane, are reported by presence.
fn advertised(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    SocketAddr::new(ip, addr.port())
}
