//! The heartbeat load the control plane holds. Lightweight simulated nodes
//! — each a registered device with its own Ed25519 key and nothing else —
//! send signed heartbeats over keep-alive connections as fast as the
//! control plane answers, for a fixed time. Every heartbeat is a real one:
//! its own envelope, a sequence number above the last, its own
//! idempotency key; the control plane verifies, records and answers each.
//!
//! The heartbeats are signed before the clock starts, as phones sign their
//! own: signing here would take CPU from the server on the same machine.
//! So the generator signs at most `RATE_CAP` per second of the run; a
//! control plane faster than that shows as the generator running dry.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{
    paths, DeviceId, DeviceRegistration, Heartbeat, Purpose, SignedEnvelope, IDEMPOTENCY_KEY_HEADER,
};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::CliResult;

/// Most heartbeats per second of the run signed in advance.
const RATE_CAP: u64 = 30_000;

#[derive(Debug, Clone, Serialize)]
pub(super) struct LoadReport {
    pub(super) nodes: usize,
    pub(super) connections: usize,
    pub(super) seconds: f64,
    pub(super) sent: u64,
    pub(super) accepted: u64,
    /// Refused as duplicate or out of order (none expected).
    pub(super) refused: u64,
    /// Anything else: transport errors, other statuses.
    pub(super) errors: u64,
    pub(super) accepted_per_s: f64,
    /// The generator sent every heartbeat it had signed before the time was up.
    pub(super) ran_dry: bool,
    /// The first answer that was neither accepted nor refused, if any.
    pub(super) first_error: Option<String>,
}

impl LoadReport {
    pub(super) fn describe(&self) -> String {
        format!(
            "{:.0} signed heartbeats/s accepted ({} of {} in {:.1} s from {} simulated nodes over {} connections; {} refused, {} errors{})",
            self.accepted_per_s,
            self.accepted,
            self.sent,
            self.seconds,
            self.nodes,
            self.connections,
            self.refused,
            self.errors,
            if self.ran_dry { "; the generator ran dry: the control plane is faster than this" } else { "" }
        )
    }
}

/// One simulated node.
struct Node {
    device_id: DeviceId,
    key: SigningKey,
}

impl Node {
    fn new(rng: &mut StdRng) -> Node {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let key = SigningKey::from_bytes(&secret);
        Node {
            device_id: DeviceId::from_public_key(&key.verifying_key()),
            key,
        }
    }

    fn sign<T: Serialize>(&self, purpose: Purpose, payload: &T) -> Vec<u8> {
        let envelope = SignedEnvelope::sign(purpose, self.device_id.as_str(), &self.key, payload);
        serde_json::to_vec(&envelope).expect("envelopes serialise")
    }
}

/// One request, ready to send.
struct Call {
    path: String,
    key: String,
    body: Vec<u8>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What one connection's calls came to.
#[derive(Default)]
struct Tally {
    sent: u64,
    accepted: u64,
    refused: u64,
    errors: u64,
    /// The first error, for the message if nothing gets through.
    first_error: Option<String>,
}

/// One keep-alive HTTP/1.1 connection to the control plane, used by one
/// worker: requests go out in order, as a phone's do. A bare hyper client,
/// not the SDK's: the generator shares the machine's cores with the server
/// it measures, so it should cost as little as it can.
struct Connection {
    host: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(base: &url::Url) -> Result<Connection, String> {
        let host = base.host_str().ok_or("the control plane's URL names no host")?;
        let port = base
            .port_or_known_default()
            .ok_or("the control plane's URL names no port")?;
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Connection {
            host: format!("{host}:{port}"),
            sender,
        })
    }

    /// Sends `call`; the answer's status and, unless it is `ok`, its body.
    async fn post(&mut self, call: Call, ok: u16) -> Result<(u16, String), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = http::Request::post(call.path)
            .header(http::header::HOST, &self.host)
            .header(IDEMPOTENCY_KEY_HEADER, call.key)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(call.body)))
            .map_err(|e| e.to_string())?;
        let answer = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let text = if status == ok {
            String::new()
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        Ok((status, text))
    }
}

