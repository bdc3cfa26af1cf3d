//! Members through the SDK: sign-up and login with typed refusals, the
//! session stored and resumed after a restart, kept by the member
//! heartbeat, ended by logout (through the outbox) or by the control plane
//! (one `SessionExpired` event, then typed errors until the next login),
//! notices that reach the app once across a lost answer and a restart,
//! routing that sticks by member and fails over without a new login, and
//! points earned while logged in credited to the member.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{EdgePoints, Error, Event, EventListener, LedgerReason, MemberState};
use edgepoints_mock_server::{points, ControlPlane, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_protocol::{PointsRules, SessionTimeouts};
use edgepoints_tests::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

fn open_with(server: &MockServer, dir: &std::path::Path, events: &Arc<EventRecorder>) -> EdgePoints {
    EdgePoints::open(
        config(&[server.url()], dir),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .unwrap()
}

/// A device with `member` signed up and logged in.
async fn logged_in(server: &MockServer, dir: &std::path::Path, member: &str) -> (EdgePoints, Arc<EventRecorder>) {
    let events = Arc::new(EventRecorder::default());
    let sdk = open_with(server, dir, &events);
    sdk.members().sign_up(member, PASSWORD).await.unwrap();
    sdk.members().login(member, PASSWORD).await.unwrap();
    (sdk, events)
}

fn notices_of(events: &EventRecorder) -> Vec<String> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::NoticeReceived { notice } => Some(notice.text),
            _ => None,
        })
        .collect()
}

async fn set_timeouts(server: &MockServer, idle_ms: u64, heartbeat_interval_ms: u64) {
    admin(server)
        .set_session_timeouts(SessionTimeouts {
            idle_ms,
            absolute_ms: 8 * 3600 * 1000,
            heartbeat_interval_ms,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_member_logs_in_resumes_after_a_restart_and_logs_out_through_the_outbox() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, events) = logged_in(&server, dir.path(), "Dana@Example.com").await;
    let MemberState::LoggedIn { session } = sdk.members().state().unwrap() else {
        panic!("logged in");
    };
    assert_eq!(session.member, "dana@example.com");
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::LoggedIn { member, .. } if member == "dana@example.com")));
    let sessions = admin(&server).sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].device_id.as_str(), sdk.device_id());
    assert_eq!(sessions[0].member_id, session.member_id);

    // A restart resumes the session: member calls go on without a login.
    sdk.shutdown().await;
    let events = Arc::new(EventRecorder::default());
    let sdk = open_with(&server, dir.path(), &events);
    assert!(matches!(sdk.members().state().unwrap(), MemberState::LoggedIn { .. }));
    let checked = sdk.members().check_session().await.unwrap();
    assert_eq!(checked.member_id, session.member_id);
    assert_eq!(requests_on(&server, routes::DEVICE_LOGIN).await, 1, "no second login");

    // Logout: at once here, through the outbox there, even with the
    // network down at first.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_LOGOUT, "action": "fail", "status": 503, "count": 2}),
    )
    .await;
    sdk.members().logout().unwrap();
    assert_eq!(sdk.members().state().unwrap(), MemberState::LoggedOut);
    assert!(matches!(sdk.members().check_session().await, Err(Error::NotLoggedIn)));
    assert!(matches!(sdk.members().logout(), Err(Error::NotLoggedIn)));
    eventually("the logout reaches the control plane", || async {
        admin(&server).sessions().await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        requests_on(&server, routes::DEVICE_LOGOUT).await,
        3,
        "two refused, one taken"
    );
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::LoggedOut { member_id } if *member_id == session.member_id)));
}

