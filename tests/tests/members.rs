//! Members on the control plane: accounts hashed with Argon2id, logins that
//! answer a wrong password and an unknown member alike and slow repeated
//! failures down, sessions in the shared state with idle and absolute
//! expiry on the mock clock, logout, account closing, and the QA admin.
//! Driven with hand-signed requests from registered devices, as the SDK
//! will send them.

use std::sync::Arc;

use edgepoints_mock_server::{members, points, ControlPlane, MockServer};
use edgepoints_protocol::request_auth::{sign_request, DEVICE_SIGNATURE_HEADER};
use edgepoints_protocol::{
    paths, MemberLogin, MemberSession, MemberSignUp, Purpose, SessionEnd, SessionTimeouts, SESSION_HEADER,
};
use edgepoints_tests::*;
use serde_json::Value;

/// The member calls, sent by hand from a [`Phone`].
trait MemberCalls {
    async fn sign_up(&self, server: &MockServer, member: &str, password: &str) -> (u16, Value);
    async fn login_with_key(
        &self,
        server: &MockServer,
        member: &str,
        password: &str,
        key: &str,
    ) -> (u16, Option<u64>, Value);
    async fn login(&self, server: &MockServer, member: &str, password: &str) -> (u16, Option<u64>, Value);
    async fn logged_in(&self, server: &MockServer, member: &str, password: &str) -> MemberSession;
    async fn session(&self, server: &MockServer, session_key: &str) -> (u16, Value);
    async fn end(&self, server: &MockServer, path: String, session_key: &str, password: Option<&str>) -> (u16, Value);
}

impl MemberCalls for Phone {
    async fn sign_up(&self, server: &MockServer, member: &str, password: &str) -> (u16, Value) {
        let payload = MemberSignUp {
            device_id: self.id.clone(),
            member: member.into(),
            password: password.into(),
        };
        let body = self.envelope(Purpose::MemberSignUp, &payload);
        let (status, _, _, answer) = post_raw(
            server,
            &paths::device_members(self.id.as_str()),
            Some(&fresh_key()),
            body,
        )
        .await;
        (status, answer)
    }

    /// Logs in with idempotency key `key`; status, `Retry-After`, answer.
    async fn login_with_key(
        &self,
        server: &MockServer,
        member: &str,
        password: &str,
        key: &str,
    ) -> (u16, Option<u64>, Value) {
        let payload = MemberLogin {
            device_id: self.id.clone(),
            member: member.into(),
            password: password.into(),
        };
        let response = http()
            .post(format!("{}{}", server.url(), paths::device_login(self.id.as_str())))
            .header("content-type", "application/json")
            .header(edgepoints_protocol::IDEMPOTENCY_KEY_HEADER, key)
            .body(self.envelope(Purpose::MemberLogin, &payload))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let answer = response.json().await.unwrap_or(Value::Null);
        (status, retry_after, answer)
    }

    async fn login(&self, server: &MockServer, member: &str, password: &str) -> (u16, Option<u64>, Value) {
        self.login_with_key(server, member, password, &fresh_key()).await
    }

    async fn logged_in(&self, server: &MockServer, member: &str, password: &str) -> MemberSession {
        let (status, _, answer) = self.login(server, member, password).await;
        assert_eq!(status, 200, "login: {answer}");
        serde_json::from_value(answer).unwrap()
    }

    /// The signed session read; status and answer.
    async fn session(&self, server: &MockServer, session_key: &str) -> (u16, Value) {
        let path = paths::device_session(self.id.as_str());
        let signature = sign_request(&self.key, self.id.as_str(), "GET", &path, now_ms());
        let response = http()
            .get(format!("{}{path}", server.url()))
            .header(DEVICE_SIGNATURE_HEADER, signature)
            .header(SESSION_HEADER, session_key)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn end(&self, server: &MockServer, path: String, session_key: &str, password: Option<&str>) -> (u16, Value) {
        let payload = SessionEnd {
            device_id: self.id.clone(),
            session_key: session_key.into(),
            password: password.map(str::to_owned),
        };
        let body = self.envelope(Purpose::SessionEnd, &payload);
        let (status, _, _, answer) = post_raw(server, &path, Some(&fresh_key()), body).await;
        (status, answer)
    }
}

const PASSWORD: &str = "correct horse battery";

async fn advance(server: &MockServer, ms: u64) {
    points::advance_clock(server.control_plane(), ms).await.unwrap();
}

#[tokio::test]
async fn a_member_signs_up_logs_in_uses_the_session_and_logs_out() {
    let server = start_mock().await;
    let phone = Phone::registered(&server, 1).await;
    let (status, signed_up) = phone.sign_up(&server, "Carol@Example.com", PASSWORD).await;
    assert_eq!(status, 201, "{signed_up}");
    assert_eq!(signed_up["member"], "carol@example.com");

    let session = phone.logged_in(&server, "carol@example.com", PASSWORD).await;
    assert_eq!(session.session_key.len(), 32, "128 bits in hex");
    assert_eq!(session.member_id, signed_up["member_id"]);
    let (status, read) = phone.session(&server, &session.session_key).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["member_id"], session.member_id.as_str());

