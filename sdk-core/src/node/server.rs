//! The node's listener: accepts within the connection limit, refuses at
//! once what it cannot serve (over the limit, paused), follows the serving
//! gate, and on stop closes idle connections at once and gives responses
//! in flight a moment.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::announce;
use super::conn::{Closing, Connection, TrackedBody, WatchedStream};
use super::http::ServeContext;
use crate::policy::ServingGate;

/// A reply for connections over the limit: written raw, nothing parsed.
const TOO_MANY_CONNECTIONS: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The reply while the phone's state is outside the user's policy.
const PAUSED: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 60\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// How long a stopping node lets responses in flight finish.
const STOP_GRACE: Duration = Duration::from_secs(1);

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

pub(super) async fn accept_loop(
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
                    if let Err(error) = announce::reannounce_running_node(context.sdk.shared()) {
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