#[tokio::test]
async fn refusals_are_typed_and_repeated_failures_are_slowed() {
    let server = start_mock().await;
    let (_dir, sdk) = new_device(&server);
    sdk.members().sign_up("erin", PASSWORD).await.unwrap();
    assert!(matches!(
        sdk.members().sign_up("ERIN", PASSWORD).await,
        Err(Error::MemberTaken)
    ));
    assert!(matches!(
        sdk.members().sign_up("a b", PASSWORD).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        sdk.members().sign_up("frank", "short").await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        requests_on(&server, routes::DEVICE_MEMBERS).await,
        2,
        "bad input is refused before it is sent"
    );
    // A wrong password and an unknown member: the same error.
    assert!(matches!(
        sdk.members().login("nobody", PASSWORD).await,
        Err(Error::LoginFailed)
    ));
    for _ in 0..3 {
        assert!(matches!(
            sdk.members().login("erin", "wrong password").await,
            Err(Error::LoginFailed)
        ));
    }
    match sdk.members().login("erin", PASSWORD).await {
        Err(Error::TooManyAttempts { retry_after }) => assert!(retry_after >= Duration::from_secs(1)),
        other => panic!("slowed down, got {other:?}"),
    }
    assert_eq!(sdk.members().state().unwrap(), MemberState::LoggedOut);
    assert!(admin(&server).sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_session_is_one_event_and_typed_errors_until_the_next_login() {
    let server = start_mock().await;
    set_timeouts(&server, 60_000, 20_000).await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, events) = logged_in(&server, dir.path(), "gina").await;
    let member_id = sdk.members().check_session().await.unwrap().member_id;
    points::advance_clock(server.control_plane(), 61_000).await.unwrap();
    for _ in 0..2 {
        match sdk.members().check_session().await {
            Err(Error::SessionExpired { member_id: id }) => assert_eq!(id, member_id),
            other => panic!("expired, got {other:?}"),
        }
    }
    assert!(matches!(
        sdk.members().heartbeat_now().await,
        Err(Error::SessionExpired { .. })
    ));
    let expiries = events
        .events()
        .iter()
        .filter(|e| matches!(e, Event::SessionExpired { .. }))
        .count();
    assert_eq!(expiries, 1, "the app hears it once");
    assert_eq!(
        sdk.members().state().unwrap(),
        MemberState::Expired {
            member_id: member_id.clone()
        }
    );
    // The absolute limit, after a new login: QA ends it too.
    sdk.members().login("gina", PASSWORD).await.unwrap();
    sdk.members().check_session().await.unwrap();
    let key = admin(&server).sessions().await.unwrap()[0].session_key.clone();
    admin(&server).expire_session(&key).await.unwrap();
    assert!(matches!(
        sdk.members().check_session().await,
        Err(Error::SessionExpired { .. })
    ));
}

#[tokio::test]
async fn the_member_heartbeat_keeps_the_session_and_stops_after_logout() {
    let server = start_mock().await;
    set_timeouts(&server, 60_000, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, _events) = logged_in(&server, dir.path(), "hugo").await;
    // Four idle timeouts pass on the mock clock, a third of one at a time,
    // with beats in between: the session lives on.
    for _ in 0..12 {
        let beats = requests_on(&server, routes::DEVICE_MEMBER_HEARTBEATS).await;
        points::advance_clock(server.control_plane(), 20_000).await.unwrap();
        eventually("the timer beats", || async {
            requests_on(&server, routes::DEVICE_MEMBER_HEARTBEATS).await > beats
        })
        .await;
    }
    sdk.members().check_session().await.unwrap();
    sdk.members().logout().unwrap();
    let beats = requests_on(&server, routes::DEVICE_MEMBER_HEARTBEATS).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        requests_on(&server, routes::DEVICE_MEMBER_HEARTBEATS).await <= beats + 1,
        "no beats while logged out (one may have been under way)"
    );
}

#[tokio::test]
async fn each_notice_reaches_the_app_once_across_a_lost_answer_and_a_restart() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, events) = logged_in(&server, dir.path(), "iris").await;
    let member_id = sdk.members().check_session().await.unwrap().member_id;
    // The login's own beat first; the timer's next is a minute away.
    eventually("the login beats at once", || async {
        requests_on(&server, routes::DEVICE_MEMBER_HEARTBEATS).await >= 1
    })
    .await;
    let qa = admin(&server);
    qa.post_notice(&member_id, "message", "first").await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_MEMBER_HEARTBEATS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let brought = sdk.members().heartbeat_now().await.unwrap();
    assert_eq!(brought.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["first"]);
    // Comes again until acknowledged, and is not given to the app again.
    assert!(sdk.members().heartbeat_now().await.unwrap().is_empty());
    eventually("the first notice is acknowledged", || async {
        qa.pending_notices(&member_id).await.unwrap().is_empty()
    })
    .await;
    qa.post_notice(&member_id, "rental_billed", "second").await.unwrap();
    sdk.shutdown().await;
    let events_after = Arc::new(EventRecorder::default());
    let sdk = open_with(&server, dir.path(), &events_after);
    // The resumed session beats at once and brings the second.
    eventually("the second notice arrives after the restart", || async {
        notices_of(&events_after) == ["second"]
    })
    .await;
    sdk.members().heartbeat_now().await.unwrap();
    assert_eq!(notices_of(&events), ["first"]);
    assert_eq!(notices_of(&events_after), ["second"]);
    assert!(qa.pending_notices(&member_id).await.unwrap().is_empty());
    let stored: Vec<String> = sdk.members().notices(10).unwrap().into_iter().map(|n| n.kind).collect();
    assert_eq!(stored, ["rental_billed", "message"], "newest first");
}

