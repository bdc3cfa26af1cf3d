//! Separate mock processes sharing their state through Redis: one instance
//! dies, the member's calls go on at the other without a new registration.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edgepoints_core::{Config, ConsentPolicy, EdgePoints, OutlierPolicy};
use edgepoints_mock_server::testing::RedisServer;

struct MockProcess {
    child: Child,
    url: String,
}

impl MockProcess {
    fn start(redis: &str, namespace: &str) -> MockProcess {
        Self::start_with(redis, namespace, &[])
    }

    fn start_with(redis: &str, namespace: &str, extra: &[&str]) -> MockProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgepoints-mock-server"))
            .args(["--listen", "127.0.0.1:0", "--store", redis, "--namespace", namespace])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mock server starts");
        let first = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .unwrap()
            .unwrap();
        let url = first
            .strip_prefix("edgepoints-mock-server listening on ")
            .expect("address line")
            .to_owned();
        MockProcess { child, url }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_state_through_redis_and_fail_over() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    let namespace = format!("failover-{}", std::process::id());
    let a = MockProcess::start(&redis.url(), &namespace);
    let b = MockProcess::start(&redis.url(), &namespace);

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(vec![a.url.parse().unwrap(), b.url.parse().unwrap()], dir.path());
    config.retry.base_delay = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(100);
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        ..OutlierPolicy::default()
    };
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.register().await.unwrap();
    let first = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert!(first.reported);

    // Kill whichever process the device sticks to.
    let sticky = sdk.current_endpoint().as_str().trim_end_matches('/').to_owned();
    let (dead, alive) = if sticky == a.url { (a, b) } else { (b, a) };
    drop(dead);
    let second = sdk.consent().revoke(true).await.unwrap();
    assert!(second.reported, "the other process took over");
    assert_eq!(sdk.current_endpoint().as_str().trim_end_matches('/'), alive.url);

    let client = edgepoints_core::transport::http_client().unwrap();
    let state: serde_json::Value = client
        .get(format!("{}/admin/state", alive.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["applied"]["registrations"], 1, "registered once, seen by both");
    assert_eq!(state["devices"][0]["consent_history"], serde_json::json!([1, 2]));
    assert!(state["store"].as_str().unwrap().starts_with("redis://"));
    sdk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_session_outlives_the_process_it_was_opened_on() {
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    let namespace = format!("members-{}", std::process::id());
    let a = MockProcess::start(&redis.url(), &namespace);
    let b = MockProcess::start(&redis.url(), &namespace);

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(vec![a.url.parse().unwrap(), b.url.parse().unwrap()], dir.path());
    config.retry.base_delay = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(100);
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        ..OutlierPolicy::default()
    };
    let sdk = EdgePoints::open(config, None).unwrap();
    let session = sdk
        .members()
        .login(
            edgepoints_mock_server::members::DEMO_MEMBERS[0],
            edgepoints_mock_server::members::DEMO_PASSWORD,
        )
        .await
        .unwrap();

    // Kill the process the member sticks to: the other one knows the
    // session from Redis, so calls go on without a new login.
    let sticky = sdk.current_endpoint().as_str().trim_end_matches('/').to_owned();
    let (dead, alive) = if sticky == a.url { (a, b) } else { (b, a) };
    drop(dead);
    let checked = sdk.members().check_session().await.unwrap();
    assert_eq!(checked.member_id, session.member_id);
    sdk.members().heartbeat_now().await.unwrap();
    assert_eq!(sdk.current_endpoint().as_str().trim_end_matches('/'), alive.url);

    let admin = edgepoints_mock_server::testing::AdminClient::new(
        &alive.url,
        edgepoints_core::transport::http_client().unwrap(),
    );
    let state = admin.state().await.unwrap();
    assert_eq!(
        state
            .requests
            .get(edgepoints_protocol::paths::routes::DEVICE_LOGIN)
            .copied(),
        Some(1),
        "one login, on the process that died"
    );
    let sessions = admin.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    let alive_host = alive.url.trim_start_matches("http://");
    assert_eq!(
        sessions[0].endpoint.as_deref(),
        Some(alive_host),
        "the session records the process that serves it now"
    );
    sdk.shutdown().await;
}

