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
mod conn;
mod heartbeat;
mod http;
mod limits;
mod sync;

pub use heartbeat::HeartbeatReport;
pub use sync::SyncReport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepoints_protocol::envelope::decode_public_key;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use rusqlite::OptionalExtension;

use self::conn::{Closing, Connection, TrackedBody, WatchedStream};
use self::http::ServeContext;
use self::limits::{TokenBucket, UploadMeter};
use crate::edgepoints::EdgePoints;
use crate::events::Event;
use crate::policy::ServingGate;
use crate::time::{unix_millis, utc_month};
use crate::{Error, StoreError};

/// A reply for connections over the limit: written raw, nothing parsed.
const TOO_MANY_CONNECTIONS: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The reply while the phone's state is outside the user's policy.
const PAUSED: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 60\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// How long a stopping node lets responses in flight finish.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How often the node's stats go to the host (when they changed) and its
/// monthly usage to the store.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The interfaces are listed every this many stats ticks, in case they
/// changed without the host saying so.
const ADDRESS_CHECK_TICKS: u64 = 10;

/// What a node has served since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub requests: u64,
    pub bytes_served: u64,
    /// Requests answered from the cache (200, 206, 304).
    pub hits: u64,
    /// Requests for items the node does not hold.
    pub misses: u64,
    /// Refusals by reason: `no_ticket`, `bad_ticket`, `not_found`,
    /// `too_many_connections`, `paused`, `monthly_cap`, …
    pub rejected: BTreeMap<String, u64>,
    /// Bytes served this calendar month (UTC), across restarts.
    pub uploaded_this_month_bytes: u64,
    /// The month's cap from the user's policy.
    pub monthly_cap_bytes: u64,
}

/// Counter stripes: each runtime thread counts on its own cache line, so
/// the hot path never bounces a shared line between cores.
const STRIPES: usize = 16;

#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    requests: AtomicU64,
    bytes_served: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The stripe of the calling thread.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|index| *index)
}

