//! Reliable calls: the outbox, the endpoint ring with failover, the retry
//! budget and the sync-status query, against real mock instances.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{ConsentPolicy, EdgePoints, Error, OutlierPolicy, RetryBudgetPolicy};
use edgepoints_mock_server::{ControlPlane, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

#[tokio::test]
async fn an_answer_dropped_after_commit_is_replayed_not_applied_twice() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert!(state.reported);
    // The retry asks what became of the call and gets the stored answer.
    assert_eq!(requests_on(&server, routes::DEVICE_CONSENT).await, 1, "not sent twice");
    assert_eq!(requests_on(&server, routes::DEVICE_OPERATION).await, 1);
    assert_eq!(applied(&server, "consent_reports").await, 1);
    let dump = admin_state(&server).await;
    assert!(dump.executions.duplicates.is_empty());
    assert_eq!(dump.devices[0].consent_history, vec![1]);
}

/// The app dies with an answer outstanding; the next process asks the
/// control plane what became of it instead of sending it again.
#[tokio::test]
async fn after_a_restart_the_status_of_an_unanswered_call_is_asked_first() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let sdk = open_sdk(&server, dir.path());
        sdk.register().await.unwrap();
        add_fault(
            &server,
            json!({"route": routes::DEVICE_CONSENT, "action": "drop_after_commit", "count": 1}),
        )
        .await;
        let mut short = config(&[server.url()], dir.path());
        short.retry.max_attempts = 1;
        sdk.shutdown().await;
        let sdk = EdgePoints::open(short, None).unwrap();
        let state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
        assert!(!state.reported, "the answer was lost");
        sdk.shutdown().await;
    }
    assert_eq!(applied(&server, "consent_reports").await, 1, "the server did commit");
    let sdk = open_sdk(&server, dir.path());
    let drained = sdk.outbox().drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(drained.pending, 0);
    assert!(sdk.consent().state().unwrap().reported);
    assert_eq!(requests_on(&server, routes::DEVICE_CONSENT).await, 1, "not sent again");
    assert_eq!(requests_on(&server, routes::DEVICE_OPERATION).await, 1, "asked once");
    assert_eq!(applied(&server, "consent_reports").await, 1);
}

#[tokio::test]
async fn a_final_refusal_ends_the_entry_with_an_event_and_the_stream_goes_on() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(EventRecorder::default());
    let sdk = EdgePoints::open(config(&[server.url()], dir.path()), Some(events.clone())).unwrap();
    sdk.register().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 422, "count": 1}),
    )
    .await;
    let first = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert!(!first.reported);
    let second = sdk.consent().revoke(false).await.unwrap();
    assert!(second.reported, "the entry behind the failed one went on");
    let status = sdk.outbox().status().unwrap();
    assert_eq!((status.pending, status.failed), (0, 1));
    assert!(events.events().iter().any(|e| matches!(
        e,
        edgepoints_core::Event::OutboxEntryFailed { status: 422, code, .. } if code == "injected_fault"
    )));
    assert_eq!(admin_state(&server).await.devices[0].consent_history, vec![2]);
}

/// Lost answers again and again: every resend carries the same key and is
/// answered from the stored result.
#[tokio::test]
async fn answers_lost_again_and_again_are_replayed_with_the_same_key() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.register().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "drop_after_commit", "count": 3}),
    )
    .await;
    // The status query fails too, so the SDK must resend.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_OPERATION, "action": "fail", "status": 503}),
    )
    .await;
    let state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    assert!(state.reported);
    assert_eq!(
        requests_on(&server, routes::DEVICE_CONSENT).await,
        4,
        "three answers lost, the fourth replayed"
    );
    assert_eq!(applied(&server, "consent_reports").await, 1);
    let dump = admin_state(&server).await;
    assert!(dump.executions.duplicates.is_empty());
    assert_eq!(dump.devices[0].consent_history, vec![1]);
}

