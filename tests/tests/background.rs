//! The app's background work, as WorkManager or an iOS background task runs
//! it: one bounded call sends what the outbox holds, keeps the member's
//! session and brings their notices, and syncs the cache where the policy
//! allows — or says what did not fit in the time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgepoints_core::{ConsentPolicy, EdgePoints, Event, EventListener, NetworkKind, ServingGate};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn a_background_run_sends_what_waited_brings_notices_and_syncs() {
    let server = start_mock().await;
    edgepoints_mock_server::origin::publish(server.control_plane(), item(1, 4_000).into(), 10)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(EventRecorder::default());
    let sdk = EdgePoints::open(
        config(&[server.url()], dir.path()),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .unwrap();
    sdk.members().sign_up("bea", PASSWORD).await.unwrap();
    let session = sdk.members().login("bea", PASSWORD).await.unwrap();
    // The consent report cannot get through while the app is open.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 503, "count": 1000}),
    )
    .await;
    sdk.consent().grant("2026-11", ConsentPolicy::default()).await.unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(80, false).unwrap();
    // The app goes to the background: the node may not serve there ...
    sdk.set_foreground(false).unwrap();
    assert!(matches!(sdk.serving_gate(), ServingGate::Paused { reason } if reason.contains("background")));
    assert_eq!(sdk.outbox().status().unwrap().pending, 1);
    admin(&server).reset_faults().await.unwrap();
    admin(&server)
        .post_notice(&session.member_id, "message", "your car is charged")
        .await
        .unwrap();

    // ... and the scheduler wakes it later.
    let run = sdk.run_pending(Duration::from_secs(20)).await.unwrap();
    assert!(run.finished, "{run:?}");
    assert_eq!(run.outbox.pending, 0);
    assert_eq!(applied(&server, "consent_reports").await, 1, "the waiting report, once");
    assert_eq!(run.notices, 1);
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::NoticeReceived { notice } if notice.text == "your car is charged")));
    // The cache is the node's: while the node may not serve, nothing is
    // prefetched either.
    assert_eq!(run.sync, None);
    assert!(run.sync_skipped.unwrap().contains("background"));

    // On screen again, the next run syncs.
    sdk.set_foreground(true).unwrap();
    let run = sdk.run_pending(Duration::from_secs(20)).await.unwrap();
    assert!(run.finished, "{run:?}");
    assert!(run.sync.expect("synced").fetched >= 1);
    sdk.shutdown().await;
}

#[tokio::test]
async fn a_background_run_ends_within_its_time_and_says_what_did_not_fit() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.consent().grant("2026-11", ConsentPolicy::default()).await.unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(80, true).unwrap();
    sdk.outbox().drain(Duration::from_secs(10)).await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::MANIFEST, "action": "delay", "delay_ms": 4000, "count": 1}),
    )
    .await;
    let started = Instant::now();
    let run = sdk.run_pending(Duration::from_millis(500)).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "bounded by its budget: {took:?}");
    assert!(!run.finished, "{run:?}");
    assert_eq!(run.sync, None);
    assert_eq!(run.sync_skipped.as_deref(), Some("out of time"));
    sdk.shutdown().await;
}
