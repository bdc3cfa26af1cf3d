//! Helpers for the end-to-end scenarios in `tests/tests/`: a mock control
//! plane on loopback, SDK instances on their own data directories, and raw
//! HTTP for the cases the SDK never produces (tampered, malformed, replayed).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use edgepoints_core::{Config, EdgePoints, Event, EventListener, HostCallbackError, RetryPolicy};
use edgepoints_mock_server::state::StateDump;
use edgepoints_mock_server::testing::AdminClient;
use edgepoints_mock_server::{MockConfig, MockServer};
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{DeviceId, DeviceRegistration, Purpose, SignedEnvelope, IDEMPOTENCY_KEY_HEADER};
use serde_json::Value;

/// Starts a mock control plane on an ephemeral loopback port.
pub async fn start_mock() -> MockServer {
    init_tracing();
    MockServer::start(MockConfig::default())
        .await
        .expect("mock server starts")
}

/// Test logs go to the test's captured output; `RUST_LOG` widens them.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// SDK settings for tests: short timeouts and quick retries.
pub fn config(endpoints: &[String], data_dir: &Path) -> Config {
    let mut config = Config::new(
        endpoints.iter().map(|e| e.parse().expect("endpoint URL")).collect(),
        data_dir,
    );
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
    config.platform = "test".into();
    config.app_version = "1.0".into();
    config
}

pub fn open_sdk(server: &MockServer, data_dir: &Path) -> EdgePoints {
    EdgePoints::open(config(&[server.url()], data_dir), None).expect("SDK opens")
}

/// A new device: an SDK instance on a fresh data directory (kept as long
/// as the returned folder lives).
pub fn new_device(server: &MockServer) -> (tempfile::TempDir, EdgePoints) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let sdk = open_sdk(server, dir.path());
    (dir, sdk)
}

/// Records every event an SDK instance sends.
#[derive(Default)]
pub struct EventRecorder(pub Mutex<Vec<Event>>);

impl EventListener for EventRecorder {
    fn on_event(&self, event: Event) -> Result<(), HostCallbackError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
}

impl EventRecorder {
    /// The events so far, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

/// A node that consented, is on Wi-Fi and charging, synced the manifest,
/// and serves on loopback (its first heartbeat went out in `start`).
pub async fn serving_node(
    server: &MockServer,
    dir: &Path,
    listener: Option<std::sync::Arc<dyn edgepoints_core::EventListener>>,
) -> (EdgePoints, edgepoints_core::NodeHandle) {
    serving_node_with(server, dir, listener, |_| {}).await
}

/// [`serving_node`] with its configuration changed by `tune` first.
pub async fn serving_node_with(
    server: &MockServer,
    dir: &Path,
    listener: Option<std::sync::Arc<dyn edgepoints_core::EventListener>>,
    tune: impl FnOnce(&mut Config),
) -> (EdgePoints, edgepoints_core::NodeHandle) {
    let mut config = config(&[server.url()], dir);
    tune(&mut config);
    let sdk = EdgePoints::open(config, listener).unwrap();
    let node = start_serving(&sdk, edgepoints_core::ConsentPolicy::default(), "127.0.0.1:0").await;
    (sdk, node)
}

/// Makes `sdk` a serving node: consent under `policy`, Wi-Fi, charging at
/// 80 %, the manifest synced, and the node started on `listen`.
pub async fn start_serving(
    sdk: &EdgePoints,
    policy: edgepoints_core::ConsentPolicy,
    listen: &str,
) -> edgepoints_core::NodeHandle {
    sdk.consent().grant("t", policy).await.unwrap();
    sdk.set_network(edgepoints_core::NetworkKind::Wifi).unwrap();
    sdk.set_battery(80, true).unwrap();
    sdk.node().sync().await.unwrap();
    sdk.node().start(listen.parse().unwrap()).await.unwrap()
}

/// The bytes of a test item of `len` bytes; different `seed`s give
/// different items (and hashes).
pub fn item(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 131 + seed as usize * 7) % 251) as u8).collect()
}

/// A device that serves: its folder (kept as long as this lives), its SDK
/// instance and its running node.
pub struct Peer {
    pub dir: tempfile::TempDir,
    pub sdk: EdgePoints,
    pub node: edgepoints_core::NodeHandle,
}

