//! Rental on the control plane, through SDK instances: one winner among
//! members racing for a car (on the memory and the Redis store, over three
//! instances), holds that expire on the mock clock, one rental per member,
//! an end billed once with one SMS under faults and a killed queue
//! consumer, and a rental that goes on when its member's instance dies.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{EdgePoints, Error, Location, RentalPhase, VehicleLink, VehicleState};
use edgepoints_mock_server::rental::catalogue;
use edgepoints_mock_server::testing::RedisServer;
use edgepoints_mock_server::{points, ControlPlane, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
const HARBOUR: Location = Location {
    latitude: 48.1300,
    longitude: 11.5800,
};

/// A device of a new member on `endpoints`, logged in, with a link to cars.
async fn member(endpoints: &[String], dir: &std::path::Path, name: &str) -> EdgePoints {
    let sdk = EdgePoints::open(config(endpoints, dir), None).unwrap();
    sdk.members().sign_up(name, PASSWORD).await.unwrap();
    sdk.members().login(name, PASSWORD).await.unwrap();
    sdk.rental()
        .set_vehicle_link(Some(Arc::new(HttpVehicleLink::default()) as Arc<dyn VehicleLink>));
    sdk
}

async fn queues(server: &MockServer) -> Value {
    http()
        .get(format!("{}/admin/queues", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Bills and texts the workers made for `rental_id`.
async fn billed(server: &MockServer, rental_id: &str) -> (usize, usize) {
    let q = queues(server).await;
    let count = |what: &str| {
        q[what]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["rental_id"] == rental_id)
            .count()
    };
    (count("bills"), count("sms"))
}

/// Eight members race to reserve one car over three instances: one wins,
/// seven are told `vehicle_taken`; the winner cannot hold a second car.
async fn one_winner(control_plane: Arc<ControlPlane>) {
    catalogue::seed_demo(&control_plane).await.unwrap();
    let servers = MockServer::start_cluster(3, control_plane.clone()).await.unwrap();
    let mut dirs = Vec::new();
    let mut members = Vec::new();
    for i in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = vec![servers[i % 3].url()];
        members.push(member(&endpoint, dir.path(), &format!("racer{i}@example.com")).await);
        dirs.push(dir);
    }
    let mut races = tokio::task::JoinSet::new();
    for sdk in members.iter().cloned() {
        races.spawn(async move { (sdk.rental().reserve("ev-102").await, sdk) });
    }
    let outcomes = races.join_all().await;
    let winners: Vec<_> = outcomes.iter().filter(|(o, _)| o.is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        outcomes.iter().map(|(o, _)| o).collect::<Vec<_>>()
    );
    for (outcome, sdk) in outcomes.iter().filter(|(o, _)| o.is_err()) {
        assert!(matches!(outcome, Err(Error::VehicleTaken)), "{outcome:?}");
        assert_eq!(sdk.rental().status().unwrap().phase, RentalPhase::Idle);
    }
    let winner = &winners[0].1;
    assert_eq!(winner.rental().status().unwrap().phase, RentalPhase::Reserved);
    let second = winner.rental().reserve("ev-101").await;
    assert!(matches!(second, Err(Error::RentalState { .. })), "{second:?}");
    let reservations = catalogue::vehicles(&control_plane)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.state == VehicleState::Reserved)
        .count();
    assert_eq!(reservations, 1);
    for sdk in members {
        sdk.shutdown().await;
    }
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_racing_for_one_car_give_one_reservation_on_the_memory_store() {
    init_tracing();
    one_winner(Arc::new(ControlPlane::in_memory(None).await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_racing_for_one_car_give_one_reservation_on_the_redis_store() {
    init_tracing();
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    let store = edgepoints_mock_server::store::RedisStore::connect(&redis.url(), "rental")
        .await
        .unwrap();
    one_winner(Arc::new(ControlPlane::open(Arc::new(store), None).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_expires_on_the_clock_and_a_member_holds_one_rental() {
    let server = start_mock().await;
    catalogue::seed_demo(server.control_plane()).await.unwrap();
    // Sessions outlive the hold here: the clock moves past 15 minutes.
    let timeouts = edgepoints_protocol::SessionTimeouts {
        idle_ms: 3_600_000,
        ..Default::default()
    };
    edgepoints_mock_server::members::set_timeouts(server.control_plane(), timeouts)
        .await
        .unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = member(&[server.url()], dir_a.path(), "ada@example.com").await;
    let b = member(&[server.url()], dir_b.path(), "bea@example.com").await;
    a.rental().reserve("ev-201").await.unwrap();
    assert!(matches!(b.rental().reserve("ev-201").await, Err(Error::VehicleTaken)));
    // The control plane also holds one rental per member, whatever a
    // device's store says: a second device of the member is refused.
    let dir_a2 = tempfile::tempdir().unwrap();
    let a2 = EdgePoints::open(config(&[server.url()], dir_a2.path()), None).unwrap();
    a2.members().login("ada@example.com", PASSWORD).await.unwrap();
    let twice = a2.rental().reserve("ev-202").await;
    assert!(matches!(twice, Err(Error::AlreadyRenting { .. })), "{twice:?}");

    points::advance_clock(server.control_plane(), 16 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(a.rental().reconcile().await.unwrap().phase, RentalPhase::Expired);
    assert_eq!(
        b.rental().vehicle("ev-201").await.unwrap().state,
        VehicleState::Available
    );
    b.rental().reserve("ev-201").await.unwrap();
    let cancelled = b.rental().cancel().await.unwrap();
    assert_eq!(cancelled.phase, RentalPhase::Cancelled);
    assert_eq!(
        a.rental().vehicle("ev-201").await.unwrap().state,
        VehicleState::Available
    );
    // Illegal steps are typed and change nothing.
    let ended = b.rental().end().await;
    assert!(matches!(ended, Err(Error::RentalState { .. })), "{ended:?}");
    assert_eq!(b.rental().status().unwrap().phase, RentalPhase::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_under_faults_and_a_killed_consumer_bills_once_and_texts_once() {
    let server = start_mock().await;
    catalogue::seed_demo(server.control_plane()).await.unwrap();
    let settings = json!({ "claim_idle_ms": 300 });
    http()
        .put(format!("{}/admin/queues/settings", server.url()))
        .json(&settings)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sdk = member(&[server.url()], dir.path(), "faulty@example.com").await;
    sdk.rental().reserve("ev-101").await.unwrap();
    let running = sdk.rental().start().await.unwrap();
    let rental_id = running.rental.unwrap().rental_id;
    let link = running.vehicle.unwrap().link.unwrap();
    car(&link, "drive", json!({ "to": HARBOUR, "km": 3.0 })).await;
    for rule in [
        json!({"route": routes::DEVICE_RENTAL_END, "action": "fail", "status": 503, "count": 2}),
        json!({"route": routes::DEVICE_RENTAL_END, "action": "drop_after_commit", "count": 2}),
    ] {
        add_fault(&server, rule).await;
    }
    // Both consumers die: billing after its work, before acknowledging;
    // SMS right after reading.
    for (stream, at) in [("billing", "after_work"), ("sms", "after_read")] {
        http()
            .post(format!("{}/admin/queues/{stream}/crash", server.url()))
            .json(&json!({ "at": at }))
            .send()
            .await
            .unwrap();
    }
    let closed = sdk.rental().end().await.unwrap();
    assert_eq!(closed.phase, RentalPhase::Closed);
    eventually("the dead consumers' messages claimed and done", || async {
        let q = queues(&server).await;
        billed(&server, &rental_id).await == (1, 1)
            && q["streams"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["pending"].as_array().unwrap().is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(billed(&server, &rental_id).await, (1, 1), "redelivered, still once");
    let q = queues(&server).await;
    for stream in q["streams"].as_array().unwrap() {
        assert_eq!(stream["length"], 1, "one message per stream: {stream}");
    }
    // The SMS consumer died before its work: the one after it texted. The
    // billing one died after its work: the bill is its, acknowledged by the
    // one after it, not made again.
    assert!(
        q["sms"][0]["consumer"].as_str().unwrap().ends_with("sms-1"),
        "{}",
        q["sms"]
    );
    assert!(
        q["bills"][0]["consumer"].as_str().unwrap().ends_with("billing-0"),
        "{}",
        q["bills"]
    );
    let notices = sdk.members().heartbeat_now().await.unwrap();
    let mut kinds: Vec<_> = notices.iter().map(|n| n.kind.clone()).collect();
    kinds.sort();
    assert_eq!(kinds, ["rental_billed", "sms_sent"], "each notice once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_goes_on_when_its_members_instance_dies() {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    catalogue::seed_demo(&control_plane).await.unwrap();
    let mut servers = MockServer::start_cluster(2, control_plane.clone()).await.unwrap();
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let dir = tempfile::tempdir().unwrap();
    let sdk = member(&endpoints, dir.path(), "steady@example.com").await;
    sdk.rental().reserve("ev-102").await.unwrap();
    let running = sdk.rental().start().await.unwrap();
    let link = running.vehicle.unwrap().link.unwrap();
    // Kill the instance the member's calls went to.
    let session = &control_plane.dump().await.unwrap().sessions[0];
    let used = session.endpoint.clone().unwrap();
    let at = servers.iter().position(|s| s.addr().to_string() == used).unwrap();
    servers.remove(at).shutdown().await;
    sdk.rental().lock().await.unwrap();
    sdk.rental().unlock().await.unwrap();
    car(&link, "drive", json!({ "to": HARBOUR, "km": 2.0 })).await;
    let closed = sdk.rental().end().await.unwrap();
    assert_eq!(closed.phase, RentalPhase::Closed);
    let sessions = control_plane.dump().await.unwrap().sessions;
    assert_eq!(sessions.len(), 1, "no new login");
    assert_eq!(
        sessions[0].endpoint.as_deref(),
        Some(servers[0].addr().to_string().as_str())
    );
}