/// A car hosted by the test (as a real car lives apart from the control
/// plane), rented through two processes over Redis: the process the member
/// sticks to dies mid-rental, and the rental goes on at the other without
/// a new login, to a bill made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_outlives_the_process_it_was_started_on() {
    use std::sync::Arc;

    use edgepoints_core::{RentalPhase, VehicleLink};
    use edgepoints_mock_server::store::RedisStore;
    use edgepoints_mock_server::ControlPlane;

    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    let namespace = format!("rental-{}", std::process::id());
    let a = MockProcess::start_with(&redis.url(), &namespace, &["--no-vehicles"]);
    let b = MockProcess::start_with(&redis.url(), &namespace, &["--no-vehicles"]);
    let store = RedisStore::connect(&redis.url(), &namespace).await.unwrap();
    let plane = Arc::new(ControlPlane::open(Arc::new(store), None).await.unwrap());
    let fleet = plane.host_vehicles().await.unwrap();
    assert_eq!(fleet.vehicle_ids().len(), 6, "the demo city's cars");

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(vec![a.url.parse().unwrap(), b.url.parse().unwrap()], dir.path());
    config.retry.base_delay = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(100);
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        ..OutlierPolicy::default()
    };
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.members()
        .login(
            edgepoints_mock_server::members::DEMO_MEMBERS[1],
            edgepoints_mock_server::members::DEMO_PASSWORD,
        )
        .await
        .unwrap();
    let rental = sdk.rental();
    rental.set_vehicle_link(Some(Arc::new(HttpLink) as Arc<dyn VehicleLink>));
    rental.reserve("ev-201").await.unwrap();
    assert_eq!(rental.start().await.unwrap().phase, RentalPhase::Running);

    let sticky = sdk.current_endpoint().as_str().trim_end_matches('/').to_owned();
    let (dead, alive) = if sticky == a.url { (a, b) } else { (b, a) };
    drop(dead);
    rental.lock().await.unwrap();
    rental.unlock().await.unwrap();
    let car = fleet.car("ev-201").unwrap();
    car.drive(
        &serde_json::from_value(serde_json::json!({
            "to": { "latitude": 48.1402, "longitude": 11.5600 }, "km": 2.5
        }))
        .unwrap(),
    )
    .unwrap();
    let closed = rental.end().await.unwrap();
    assert_eq!(closed.phase, RentalPhase::Closed);
    assert_eq!(sdk.current_endpoint().as_str().trim_end_matches('/'), alive.url);

    let admin = edgepoints_mock_server::testing::AdminClient::new(
        &alive.url,
        edgepoints_core::transport::http_client().unwrap(),
    );
    let state = admin.state().await.unwrap();
    assert_eq!(
        state
            .requests
            .get(edgepoints_protocol::paths::routes::DEVICE_LOGIN)
            .copied(),
        Some(1),
        "one login, on the process that died"
    );
    // The surviving process's (or the test's) consumers bill it, once.
    let client = edgepoints_core::transport::http_client().unwrap();
    let mut bills = 0;
    for _ in 0..100 {
        let queues: serde_json::Value = client
            .get(format!("{}/admin/queues", alive.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        bills = queues["bills"].as_array().unwrap().len();
        if bills > 0 && queues["sms"].as_array().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bills, 1);
    sdk.shutdown().await;
}

/// The host's link to the simulated cars: HTTP to their `link` address.
struct HttpLink;

impl edgepoints_core::VehicleLink for HttpLink {
    fn exchange(
        &self,
        _vehicle_id: String,
        address: String,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, edgepoints_core::VehicleLinkError> {
        tokio::runtime::Handle::current().block_on(async move {
            let client = edgepoints_core::transport::http_client().unwrap();
            let answer = client
                .post(format!("{address}/link"))
                .body(request)
                .send()
                .await
                .map_err(|e| edgepoints_core::VehicleLinkError::new(e.to_string()))?;
            answer
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| edgepoints_core::VehicleLinkError::new(e.to_string()))
        })
    }
}