/// Where most consumer-fetch scenes start: `bytes` published on the origin
/// (priority 10, so every sync takes it) and a node that synced it and
/// serves, its configuration changed by `tune`. Consumers come from
/// [`new_device`].
pub struct FetchScene {
    pub bytes: Vec<u8>,
    pub published: edgepoints_protocol::ManifestItem,
    pub alice: Peer,
}

pub async fn fetch_scene(server: &MockServer, bytes: Vec<u8>, tune: impl FnOnce(&mut Config)) -> FetchScene {
    let published = edgepoints_mock_server::origin::publish(server.control_plane(), bytes.clone().into(), 10)
        .await
        .expect("item published");
    let dir = tempfile::tempdir().expect("temporary folder");
    let (sdk, node) = serving_node_with(server, dir.path(), None, tune).await;
    FetchScene {
        bytes,
        published,
        alice: Peer { dir, sdk, node },
    }
}

/// Polls until `check` holds, for at most ten seconds (the outbox and the
/// node's loops work in the background).
pub async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Flips one bit of the node's cached file of `hash`, at byte `at`: the
/// copy rots on disk after it was verified, and the node does not know.
pub fn rot_cached_copy(data_dir: &Path, hash: &edgepoints_core::ContentHash, at: usize) {
    let file = data_dir.join("content").join(hash.to_hex());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[at] ^= 0x80;
    std::fs::write(&file, bytes).unwrap();
}

/// A plain HTTP client with the SDK's TLS setup (the workspace builds
/// reqwest without a default crypto provider).
pub fn http() -> reqwest::Client {
    edgepoints_core::transport::http_client().unwrap()
}

/// The control plane's state (`GET /admin/state`), typed.
pub async fn admin_state(server: &MockServer) -> StateDump {
    admin(server).state().await.expect("admin state")
}

/// The mock's typed admin client.
pub fn admin(server: &MockServer) -> AdminClient {
    AdminClient::new(&server.url(), http())
}

/// How many requests the mock received on `route` (a key of
/// `edgepoints_protocol::paths::routes`).
pub async fn requests_on(server: &MockServer, route: &str) -> u64 {
    admin(server).requests_on(route).await.expect("admin state")
}

pub async fn applied(server: &MockServer, what: &str) -> u64 {
    admin(server).applied(what).await.expect("admin state")
}

/// Adds a fault rule over the admin API; a refused rule fails the test.
pub async fn add_fault(server: &MockServer, rule: Value) {
    admin(server).add_fault(&rule).await.expect("fault rule accepted");
}

/// Moves the mock's clock past the next UTC midnight when fewer than
/// `span` of today are left: a test that counts a day's points must not
/// see the day turn half way (run near midnight, it would).
pub async fn clear_of_midnight(server: &MockServer, span: std::time::Duration) {
    const DAY_MS: u64 = 86_400_000;
    let now = edgepoints_mock_server::points::now(server.control_plane())
        .await
        .unwrap();
    let left = DAY_MS - now % DAY_MS;
    if left <= span.as_millis() as u64 {
        // A minute into the next day, so the span fits whole.
        edgepoints_mock_server::points::advance_clock(server.control_plane(), left + 60_000)
            .await
            .unwrap();
    }
}

/// The wall clock in ms since the Unix epoch, as signed requests carry it.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A device key that is not the SDK's, for hand-made requests.
pub fn device_key(seed: u8) -> (SigningKey, DeviceId) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let id = DeviceId::from_public_key(&key.verifying_key());
    (key, id)
}

/// A correctly signed registration envelope for `key`.
pub fn signed_registration(key: &SigningKey, app_version: &str) -> SignedEnvelope {
    let id = DeviceId::from_public_key(&key.verifying_key());
    let payload = DeviceRegistration {
        device_id: id.clone(),
        public_key: encode_public_key(&key.verifying_key()),
        platform: "test".into(),
        app_version: app_version.into(),
        sdk_version: "0".into(),
    };
    SignedEnvelope::sign(Purpose::DeviceRegistration, id.as_str(), key, &payload)
}

/// POSTs `body` as it is with an idempotency key; returns status, the
/// `Idempotent-Replayed` header and the body as JSON (or `Null`).
pub async fn post_raw(server: &MockServer, path: &str, key: Option<&str>, body: Vec<u8>) -> (u16, bool, String, Value) {
    send_raw(server, reqwest::Method::POST, path, key, body).await
}