#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Stripe; STRIPES],
    rejected: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    pub(crate) fn request(&self) {
        self.mine().requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hit(&self) {
        self.mine().hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn served(&self, bytes: u64) {
        self.mine().bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn miss(&self) {
        self.mine().misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests and bytes served so far.
    fn totals(&self) -> (u64, u64) {
        let sum = |field: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| field(s).load(Ordering::Relaxed)).sum()
        };
        (sum(|s| &s.requests), sum(|s| &s.bytes_served))
    }

    pub(crate) fn reject(&self, reason: &str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason.to_owned())
            .or_default() += 1;
    }

    fn snapshot(&self, meter: &UploadMeter) -> NodeStats {
        let sum = |field: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| field(s).load(Ordering::Relaxed)).sum()
        };
        NodeStats {
            uploaded_this_month_bytes: meter.used(),
            monthly_cap_bytes: meter.cap(),
            requests: sum(|s| &s.requests),
            bytes_served: sum(|s| &s.bytes_served),
            hits: sum(|s| &s.hits),
            misses: sum(|s| &s.misses),
            rejected: self.rejected.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// The edge node of this device. Obtained from [`EdgePoints::node`].
#[derive(Clone)]
pub struct EdgeNode {
    sdk: EdgePoints,
}

/// Sends a running node's heartbeats on demand.
#[derive(Clone)]
pub struct NodeHeartbeats {
    sdk: EdgePoints,
    heartbeater: Arc<heartbeat::Heartbeater>,
}

impl NodeHeartbeats {
    /// One heartbeat now, saying whether the node serves.
    pub async fn beat_now(&self) -> Result<HeartbeatReport, Error> {
        let serving = matches!(self.sdk.serving_gate(), ServingGate::Serving);
        self.heartbeater.beat(serving).await
    }
}

/// A running node; dropping it stops it.
pub struct NodeHandle {
    sdk: EdgePoints,
    addr: SocketAddr,
    counters: Arc<Counters>,
    meter: Arc<UploadMeter>,
    heartbeater: Arc<heartbeat::Heartbeater>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EdgeNode {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        EdgeNode { sdk }
    }

    /// Starts serving on `listen` (port 0 picks one). The device must have
    /// consented; it registers first if needed, to learn the control
    /// plane's key for checking tickets.
    pub async fn start(&self, listen: SocketAddr) -> Result<NodeHandle, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        if !self.sdk.consent().state()?.is_granted() {
            return Err(Error::InvalidInput("the user has not consented to serve".into()));
        }
        let registration = self.sdk.register().await?;
        let control_plane_key = decode_public_key(&registration.control_plane_public_key)
            .map_err(|e| Error::Protocol(format!("control-plane key: {e}")))?;
        let listener = TcpListener::bind(listen).await.map_err(StoreError::Io)?;
        let addr = listener.local_addr().map_err(StoreError::Io)?;
        let counters = Arc::new(Counters::default());
        let meter = Arc::new(open_meter(shared, &self.sdk)?);
        let bucket = match shared.config.node_limits.upload_bytes_per_second {
            0 => None,
            rate => Some(Arc::new(TokenBucket::new(rate))),
        };
        let context = Arc::new(ServeContext {
            cache: self.sdk.content(),
            node_id: shared.identity.device_id().clone(),
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
        let limits = shared.config.node_limits.clone();
        let gate = shared.serving_gate.subscribe();
        let heartbeater = Arc::new(heartbeat::Heartbeater::new(self.sdk.clone(), counters.clone()));
        let mut tasks = vec![
            tokio::spawn(accept_loop(listener, context, limits, gate, stopped.clone())),
            tokio::spawn(tick(self.sdk.clone(), counters.clone(), meter.clone(), stopped.clone())),
        ];
        let url = format!("http://{}", advertised(addr));
        *shared.node_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        *shared.node_listen.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        announce::announce(&self.sdk, Some(url)).await?;
        // Beats start once the control plane knows where the node serves;
        // the first goes now. Not reaching the control plane does not stop
        // the node: the loop tries again later.
        let serving = matches!(*shared.serving_gate.borrow(), ServingGate::Serving);
        let first = heartbeater.beat(serving).await;
        tasks.push(tokio::spawn(heartbeat::run(
            heartbeater.clone(),
            first,
            shared.serving_gate.subscribe(),
            stopped,
        )));
        tracing::info!(%addr, "edge node serving");
        Ok(NodeHandle {
            sdk: self.sdk.clone(),
            addr,
            counters,
            meter,
            heartbeater,
            stop,
            tasks,
        })
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

/// The cap of the current consent (none without consent).
fn monthly_cap(sdk: &EdgePoints) -> Result<u64, Error> {
    Ok(match sdk.consent().state()?.status {
        crate::ConsentStatus::Granted { policy, .. } => policy.monthly_upload_cap_bytes,
        crate::ConsentStatus::Revoked { .. } | crate::ConsentStatus::NotAsked => 0,
    })
}

fn stored_usage(shared: &crate::edgepoints::Shared, month: &str) -> Result<u64, StoreError> {
    shared.store.with(|c| {
        Ok(
            c.query_row("SELECT bytes FROM upload_usage WHERE month = ?1", [month], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0) as u64,
        )
    })
}

fn open_meter(shared: &crate::edgepoints::Shared, sdk: &EdgePoints) -> Result<UploadMeter, Error> {
    let month = utc_month(unix_millis());
    let used = stored_usage(shared, &month)?;
    Ok(UploadMeter::new(month, used, monthly_cap(sdk)?))
}

fn store_usage(shared: &crate::edgepoints::Shared, month: &str, bytes: u64) -> Result<(), StoreError> {
    shared.store.with(|c| {
        c.execute(
            "INSERT INTO upload_usage (month, bytes) VALUES (?1, ?2)
             ON CONFLICT (month) DO UPDATE SET bytes = max(bytes, ?2)",
            rusqlite::params![month, bytes as i64],
        )?;
        Ok(())
    })
}

/// Once a second: writes the month's usage to the store, follows the cap of
/// the current consent and the turn of the month, and sends the node's
/// stats to the host when they changed. Flushes once more when stopped.
async fn tick(sdk: EdgePoints, counters: Arc<Counters>, meter: Arc<UploadMeter>, mut stopped: watch::Receiver<bool>) {
    let shared = sdk.shared();
    let mut interval = tokio::time::interval(STATS_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flushed = meter.used();
    let mut last_stats = None;
    let mut ticks = 0u64;
    loop {
        ticks += 1;
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            _ = stopped.changed() => true,
            _ = sdk.stopped() => true,
        };
        let outcome = (|| -> Result<(), Error> {
            let month = meter.month();
            if meter.used() != flushed {
                store_usage(shared, &month, meter.used())?;
                flushed = meter.used();
            }
            let now_month = utc_month(unix_millis());
            if now_month != month {
                let used = stored_usage(shared, &now_month)?;
                meter.roll_over(now_month, used);
                flushed = used;
            }
            meter.set_cap(monthly_cap(&sdk)?);
            if ticks.is_multiple_of(ADDRESS_CHECK_TICKS) {
                announce::addresses_changed(shared)?;
            }
            Ok(())
        })();
        if let Err(error) = outcome {
            tracing::warn!(%error, "node bookkeeping failed; will try again");
        }
        let stats = counters.snapshot(&meter);
        if last_stats.as_ref() != Some(&stats) {
            shared.events.emit(Event::NodeStats { stats: stats.clone() });
            last_stats = Some(stats);
        }
        if stopping {
            break;
        }
    }
}

impl NodeHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> NodeStats {
        self.counters.snapshot(&self.meter)
    }

    /// The reported addresses the control plane could reach at the last
    /// announcement (consumers are routed only to these).
    pub fn reachable_addresses(&self) -> Vec<String> {
        self.sdk
            .shared()
            .reachable_addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends a heartbeat now (the app may, say, on a network change) and
    /// returns what it earned.
    pub async fn heartbeat_now(&self) -> Result<HeartbeatReport, Error> {
        self.heartbeats().beat_now().await
    }

    /// A handle for sending heartbeats that can outlive a borrow of this one.
    pub fn heartbeats(&self) -> NodeHeartbeats {
        NodeHeartbeats {
            sdk: self.sdk.clone(),
            heartbeater: self.heartbeater.clone(),
        }
    }

    /// Stops accepting, closes open connections (within about a second),
    /// and tells the control plane the node is gone.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.withdraw();
    }

    /// Queues the "stopped" announcement; the outbox sends it.
    fn withdraw(&self) {
        let shared = self.sdk.shared();
        let url = shared.node_url.lock().unwrap_or_else(|p| p.into_inner()).take();
        shared.node_listen.lock().unwrap_or_else(|p| p.into_inner()).take();
        shared
            .reachable_addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        if url.is_some() && shared.ensure_open().is_ok() {
            match announce::queue(shared, None) {
                Ok(_) => shared.outbox_wake.notify_one(),
                Err(error) => tracing::warn!(%error, "cannot queue the node's stop announcement"),
            }
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.withdraw();
    }
}

/// Answers a connection with a canned refusal. The request is read first
/// (briefly) and the socket half-closed before the rest is drained: closing
/// a socket with unread bytes resets it, and the client would see a reset
/// instead of the 503.
async fn refuse(mut stream: tokio::net::TcpStream, reply: &'static [u8]) {
    let mut buffer = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(reply)).await;
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn accept_loop(
    listener: TcpListener,
    context: Arc<ServeContext>,
    limits: crate::NodeLimits,
    mut gate: watch::Receiver<ServingGate>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut live: Vec<std::sync::Weak<Connection>> = Vec::new();
    loop {
        let serving = match &*gate.borrow_and_update() {
            ServingGate::Serving => true,
            ServingGate::Paused { .. } => false,
            // Consent is gone: stop listening altogether.
            ServingGate::NoConsent => break,
        };
        // Requests check this flag rather than the gate itself: one load of
        // a line that rarely changes, instead of a lock per request.
        context.serving.store(serving, Ordering::Release);
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
            changed = gate.changed() => {
                if changed.is_err() {
                    break;
                }
                if !matches!(*gate.borrow(), ServingGate::Serving) {
                    // Paused or revoked: cut what is being served now.
                    context.serving.store(false, Ordering::Release);
                    connections.abort_all();
                } else if !serving {
                    // Serving again: announce, so the addresses are probed
                    // while the node answers.
                    if let Err(error) = announce::holdings_changed(context.sdk.shared()) {
                        tracing::warn!(%error, "cannot queue the announcement");
                    }
                }
                continue;
            }
        };
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: pause, do not spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The gate may have moved while this connection waited in the
        // backlog: decide on its value now.
        let serving = serving && matches!(*gate.borrow(), ServingGate::Serving);
        if !serving {
            context.counters.reject("paused");
            connections.spawn(refuse(stream, PAUSED));
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            context.counters.reject("too_many_connections");
            connections.spawn(refuse(stream, TOO_MANY_CONNECTIONS));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let context = context.clone();
        let limits = limits.clone();
        let connection = Arc::new(Connection::new());
        live.retain(|c| c.strong_count() > 0);
        live.push(Arc::downgrade(&connection));
        connections.spawn(async move {
            let _slot = slot;
            let service = {
                let connection = connection.clone();
                hyper::service::service_fn(move |request| {
                    let context = context.clone();
                    let connection = connection.clone();
                    async move {
                        let in_flight = connection.request_started();
                        let response = context.handle(request, &connection).await;
                        Ok::<_, std::convert::Infallible>(response.map(|body| TrackedBody::new(body, in_flight)))
                    }
                })
            };
            let http = http1::Builder::new()
                .max_buf_size(limits.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(WatchedStream::new(stream, connection.clone())), service);
            tokio::pin!(http);
            tokio::select! {
                _ = http.as_mut() => {}
                closing = connection.closing(limits.header_read_timeout) => match closing {
                    Closing::HeaderTimeout => tracing::debug!("connection closed by the header timeout"),
                    Closing::Stop => {
                        http.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(STOP_GRACE, http).await;
                    }
                },
            }
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    // Idle connections close now, responses in flight get a moment to end.
    for connection in live.iter().filter_map(std::sync::Weak::upgrade) {
        connection.stop();
    }
    let _ = tokio::time::timeout(STOP_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    tracing::info!("edge node stopped");
}