#[tokio::test]
async fn calls_stick_to_the_members_endpoint_and_go_on_after_it_dies_without_a_login() {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    let mut servers = MockServer::start_cluster(3, control_plane.clone()).await.unwrap();
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let open = |dir: &std::path::Path| {
        let mut config = config(&endpoints, dir);
        config.outlier.consecutive_failures = 1;
        EdgePoints::open(config, None).unwrap()
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (phone, tablet) = (open(dir_a.path()), open(dir_b.path()));
    phone.members().sign_up("jack", PASSWORD).await.unwrap();
    phone.members().login("jack", PASSWORD).await.unwrap();
    tablet.members().login("jack", PASSWORD).await.unwrap();
    assert_eq!(
        phone.current_endpoint(),
        tablet.current_endpoint(),
        "one member, one endpoint, whichever device"
    );
    let sticky = phone.current_endpoint().as_str().trim_end_matches('/').to_owned();
    let index = servers.iter().position(|s| s.url() == sticky).unwrap();
    servers.remove(index).shutdown().await;
    let logins = control_plane.dump().await.unwrap().requests[routes::DEVICE_LOGIN];
    for sdk in [&phone, &tablet] {
        sdk.members().check_session().await.unwrap();
        sdk.members().heartbeat_now().await.unwrap();
    }
    assert_ne!(phone.current_endpoint().as_str().trim_end_matches('/'), sticky);
    assert_eq!(phone.current_endpoint(), tablet.current_endpoint());
    let dump = control_plane.dump().await.unwrap();
    assert_eq!(dump.requests[routes::DEVICE_LOGIN], logins, "no new login");
    let now_at = phone.current_endpoint();
    let host = format!("{}:{}", now_at.host_str().unwrap(), now_at.port().unwrap());
    for session in admin(&servers[0]).sessions().await.unwrap() {
        assert_eq!(
            session.endpoint.as_deref(),
            Some(host.as_str()),
            "the new endpoint is recorded"
        );
    }
}

#[tokio::test]
async fn points_earned_while_logged_in_are_the_members_and_name_the_device() {
    let server = start_mock().await;
    points::set_rules(
        server.control_plane(),
        PointsRules {
            points_per_online_minute: 2,
            ..PointsRules::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = serving_node(&server, dir.path(), None).await;
    // Before login: a minute for the device.
    for _ in 0..2 {
        points::advance_clock(server.control_plane(), 30_000).await.unwrap();
        node.heartbeat_now().await.unwrap();
    }
    let device_balance = sdk.points().balance().await.unwrap();
    assert_eq!(
        (device_balance.owner.as_str(), device_balance.balance),
        (sdk.device_id().as_str(), 2)
    );
    sdk.members().sign_up("kim", PASSWORD).await.unwrap();
    let session = sdk.members().login("kim", PASSWORD).await.unwrap();
    // Logged in: three minutes for the member.
    let mut reported = 0;
    for _ in 0..6 {
        points::advance_clock(server.control_plane(), 30_000).await.unwrap();
        let report = node.heartbeat_now().await.unwrap();
        reported += report.credited_points;
        assert_eq!(report.balance, reported, "the answer speaks of the member's balance");
    }
    assert_eq!(reported, 6);
    let member_balance = sdk.points().balance().await.unwrap();
    assert_eq!(member_balance.owner, session.member_id);
    assert_eq!(member_balance.balance, 6);
    assert_eq!(member_balance.online_ms, 180_000);
    let ledger = sdk.points().ledger(0).await.unwrap();
    assert_eq!(ledger.entries.len(), 3);
    for entry in &ledger.entries {
        assert_eq!(entry.reason, LedgerReason::OnlineTime);
        assert_eq!(
            entry.device_id.as_ref().map(|d| d.as_str()),
            Some(sdk.device_id().as_str())
        );
    }
    // The device's earlier points stay with the device.
    sdk.members().logout().unwrap();
    assert_eq!(sdk.points().balance().await.unwrap().balance, 2);
    node.stop().await;
}

#[tokio::test]
async fn closing_the_account_ends_every_session_and_its_notices() {
    let server = start_mock().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (phone, _) = logged_in(&server, dir_a.path(), "lena").await;
    let tablet = open_with(&server, dir_b.path(), &Arc::new(EventRecorder::default()));
    let session = tablet.members().login("lena", PASSWORD).await.unwrap();
    admin(&server)
        .post_notice(&session.member_id, "message", "unread")
        .await
        .unwrap();
    assert!(matches!(
        phone.members().close_account("not the password").await,
        Err(Error::LoginFailed)
    ));
    phone.members().close_account(PASSWORD).await.unwrap();
    assert_eq!(phone.members().state().unwrap(), MemberState::LoggedOut);
    assert!(matches!(
        tablet.members().check_session().await,
        Err(Error::SessionExpired { .. })
    ));
    assert!(admin(&server).sessions().await.unwrap().is_empty());
    assert!(admin(&server)
        .pending_notices(&session.member_id)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        tablet.members().login("lena", PASSWORD).await,
        Err(Error::LoginFailed)
    ));
}