    // The shared state records member, device, address, times and endpoint.
    let state = admin_state(&server).await;
    assert_eq!(state.members, 1);
    let recorded = &state.sessions[0];
    assert_eq!(recorded.device_id, phone.id);
    assert!(recorded.seen_from.starts_with("127.0.0.1:"), "{recorded:?}");
    assert_eq!(recorded.endpoint.as_deref(), server.url().strip_prefix("http://"));

    // Every login is a new session.
    let second = phone.logged_in(&server, "carol@example.com", PASSWORD).await;
    assert_ne!(second.session_key, session.session_key);

    let (status, ended) = phone
        .end(
            &server,
            paths::device_logout(phone.id.as_str()),
            &session.session_key,
            None,
        )
        .await;
    assert_eq!((status, ended["sessions_ended"].as_u64()), (200, Some(1)), "{ended}");
    let (status, refused) = phone.session(&server, &session.session_key).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("session_expired")));
    assert_eq!(
        phone.session(&server, &second.session_key).await.0,
        200,
        "the other session lives on"
    );

    // A session belongs to its device: another one cannot use it.
    let other = Phone::registered(&server, 2).await;
    assert_eq!(other.session(&server, &second.session_key).await.0, 401);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_member_answer_alike_and_repeated_failures_are_slowed() {
    let server = start_mock().await;
    let phone = Phone::registered(&server, 3).await;
    assert_eq!(phone.sign_up(&server, "dave", PASSWORD).await.0, 201);

    let (wrong_status, _, wrong) = phone.login(&server, "dave", "not the password").await;
    let (unknown_status, _, unknown) = phone.login(&server, "nobody-here", "not the password").await;
    assert_eq!((wrong_status, unknown_status), (401, 401));
    assert_eq!(wrong, unknown, "the same answer for both");
    assert_eq!(wrong["code"], "login_failed");

    // Two more failures for dave (three in all): the next attempt waits 1 s,
    // then 2 s; no password is checked meanwhile, not even the right one.
    phone.login(&server, "dave", "still wrong").await;
    phone.login(&server, "dave", "still wrong").await;
    let (status, retry_after, slowed) = phone.login(&server, "dave", PASSWORD).await;
    assert_eq!((status, retry_after), (429, Some(1)), "{slowed}");
    assert_eq!(slowed["code"], "too_many_attempts");
    advance(&server, 1_000).await;
    assert_eq!(phone.login(&server, "dave", "wrong again").await.0, 401);
    let (status, retry_after, _) = phone.login(&server, "dave", PASSWORD).await;
    assert_eq!((status, retry_after), (429, Some(2)), "the wait grows");

    // An unknown name is slowed the same way, so the wait tells nothing.
    phone.login(&server, "nobody-here", "x-wrong-1").await;
    phone.login(&server, "nobody-here", "x-wrong-2").await;
    let (status, retry_after, _) = phone.login(&server, "nobody-here", "x-wrong-3").await;
    assert_eq!((status, retry_after), (429, Some(1)));

    // After the wait the right password works, and the count starts over.
    advance(&server, 2_000).await;
    assert_eq!(phone.login(&server, "dave", PASSWORD).await.0, 200);
    assert_eq!(phone.login(&server, "dave", "wrong once").await.0, 401);
    assert_eq!(phone.login(&server, "dave", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit_on_the_mock_clock() {
    let server = start_mock().await;
    let admin = admin(&server);
    let timeouts = SessionTimeouts {
        idle_ms: 60_000,
        absolute_ms: 150_000,
        heartbeat_interval_ms: 20_000,
    };
    admin.set_session_timeouts(timeouts).await.unwrap();
    let phone = Phone::registered(&server, 4).await;
    assert_eq!(phone.sign_up(&server, "erin", PASSWORD).await.0, 201);

    // Used every 50 s, the session outlives its idle timeout...
    let kept = phone.logged_in(&server, "erin", PASSWORD).await;
    let idle = phone.logged_in(&server, "erin", PASSWORD).await;
    assert_eq!(kept.absolute_expires_at_ms, kept.created_at_ms + 150_000);
    for _ in 0..2 {
        advance(&server, 50_000).await;
        let (status, read) = phone.session(&server, &kept.session_key).await;
        assert_eq!(status, 200, "{read}");
    }
    // ...while the one left alone for 100 s is gone, and the admin says so.
    let (status, refused) = phone.session(&server, &idle.session_key).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("session_expired")));
    let open: Vec<String> = admin
        .sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session_key)
        .collect();
    assert_eq!(open, vec![kept.session_key.clone()]);

    // At 151 s the kept one ends too, however recently it was used.
    advance(&server, 51_000).await;
    assert_eq!(phone.session(&server, &kept.session_key).await.0, 401);
}