/// Sends `calls` in order on one connection until done or `deadline`;
/// `accepted` counts the answers with status `ok`.
async fn send(base: url::Url, calls: Vec<Call>, deadline: Instant, ok: u16) -> Tally {
    let mut tally = Tally::default();
    let mut connection = None;
    for call in calls {
        if Instant::now() >= deadline {
            break;
        }
        tally.sent += 1;
        if connection.is_none() {
            match Connection::open(&base).await {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    tally.errors += 1;
                    tally.first_error.get_or_insert(error);
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else { continue };
        match open.post(call, ok).await {
            Ok((status, _)) if status == ok => tally.accepted += 1,
            Ok((409, _)) => tally.refused += 1,
            Ok((status, body)) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| format!("{status}: {body}"));
            }
            Err(error) => {
                // A broken connection is opened again for the next call.
                tally.errors += 1;
                tally.first_error.get_or_insert(error);
                connection = None;
            }
        }
    }
    tally
}

pub(super) async fn measure(
    endpoints: &[url::Url],
    nodes: usize,
    connections: usize,
    duration: Duration,
) -> CliResult<LoadReport> {
    let connections = connections.clamp(1, nodes.max(1));
    let base = endpoints[0].clone();
    if base.scheme() != "http" {
        return Err(format!(
            "the heartbeat load speaks plain HTTP on loopback, not {}",
            base.scheme()
        )
        .into());
    }
    let mut rng = StdRng::seed_from_u64(0x6865_6172_7462_6561);
    let fleet: Vec<Node> = (0..nodes).map(|_| Node::new(&mut rng)).collect();

    // Register every node, `connections` at a time.
    let mut registrations = JoinSet::new();
    for (worker, chunk) in fleet.chunks(nodes.div_ceil(connections)).enumerate() {
        let calls: Vec<Call> = chunk
            .iter()
            .enumerate()
            .map(|(n, node)| Call {
                path: paths::DEVICES.to_owned(),
                key: format!("swarm-load-register-{worker}-{n}-{}", node.device_id.as_str()),
                body: node.sign(
                    Purpose::DeviceRegistration,
                    &DeviceRegistration {
                        device_id: node.device_id.clone(),
                        public_key: encode_public_key(&node.key.verifying_key()),
                        platform: "swarm-load".into(),
                        app_version: env!("CARGO_PKG_VERSION").into(),
                        sdk_version: env!("CARGO_PKG_VERSION").into(),
                    },
                ),
            })
            .collect();
        let far = Instant::now() + Duration::from_secs(600);
        registrations.spawn(send(base.clone(), calls, far, 201));
    }
    let mut registered = 0;
    let mut why = None;
    while let Some(done) = registrations.join_next().await {
        let tally = done?;
        registered += tally.accepted;
        why = why.or(tally.first_error);
    }
    if registered != nodes as u64 {
        return Err(format!(
            "only {registered} of {nodes} simulated nodes registered: {}",
            why.unwrap_or_default()
        )
        .into());
    }

    // Sign every heartbeat the run may send: round by round, each node's
    // sequence rising, each connection with its own share of the nodes.
    let budget = RATE_CAP * duration.as_secs().max(1);
    let rounds = budget.div_ceil(nodes as u64).max(1);
    let mut queues: Vec<Vec<Call>> = (0..connections).map(|_| Vec::new()).collect();
    let sent_at_ms = now_ms();
    for seq in 1..=rounds {
        for (n, node) in fleet.iter().enumerate() {
            let heartbeat = Heartbeat {
                device_id: node.device_id.clone(),
                seq,
                serving: true,
                requests_delta: 0,
                bytes_delta: 0,
                sent_at_ms,
            };
            queues[n % connections].push(Call {
                path: paths::device_heartbeats(node.device_id.as_str()),
                key: format!("swarm-load-{}-{seq}", node.device_id.as_str()),
                body: node.sign(Purpose::Heartbeat, &heartbeat),
            });
        }
    }

    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for calls in queues {
        workers.spawn(send(base.clone(), calls, deadline, 200));
    }
    let (mut sent, mut accepted, mut refused, mut errors) = (0, 0, 0, 0);
    let mut first_error = None;
    while let Some(done) = workers.join_next().await {
        let tally = done?;
        sent += tally.sent;
        accepted += tally.accepted;
        refused += tally.refused;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    let elapsed = started.elapsed().min(duration).as_secs_f64().max(1e-3);
    Ok(LoadReport {
        nodes,
        connections,
        seconds: elapsed,
        sent,
        accepted,
        refused,
        errors,
        accepted_per_s: accepted as f64 / elapsed,
        first_error,
        ran_dry: sent == rounds * nodes as u64 && started.elapsed() < duration,
    })
}
