//! The SDK against the mock control plane over loopback: identity, consent,
//! registration, retries.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{ConsentPolicy, ConsentStatus, EdgePoints, Error, Event, EventListener, NetworkKind};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

#[tokio::test]
async fn identity_and_consent_survive_a_restart() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = ConsentPolicy {
        charging_only: true,
        ..ConsentPolicy::default()
    };
    let (device_id, granted) = {
        let sdk = open_sdk(&server, dir.path());
        sdk.register().await.unwrap();
        let granted = sdk.consent().grant("2026-11", policy.clone()).await.unwrap();
        sdk.set_network(NetworkKind::Wifi).unwrap();
        sdk.shutdown().await;
        (sdk.device_id(), granted)
    };
    let sdk = open_sdk(&server, dir.path());
    assert_eq!(sdk.device_id(), device_id);
    assert_eq!(sdk.consent().state().unwrap(), granted);
    assert!(granted.reported);
    assert_eq!(sdk.host_state().unwrap().network, NetworkKind::Wifi);
    // Registering again after the restart is answered locally.
    let before = requests_on(&server, routes::DEVICES).await;
    sdk.register().await.unwrap();
    assert_eq!(requests_on(&server, routes::DEVICES).await, before);
    assert_eq!(applied(&server, "registrations").await, 1);
}

#[tokio::test]
async fn a_transient_503_is_retried_and_succeeds() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "fail", "status": 503, "count": 2}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let registration = sdk.register().await.unwrap();
    assert_eq!(registration.device_id, sdk.device_id());
    assert_eq!(requests_on(&server, routes::DEVICES).await, 3);
    assert_eq!(applied(&server, "registrations").await, 1);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "fail", "status": 400, "count": 1}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    match sdk.register().await {
        Err(Error::Rejected { status: 400, problem }) => {
            assert_eq!(problem.code, edgepoints_core::ProblemCode::InjectedFault);
        }
        other => panic!("expected a 400 rejection, got {other:?}"),
    }
    assert_eq!(requests_on(&server, routes::DEVICES).await, 1);
    assert!(sdk.registration().unwrap().is_none());
}

#[tokio::test]
async fn retries_give_up_with_a_typed_error_and_the_same_key_succeeds_later() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "fail", "status": 503, "count": 5}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let error = sdk.register().await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { attempts: 5, .. }), "{error:?}");
    assert!(error.is_transient());
    sdk.register().await.unwrap();
    assert_eq!(applied(&server, "registrations").await, 1);
    assert_eq!(requests_on(&server, routes::DEVICES).await, 6);
}

/// The server commits, but the answer never arrives in time (the client
/// times out). Retries carry the same key: 409 while the first still runs,
/// then the stored result. Applied once.
#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_applied_once() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "delay", "delay_ms": 600}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&[server.url()], dir.path());
    config.request_timeout = std::time::Duration::from_millis(250);
    config.retry.max_attempts = 20;
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.register().await.unwrap();
    assert!(
        requests_on(&server, routes::DEVICES).await >= 2,
        "the first answer was lost"
    );
    assert_eq!(applied(&server, "registrations").await, 1);
    assert_eq!(admin_state(&server).await.idempotency_records, 1);
}

/// The app dies after sending: the key was stored before the first send,
/// so the restarted app's call is the same request and is answered from the
/// stored result.
#[tokio::test]
async fn a_call_cut_short_by_a_restart_is_the_same_request_after_it() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "delay", "delay_ms": 400}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut config = config(&[server.url()], dir.path());
        config.request_timeout = std::time::Duration::from_millis(100);
        config.retry.max_attempts = 1;
        let sdk = EdgePoints::open(config, None).unwrap();
        assert!(sdk.register().await.unwrap_err().is_transient());
        sdk.shutdown().await;
    }
    // Let the first request commit on the server.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(applied(&server, "registrations").await, 1);
    let sdk = open_sdk(&server, dir.path());
    sdk.register().await.unwrap();
    assert_eq!(applied(&server, "registrations").await, 1);
    // One key, one stored result: a fresh key would have left a second record.
    assert_eq!(admin_state(&server).await.idempotency_records, 1);
}

#[tokio::test]
async fn consent_flow_reports_every_decision_in_order() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(EventRecorder::default());
    let sdk = EdgePoints::open(config(&[server.url()], dir.path()), Some(recorder.clone())).unwrap();
    assert_eq!(sdk.consent().state().unwrap().status, ConsentStatus::NotAsked);
    let granted = sdk.consent().grant("2026-11", ConsentPolicy::default()).await.unwrap();
    assert_eq!(granted.revision, 1);
    let revoked = sdk.consent().revoke(true).await.unwrap();
    assert_eq!(revoked.status, ConsentStatus::Revoked { purge_cache: true });
    assert_eq!(revoked.revision, 2);
    assert!(revoked.reported);
    let state = admin_state(&server).await;
    assert_eq!(state.devices[0].consent.as_ref().map(|c| c.revision), Some(2));
    assert_eq!(state.applied["consent_reports"], 2);
    let events = recorder.0.lock().unwrap().clone();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Registered { .. } => "registered",
            Event::ConsentChanged { .. } => "changed",
            Event::ConsentReported { .. } => "reported",
            Event::ConsentReportPending { .. } => "pending",
            Event::HostStateChanged { .. } => "host",
            Event::OutboxEntryCompleted { .. } => "sent",
            Event::SyncProgress { .. } => "sync",
            Event::OutboxEntryFailed { .. } => "failed",
            Event::NodeStats { .. } => "node",
            Event::PointsCredited { .. } | Event::PointsSpent { .. } => "points",
            Event::AddressesProbed { .. } => "probed",
            Event::LoggedIn { .. } | Event::LoggedOut { .. } | Event::SessionExpired { .. } => "member",
            Event::NoticeReceived { .. } => "notice",
            Event::CouponClaimed { .. } | Event::CouponGivenBack { .. } | Event::RedemptionConflict { .. } => "coupon",
            Event::RentalChanged { .. } => "rental",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "changed",
            "registered",
            "sent",
            "reported",
            "sent",
            "changed",
            "reported",
            "sent"
        ]
    );
}