#[tokio::test]
async fn qa_can_list_and_expire_sessions_and_a_closed_account_cannot_log_in() {
    let server = start_mock().await;
    let phone = Phone::registered(&server, 5).await;
    assert_eq!(phone.sign_up(&server, "frank", PASSWORD).await.0, 201);
    let first = phone.logged_in(&server, "frank", PASSWORD).await;
    let second = phone.logged_in(&server, "frank", PASSWORD).await;

    let admin = admin(&server);
    assert_eq!(admin.sessions().await.unwrap().len(), 2);
    admin.expire_session(&first.session_key).await.unwrap();
    assert!(
        admin.expire_session(&first.session_key).await.is_err(),
        "an ended session is not found again"
    );
    assert_eq!(phone.session(&server, &first.session_key).await.0, 401);

    // Closing asks for the password again, and ends every session.
    let close = paths::device_member_close(phone.id.as_str());
    let (status, _) = phone
        .end(&server, close.clone(), &second.session_key, Some("wrong"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        phone.session(&server, &second.session_key).await.0,
        200,
        "a refused closing changes nothing"
    );
    let third = phone.logged_in(&server, "frank", PASSWORD).await;
    let (status, ended) = phone.end(&server, close, &second.session_key, Some(PASSWORD)).await;
    assert_eq!((status, ended["sessions_ended"].as_u64()), (200, Some(2)), "{ended}");
    assert_eq!(phone.session(&server, &third.session_key).await.0, 401);
    let (status, _, refused) = phone.login(&server, "frank", PASSWORD).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("login_failed")));
    assert_eq!(admin_state(&server).await.members, 0);
}

#[tokio::test]
async fn names_are_taken_once_whatever_their_case_and_bad_input_is_refused() {
    let server = start_mock().await;
    let phone = Phone::registered(&server, 6).await;
    assert_eq!(phone.sign_up(&server, "grace", PASSWORD).await.0, 201);
    let (status, taken) = phone.sign_up(&server, "GRACE", PASSWORD).await;
    assert_eq!((status, taken["code"].as_str()), (409, Some("member_taken")));
    assert_eq!(phone.sign_up(&server, "g r", PASSWORD).await.0, 422);
    assert_eq!(phone.sign_up(&server, "heidi", "short").await.0, 422);
    assert_eq!(admin_state(&server).await.members, 1);
}

#[tokio::test]
async fn a_login_resent_with_its_key_returns_the_same_session() {
    let server = start_mock().await;
    let phone = Phone::registered(&server, 7).await;
    assert_eq!(phone.sign_up(&server, "ivan", PASSWORD).await.0, 201);
    let key = fresh_key();
    let (status, _, first) = phone.login_with_key(&server, "ivan", PASSWORD, &key).await;
    let (again, _, replayed) = phone.login_with_key(&server, "ivan", PASSWORD, &key).await;
    assert_eq!((status, again), (200, 200));
    assert_eq!(first, replayed, "the stored answer, not a second session");
    assert_eq!(admin_state(&server).await.sessions.len(), 1);
}

#[tokio::test]
async fn a_session_opened_on_one_instance_works_on_another_and_records_the_endpoint() {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    let servers = MockServer::start_cluster(2, control_plane).await.unwrap();
    let phone = Phone::registered(&servers[0], 8).await;
    assert_eq!(phone.sign_up(&servers[0], "judy", PASSWORD).await.0, 201);
    let session = phone.logged_in(&servers[0], "judy", PASSWORD).await;
    let (status, _) = phone.session(&servers[1], &session.session_key).await;
    assert_eq!(status, 200, "no new login on the other instance");
    let recorded = &admin_state(&servers[1]).await.sessions[0];
    assert_eq!(recorded.endpoint.as_deref(), servers[1].url().strip_prefix("http://"));
}

#[tokio::test]
async fn the_demo_members_can_log_in() {
    let server = start_mock().await;
    members::seed_demo(server.control_plane()).await.unwrap();
    members::seed_demo(server.control_plane()).await.unwrap();
    assert_eq!(admin_state(&server).await.members, members::DEMO_MEMBERS.len());
    let phone = Phone::registered(&server, 9).await;
    phone
        .logged_in(&server, members::DEMO_MEMBERS[0], members::DEMO_PASSWORD)
        .await;
}