#[tokio::test]
async fn the_sticky_endpoint_fails_over_and_comes_back() {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    let mut servers = MockServer::start_cluster(3, control_plane.clone()).await.unwrap();
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&endpoints, dir.path());
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        base_ejection: Duration::from_millis(300),
        max_ejection: Duration::from_secs(2),
        max_ejected_share: 0.5,
    };
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.register().await.unwrap();
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    let sticky = servers
        .iter()
        .position(|s| s.url() == sdk.current_endpoint().as_str().trim_end_matches('/'))
        .expect("the sticky endpoint is one of ours");
    let served: Vec<u64> = servers.iter().map(|s| s.requests_served()).collect();
    assert_eq!(
        served.iter().sum::<u64>(),
        served[sticky],
        "every call went to the sticky endpoint"
    );

    // Kill it mid-session.
    let killed = servers.remove(sticky);
    let addr = killed.addr();
    killed.shutdown().await;
    let registrations_before = requests_on_plane(&control_plane, routes::DEVICES).await;
    for _ in 0..3 {
        let state = sdk.consent().revoke(false).await.unwrap();
        assert!(state.reported, "calls succeed on another endpoint");
    }
    assert!(servers.iter().map(|s| s.requests_served()).sum::<u64>() >= 3);
    assert_eq!(
        requests_on_plane(&control_plane, routes::DEVICES).await,
        registrations_before,
        "no new registration was needed: the state is shared"
    );

    // Bring it back on the same address; after its ejection it is probed
    // and the member's calls return to it.
    let revived = MockServer::start_with(addr, control_plane.clone()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while revived.requests_served() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revived endpoint never came back into use"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    }
    let dump = control_plane.dump().await.unwrap();
    assert!(dump.executions.duplicates.is_empty());
}

async fn requests_on_plane(control_plane: &ControlPlane, route: &str) -> i64 {
    control_plane
        .dump()
        .await
        .unwrap()
        .requests
        .get(route)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_retry_budget_caps_retries_when_every_endpoint_fails() {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    let servers = MockServer::start_cluster(3, control_plane.clone()).await.unwrap();
    add_fault(&servers[0], json!({"action": "fail", "status": 503})).await;
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&endpoints, dir.path());
    config.retry.max_attempts = 6;
    config.retry.max_delay = Duration::from_millis(20);
    config.retry_budget = RetryBudgetPolicy {
        ratio: 0.2,
        floor: 5,
        window: Duration::from_secs(60),
    };
    let sdk = EdgePoints::open(config, None).unwrap();
    let calls = 20;
    for _ in 0..calls {
        let state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
        assert!(!state.reported);
    }
    match sdk.register().await {
        Err(Error::Unavailable { .. }) => {}
        other => panic!("expected unavailable, got {other:?}"),
    }
    let dump = control_plane.dump().await.unwrap();
    let sent: i64 = dump.requests.values().sum();
    // Without a budget: 21 calls × 6 attempts = 126 requests. With it: the
    // first attempts (the registration, and one status query of it), plus
    // the floor of 5 retries, plus 20 % of the 2 first attempts, rounded up.
    assert!(sent <= 2 + 5 + 1, "{sent} requests reached the control plane");
    assert!(sdk.outbox().status().unwrap().last_error.unwrap().contains("budget"));
}

/// The control plane says when to come back; the SDK waits at least that.
#[tokio::test]
async fn retry_after_is_honoured() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.register().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 429, "retry_after_s": 1, "count": 1}),
    )
    .await;
    let started = tokio::time::Instant::now();
    let mut state = sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    // The retry policy's own delays here are at most 100 ms: only the
    // header can explain a wait of a second.
    if !state.reported {
        state = sdk.consent().report_pending().await.unwrap();
    }
    assert!(state.reported);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(requests_on(&server, routes::DEVICE_CONSENT).await, 2);
}