pub async fn send_raw(
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Vec<u8>,
) -> (u16, bool, String, Value) {
    let mut request = http()
        .request(method, format!("{}{}", server.url(), path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header(IDEMPOTENCY_KEY_HEADER, key);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await.expect("body");
    (
        status,
        replayed,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

/// A fresh idempotency key.
pub fn fresh_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("randomness");
    hex::encode(bytes)
}

/// A registered device with a key of its own, sending by hand what the SDK
/// would send (and what it never would).
pub struct Phone {
    pub key: SigningKey,
    pub id: DeviceId,
}

impl Phone {
    /// Registers a device whose key is made from `seed`.
    pub async fn registered(server: &MockServer, seed: u8) -> Phone {
        let (key, id) = device_key(seed);
        let body = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
        let (status, ..) = post_raw(server, edgepoints_protocol::paths::DEVICES, Some(&fresh_key()), body).await;
        assert!(status == 201 || status == 200, "registration: {status}");
        Phone { key, id }
    }

    /// `payload` in an envelope signed for `purpose`.
    pub fn envelope<T: serde::Serialize>(&self, purpose: Purpose, payload: &T) -> Vec<u8> {
        serde_json::to_vec(&SignedEnvelope::sign(purpose, self.id.as_str(), &self.key, payload)).unwrap()
    }

    /// POSTs `payload` signed for `purpose` to `path` with a fresh key;
    /// the status and the answer.
    pub async fn post(
        &self,
        server: &MockServer,
        path: &str,
        purpose: Purpose,
        payload: &impl serde::Serialize,
    ) -> (u16, Value) {
        let (status, _, _, answer) = post_raw(server, path, Some(&fresh_key()), self.envelope(purpose, payload)).await;
        (status, answer)
    }
}

/// A plain `GET` of `path` on `server`, its JSON answer as `T`.
pub async fn get_json<T: serde::de::DeserializeOwned>(server: &MockServer, path: &str) -> T {
    http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer")
}

/// The host's link to the mock's simulated cars: their `link` is an HTTP
/// address, where a phone's would be a Bluetooth one. Counts exchanges and
/// can be told to fail the next ones (a link that drops).
#[derive(Default)]
pub struct HttpVehicleLink {
    pub exchanges: std::sync::atomic::AtomicU32,
    pub fail_next: std::sync::atomic::AtomicU32,
    /// Every request carried, in order (for replays).
    pub sent: Mutex<Vec<Vec<u8>>>,
}

impl HttpVehicleLink {
    /// The requests carried so far.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.sent.lock().unwrap().clone()
    }
}

/// Sends raw link bytes to a simulated car, as a replaying attacker near
/// it would; the car's answer, decoded without checking its signature.
pub async fn replay_to_car(address: &str, request: Vec<u8>) -> Value {
    let answer: SignedEnvelope = http()
        .post(format!("{address}/link"))
        .body(request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    serde_json::from_slice(&answer.unverified_payload().unwrap()).unwrap()
}

impl edgepoints_core::VehicleLink for HttpVehicleLink {
    fn exchange(
        &self,
        _vehicle_id: String,
        address: String,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, edgepoints_core::VehicleLinkError> {
        use std::sync::atomic::Ordering;
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        self.sent.lock().unwrap().push(request.clone());
        if self
            .fail_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(edgepoints_core::VehicleLinkError::new("link dropped (test)"));
        }
        // The SDK calls links on its blocking pool, inside its runtime.
        tokio::runtime::Handle::current().block_on(async move {
            let answer = http()
                .post(format!("{address}/link"))
                .body(request)
                .send()
                .await
                .map_err(|e| edgepoints_core::VehicleLinkError::new(e.to_string()))?;
            if !answer.status().is_success() {
                return Err(edgepoints_core::VehicleLinkError::new(format!(
                    "the car's link answered {}",
                    answer.status()
                )));
            }
            answer
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| edgepoints_core::VehicleLinkError::new(e.to_string()))
        })
    }
}

/// QA's hand on a simulated car: `POST {link}/sim/{what}` with `body`.
pub async fn car(link: &str, what: &str, body: Value) -> Value {
    let answer = http()
        .post(format!("{link}/sim/{what}"))
        .json(&body)
        .send()
        .await
        .expect("the simulated car answers");
    answer.json().await.expect("the simulated car answers JSON")
}

/// The car's own view of itself.
pub async fn car_view(link: &str) -> Value {
    http()
        .get(format!("{link}/sim"))
        .send()
        .await
        .expect("the simulated car answers")
        .json()
        .await
        .expect("JSON")
}
