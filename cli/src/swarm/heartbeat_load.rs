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

use ed25519_dalek::SigningKey;
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{
    paths, DeviceId, DeviceRegistration, Heartbeat, Purpose, SignedEnvelope, IDEMPOTENCY_KEY_HEADER,
};
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

/// Sends `calls` in order on one connection until done or `deadline`;
/// (sent, accepted, refused, errors).
async fn send(http: reqwest::Client, base: String, calls: Vec<Call>, deadline: Instant) -> (u64, u64, u64, u64) {
    let (mut sent, mut accepted, mut refused, mut errors) = (0, 0, 0, 0);
    for call in calls {
        if Instant::now() >= deadline {
            break;
        }
        sent += 1;
        let answer = http
            .post(format!("{base}{}", call.path))
            .header(IDEMPOTENCY_KEY_HEADER, call.key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(call.body)
            .send()
            .await;
        match answer.map(|a| a.status().as_u16()) {
            Ok(200) => accepted += 1,
            Ok(409) => refused += 1,
            _ => errors += 1,
        }
    }
    (sent, accepted, refused, errors)
}

pub(super) async fn measure(
    endpoints: &[url::Url],
    nodes: usize,
    connections: usize,
    duration: Duration,
) -> CliResult<LoadReport> {
    let connections = connections.clamp(1, nodes.max(1));
    let base = endpoints[0].as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?;
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
        registrations.spawn(send(http.clone(), base.clone(), calls, far));
    }
    let mut registered = 0;
    while let Some(done) = registrations.join_next().await {
        let (sent, _, _, errors) = done?;
        registered += sent - errors;
    }
    if registered != nodes as u64 {
        return Err(format!("only {registered} of {nodes} simulated nodes registered").into());
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
        workers.spawn(send(http.clone(), base.clone(), calls, deadline));
    }
    let (mut sent, mut accepted, mut refused, mut errors) = (0, 0, 0, 0);
    while let Some(done) = workers.join_next().await {
        let (s, a, r, e) = done?;
        sent += s;
        accepted += a;
        refused += r;
        errors += e;
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
        ran_dry: sent == rounds * nodes as u64 && started.elapsed() < duration,
    })
}