#[tokio::test]
async fn bad_input_is_typed_and_changes_nothing() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let bad = ConsentPolicy {
        min_battery_percent: 101,
        ..ConsentPolicy::default()
    };
    assert!(matches!(
        sdk.consent().grant("t", bad).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        sdk.consent().grant("bad terms", ConsentPolicy::default()).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(sdk.set_battery(200, true), Err(Error::InvalidInput(_))));
    assert_eq!(sdk.consent().state().unwrap().revision, 0);
    assert_eq!(sdk.host_state().unwrap(), Default::default());
    let state = admin_state(&server).await;
    assert!(state.devices.is_empty(), "nothing reached the control plane");
}

#[tokio::test]
async fn consent_granted_offline_is_kept_and_reported_later_with_its_key() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(EventRecorder::default());
    let sdk = EdgePoints::open(config(&[server.url()], dir.path()), Some(recorder.clone())).unwrap();
    sdk.register().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "fail", "count": 5}),
    )
    .await;
    let state = sdk.consent().grant("2026-11", ConsentPolicy::default()).await.unwrap();
    assert!(state.is_granted());
    assert!(!state.reported);
    assert!(recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::ConsentReportPending { revision: 1, .. })));
    let reported = sdk.consent().report_pending().await.unwrap();
    assert!(reported.reported);
    assert_eq!(applied(&server, "consent_reports").await, 1);
}

#[tokio::test]
async fn one_instance_per_data_directory() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let first = open_sdk(&server, dir.path());
    assert!(matches!(
        EdgePoints::open(config(&[server.url()], dir.path()), None),
        Err(Error::DataDirectoryInUse(_))
    ));
    first.shutdown().await;
    assert!(matches!(first.register().await, Err(Error::ShutDown)));
    let second = open_sdk(&server, dir.path());
    assert_eq!(second.device_id(), first.device_id());
}

#[tokio::test]
async fn failing_endpoint_moves_calls_to_the_next_one() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    // The first endpoint refuses connections; the second is the mock.
    let sdk = EdgePoints::open(config(&["http://127.0.0.1:1".into(), server.url()], dir.path()), None).unwrap();
    sdk.register().await.unwrap();
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert_eq!(applied(&server, "consent_reports").await, 1);
}

#[tokio::test]
async fn a_decision_made_offline_is_reported_by_the_next_process() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut offline = config(&["http://127.0.0.1:1".into()], dir.path());
        offline.retry.max_attempts = 2;
        let sdk = EdgePoints::open(offline, None).unwrap();
        let state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
        assert!(!state.reported);
        sdk.shutdown().await;
    }
    let sdk = open_sdk(&server, dir.path());
    let state = tokio::time::timeout(std::time::Duration::from_secs(10), sdk.consent().report_pending())
        .await
        .expect("reported in time")
        .unwrap();
    assert!(state.reported);
    assert_eq!(applied(&server, "registrations").await, 1);
    assert_eq!(applied(&server, "consent_reports").await, 1);
}

/// A listener with a bug: every event fails, one way or another.
struct BrokenListener {
    calls: std::sync::atomic::AtomicU64,
}

impl EventListener for BrokenListener {
    fn on_event(&self, _event: Event) -> Result<(), edgepoints_core::HostCallbackError> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if call.is_multiple_of(2) {
            Err(edgepoints_core::HostCallbackError::new("listener bug"))
        } else {
            panic!("listener bug")
        }
    }
}

#[tokio::test]
async fn a_listener_that_fails_or_panics_changes_no_outcome() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let listener = Arc::new(BrokenListener {
        calls: Default::default(),
    });
    let before = edgepoints_core::host_callback_failures().event_listener;
    let sdk = EdgePoints::open(config(&[server.url()], dir.path()), Some(listener.clone())).unwrap();
    let granted = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert!(granted.reported, "the worker went on past the failing events");
    sdk.set_network(edgepoints_core::NetworkKind::Wifi).unwrap();
    let revoked = sdk.consent().revoke(false).await.unwrap();
    assert!(revoked.reported);
    assert_eq!(sdk.outbox().drain(Duration::from_secs(5)).await.unwrap().pending, 0);
    let calls = listener.calls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(calls >= 6, "events were sent: {calls}");
    // Other tests in this process may count failures too: at least ours.
    assert!(edgepoints_core::host_callback_failures().event_listener - before >= calls);
    assert_eq!(applied(&server, "consent_reports").await, 2);
}
