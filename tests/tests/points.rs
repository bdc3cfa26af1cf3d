//! Heartbeats and points: the control plane credits online time between
//! accepted heartbeats of a serving, consenting, announced node, within the
//! gap limit and the daily cap; forged, replayed and out-of-order
//! heartbeats are refused with a reason and credit nothing. The mock's
//! clock is moved forward, so minutes pass in milliseconds.

use std::sync::Arc;

use edgepoints_core::{EdgePoints, Error, Event, EventListener, LedgerReason, NetworkKind, NodeHandle};
use edgepoints_mock_server::{points, MockServer};
use edgepoints_protocol::{paths, Heartbeat, PointsRules, ProblemCode, Purpose, SignedEnvelope};
use edgepoints_tests::*;

async fn set_rules(server: &MockServer, rules: PointsRules) {
    points::set_rules(server.control_plane(), rules).await.unwrap();
}

/// A serving node; its first heartbeat went at start.
async fn node(
    server: &MockServer,
    dir: &std::path::Path,
    events: Option<Arc<EventRecorder>>,
) -> (EdgePoints, NodeHandle) {
    serving_node(server, dir, events.map(|e| e as Arc<dyn EventListener>)).await
}

/// Waits until the control plane accepted `count` heartbeats in all.
async fn wait_for_beats(server: &MockServer, count: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while applied(server, "heartbeats").await < count {
        assert!(std::time::Instant::now() < deadline, "the node's loop did not beat");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Moves the mock's clock and beats: the control plane sees `step_ms` pass.
async fn beat_after(server: &MockServer, node: &NodeHandle, step_ms: u64) -> edgepoints_core::HeartbeatReport {
    points::advance_clock(server.control_plane(), step_ms).await.unwrap();
    node.heartbeat_now().await.unwrap()
}

#[tokio::test]
async fn ten_minutes_of_heartbeats_earn_exactly_the_configured_points() {
    let server = start_mock().await;
    set_rules(
        &server,
        PointsRules {
            points_per_online_minute: 3,
            ..PointsRules::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(EventRecorder::default());
    let (sdk, node) = node(&server, dir.path(), Some(events.clone())).await;
    node.heartbeat_now().await.unwrap();
    // 20 beats 30 s apart: 10 minutes.
    let mut credited = 0;
    for _ in 0..20 {
        credited += beat_after(&server, &node, 30_000).await.credited_points;
    }
    assert_eq!(credited, 30, "10 full minutes at 3 points each");
    let balance = sdk.points().balance().await.unwrap();
    assert_eq!(balance.balance, 30);
    assert_eq!(balance.owner, sdk.device_id());
    assert!(
        balance.online_ms >= 600_000 && balance.online_ms < 601_000,
        "{balance:?}"
    );
    let ledger = sdk.points().ledger(0).await.unwrap();
    assert_eq!(ledger.entries.iter().map(|e| e.points).sum::<i64>(), 30);
    assert!(ledger.entries.iter().all(|e| e.reason == LedgerReason::OnlineTime));
    let heard: u64 = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::PointsCredited { points, reason, .. } => {
                assert_eq!(*reason, LedgerReason::OnlineTime);
                Some(*points)
            }
            _ => None,
        })
        .sum();
    assert_eq!(heard, 30, "every credit reached the app as an event");
}

#[tokio::test]
async fn a_gap_earns_nothing_for_the_gap_and_a_pause_is_not_credited() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = node(&server, dir.path(), None).await;
    node.heartbeat_now().await.unwrap();
    assert_eq!(beat_after(&server, &node, 30_000).await.credited_online_ms / 1000, 30);
    // Silent for five minutes (more than two intervals): nothing for it.
    let after_gap = beat_after(&server, &node, 300_000).await;
    assert_eq!(after_gap.credited_online_ms, 0);
    assert_eq!(beat_after(&server, &node, 30_000).await.credited_online_ms / 1000, 30);

    // Paused (cellular is outside the policy): the node's loop reports the
    // pause at once, and the paused span is not credited, however short.
    let before = applied(&server, "heartbeats").await;
    sdk.set_network(NetworkKind::Cellular).unwrap();
    wait_for_beats(&server, before + 1).await;
    let during = beat_after(&server, &node, 20_000).await;
    assert_eq!(during.credited_online_ms, 0, "nothing while paused");
    let before = applied(&server, "heartbeats").await;
    sdk.set_network(NetworkKind::Wifi).unwrap();
    // Serving again: the loop beats at once, closing the paused span unpaid.
    wait_for_beats(&server, before + 1).await;
    assert_eq!(beat_after(&server, &node, 30_000).await.credited_online_ms / 1000, 30);
    let balance = sdk.points().balance().await.unwrap();
    assert!(balance.online_ms >= 90_000 && balance.online_ms < 91_000, "{balance:?}");
}

#[tokio::test]
async fn a_node_started_paused_beats_once_and_is_silent_until_it_serves() {
    let server = start_mock().await;
    set_rules(
        &server,
        PointsRules {
            heartbeat_interval_ms: 100,
            ..PointsRules::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.consent()
        .grant("t", edgepoints_core::ConsentPolicy::default())
        .await
        .unwrap();
    // The default policy serves on Wi-Fi only: on cellular, the node is paused.
    sdk.set_network(NetworkKind::Cellular).unwrap();
    sdk.set_battery(80, true).unwrap();
    let before = applied(&server, "heartbeats").await;
    let _node = sdk.node().start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    wait_for_beats(&server, before + 1).await;
    // Ten intervals pass: a paused node has nothing to say (and no timer).
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(applied(&server, "heartbeats").await, before + 1, "beats while paused");

    sdk.set_network(NetworkKind::Wifi).unwrap();
    // Serving: a beat at once, then one per interval.
    wait_for_beats(&server, before + 4).await;
}

#[tokio::test]
async fn the_daily_cap_holds() {
    let server = start_mock().await;
    set_rules(
        &server,
        PointsRules {
            points_per_online_minute: 2,
            daily_cap: 7,
            ..PointsRules::default()
        },
    )
    .await;
    // Twenty beats of 30 s: ten minutes of one day.
    clear_of_midnight(&server, std::time::Duration::from_secs(15 * 60)).await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = node(&server, dir.path(), None).await;
    node.heartbeat_now().await.unwrap();
    for _ in 0..20 {
        beat_after(&server, &node, 30_000).await;
    }
    let balance = sdk.points().balance().await.unwrap();
    assert_eq!((balance.balance, balance.today, balance.daily_cap), (7, 7, 7));
    let ledger = sdk.points().ledger(0).await.unwrap();
    assert!(
        ledger.entries.last().unwrap().detail.contains("daily cap"),
        "{ledger:?}"
    );
    // The next day earns again.
    points::advance_clock(server.control_plane(), 86_400_000).await.unwrap();
    node.heartbeat_now().await.unwrap();
    for _ in 0..2 {
        beat_after(&server, &node, 30_000).await;
    }
    assert_eq!(sdk.points().balance().await.unwrap().balance, 9);
}

#[tokio::test]
async fn forged_replayed_and_out_of_order_heartbeats_are_refused_and_credit_nothing() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = node(&server, dir.path(), None).await;
    let first = node.heartbeat_now().await.unwrap();
    let latest = beat_after(&server, &node, 30_000).await;
    let balance = sdk.points().balance().await.unwrap();
    let device = edgepoints_protocol::DeviceId::parse(&sdk.device_id()).unwrap();
    let path = paths::device_heartbeats(device.as_str());
    let heartbeat = |seq| Heartbeat {
        device_id: device.clone(),
        seq,
        serving: true,
        requests_delta: 0,
        bytes_delta: 1 << 40,
        sent_at_ms: 0,
    };
    points::advance_clock(server.control_plane(), 30_000).await.unwrap();

    // Forged: signed by another key.
    let (other_key, _) = device_key(9);
    let forged = SignedEnvelope::sign(Purpose::Heartbeat, device.as_str(), &other_key, &heartbeat(1_000));
    let (status, _, _, problem) =
        post_raw(&server, &path, Some("forged-1"), serde_json::to_vec(&forged).unwrap()).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(problem["code"], ProblemCode::BadSignature.as_str());

    // Replayed (the latest sequence again) and out of order (an older
    // one): correctly signed by the device, refused with the reason.
    for (seq, key) in [(latest.seq, "replay-1"), (first.seq, "older-1")] {
        let genuine = sdk_signed_heartbeat(&sdk, heartbeat(seq));
        let (status, _, _, problem) = post_raw(&server, &path, Some(key), genuine).await;
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["code"], ProblemCode::HeartbeatOutOfOrder.as_str());
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("not above the last accepted"));
    }

    assert_eq!(sdk.points().balance().await.unwrap(), balance, "nothing credited");
    // The node's own next beats still go through: its sequence is intact.
    for _ in 0..2 {
        match node.heartbeat_now().await {
            Ok(_) => {}
            Err(Error::Rejected { problem, .. }) => panic!("refused: {problem}"),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(applied(&server, "heartbeats_refused").await, 2);
}

/// Signs `heartbeat` with the SDK's device key, as a captured request would
/// carry it, by reading the key from the SDK's store file.
fn sdk_signed_heartbeat(sdk: &EdgePoints, heartbeat: Heartbeat) -> Vec<u8> {
    let database = sdk.config().data_dir.join(edgepoints_core::DATABASE_FILE);
    let connection = rusqlite::Connection::open(database).unwrap();
    let secret: Vec<u8> = connection
        .query_row("SELECT secret FROM secrets WHERE name = 'device-key'", [], |r| r.get(0))
        .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&secret.try_into().unwrap());
    let envelope = SignedEnvelope::sign(Purpose::Heartbeat, heartbeat.device_id.as_str(), &key, &heartbeat);
    serde_json::to_vec(&envelope).unwrap()
}
