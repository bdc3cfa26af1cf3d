//! The control plane's idempotency layer and request validation, over raw
//! HTTP: the requests a well-behaved SDK never sends.

use std::time::Duration;

use edgepoints_protocol::paths::routes;
use edgepoints_protocol::{paths, ConsentDecision, ConsentPolicy, ConsentReport, Purpose, SignedEnvelope};
use edgepoints_tests::*;
use serde_json::json;

#[tokio::test]
async fn replayed_registration_returns_the_stored_result_once_applied() {
    let server = start_mock().await;
    let (key, id) = device_key(1);
    let body = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    let (status, replayed, _, first) = post_raw(&server, paths::DEVICES, Some("k-1"), body.clone()).await;
    assert_eq!(status, 201);
    assert!(!replayed);
    assert_eq!(first["device_id"], id.as_str());
    for _ in 0..3 {
        let (status, replayed, _, again) = post_raw(&server, paths::DEVICES, Some("k-1"), body.clone()).await;
        assert_eq!(status, 201, "the stored status is replayed");
        assert!(replayed, "a replay is marked as such");
        assert_eq!(again, first, "the stored body is replayed");
    }
    assert_eq!(applied(&server, "registrations").await, 1);
    assert_eq!(requests_on(&server, routes::DEVICES).await, 4);
    // A fresh key for the same device is a new request, but the device is
    // not registered twice either.
    let (status, replayed, _, fresh) = post_raw(&server, paths::DEVICES, Some("k-2"), body).await;
    assert_eq!((status, replayed), (200, false));
    assert_eq!(fresh["registered_at_ms"], first["registered_at_ms"]);
    assert_eq!(applied(&server, "registrations").await, 1);
}

#[tokio::test]
async fn same_key_with_another_payload_is_422() {
    let server = start_mock().await;
    let (key, _) = device_key(2);
    let first = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    let other = serde_json::to_vec(&signed_registration(&key, "2.0")).unwrap();
    assert_eq!(post_raw(&server, paths::DEVICES, Some("k"), first).await.0, 201);
    let (status, _, content_type, problem) = post_raw(&server, paths::DEVICES, Some("k"), other).await;
    assert_eq!(status, 422);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(problem["status"], 422);
    let state = admin_state(&server).await;
    assert_eq!(
        state.devices[0].app_version, "1.0",
        "the second payload changed nothing"
    );
}

#[tokio::test]
async fn replay_while_the_first_is_running_is_409() {
    let server = start_mock().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "delay", "delay_ms": 400}),
    )
    .await;
    let (key, _) = device_key(3);
    let body = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    let slow = {
        let body = body.clone();
        let url = server.url();
        tokio::spawn(async move {
            http()
                .post(format!("{url}{}", paths::DEVICES))
                .header("Idempotency-Key", "k")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, _, problem) = post_raw(&server, paths::DEVICES, Some("k"), body.clone()).await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "request_in_progress");
    assert_eq!(slow.await.unwrap(), 201);
    let (status, replayed, _, _) = post_raw(&server, paths::DEVICES, Some("k"), body).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(applied(&server, "registrations").await, 1);
}

#[tokio::test]
async fn missing_or_bad_idempotency_key_is_400() {
    let server = start_mock().await;
    let (key, _) = device_key(4);
    let body = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    let (status, _, content_type, problem) = post_raw(&server, paths::DEVICES, None, body.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "missing_idempotency_key");
    let (status, _, _, problem) = post_raw(&server, paths::DEVICES, Some(&"x".repeat(300)), body).await;
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "invalid_idempotency_key");
    assert_eq!(applied(&server, "registrations").await, 0);
}

#[tokio::test]
async fn malformed_json_is_400_problem_json() {
    let server = start_mock().await;
    for body in [
        &b"{not json"[..],
        b"",
        b"[]",
        br#"{"purpose":"device.register"}"#,
        &[0xff, 0xfe, 0x00],
    ] {
        let key = format!("k-{}", body.len());
        let (status, _, content_type, problem) = post_raw(&server, paths::DEVICES, Some(&key), body.to_vec()).await;
        assert_eq!(status, 400, "body {body:?}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], "malformed_request");
        assert!(problem["title"].is_string() && problem["type"].is_string());
    }
    assert!(admin_state(&server).await.devices.is_empty());
}

#[tokio::test]
async fn tampered_registration_is_refused_and_changes_nothing() {
    let server = start_mock().await;
    let (key, _) = device_key(5);
    let mut envelope = signed_registration(&key, "1.0");
    // Flip one character of the signature.
    let mut signature = envelope.signature.into_bytes();
    signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
    envelope.signature = String::from_utf8(signature).unwrap();
    let body = serde_json::to_vec(&envelope).unwrap();
    let (status, _, content_type, problem) = post_raw(&server, paths::DEVICES, Some("k"), body).await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "bad_signature");
    assert_eq!(applied(&server, "registrations").await, 0);
    // A refused forgery does not burn the key: the real request still runs.
    let honest = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    assert_eq!(post_raw(&server, paths::DEVICES, Some("k"), honest).await.0, 201);
}

#[tokio::test]
async fn registration_for_a_key_that_is_not_the_devices_is_403() {
    let server = start_mock().await;
    let (key, _) = device_key(6);
    let (other, other_id) = device_key(7);
    // Signed by `key`, but claiming another device's id.
    let mut payload: edgepoints_protocol::DeviceRegistration =
        serde_json::from_slice(&signed_registration(&key, "1.0").unverified_payload().unwrap()).unwrap();
    payload.device_id = other_id.clone();
    let envelope = SignedEnvelope::sign(Purpose::DeviceRegistration, other_id.as_str(), &key, &payload);
    let (status, _, _, problem) = post_raw(
        &server,
        paths::DEVICES,
        Some("k"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "device_mismatch");
    let _ = other;
    assert_eq!(applied(&server, "registrations").await, 0);
}

fn consent_report(key: &ed25519_dalek::SigningKey, revision: u64, granted: bool) -> Vec<u8> {
    let id = edgepoints_protocol::DeviceId::from_public_key(&key.verifying_key());
    let decision = if granted {
        ConsentDecision::Granted {
            terms_version: "t1".into(),
            policy: ConsentPolicy::default(),
        }
    } else {
        ConsentDecision::Revoked { purge_cache: false }
    };
    let report = ConsentReport {
        device_id: id.clone(),
        revision,
        decision,
        decided_at_ms: 1,
    };
    serde_json::to_vec(&SignedEnvelope::sign(Purpose::ConsentReport, id.as_str(), key, &report)).unwrap()
}

#[tokio::test]
async fn consent_reports_are_verified_and_ordered_by_revision() {
    let server = start_mock().await;
    let (key, id) = device_key(8);
    let path = paths::device_consent(id.as_str());
    // Unknown device first.
    let (status, _, _, problem) = send_raw(
        &server,
        reqwest::Method::PUT,
        &path,
        Some("c0"),
        consent_report(&key, 1, true),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("unknown_device")));
    post_raw(
        &server,
        paths::DEVICES,
        Some("r"),
        serde_json::to_vec(&signed_registration(&key, "1")).unwrap(),
    )
    .await;

    let (status, _, _, recorded) = send_raw(
        &server,
        reqwest::Method::PUT,
        &path,
        Some("c2"),
        consent_report(&key, 2, false),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(recorded["applied"], true);
    // A late retry of an older decision changes nothing.
    let (status, _, _, recorded) = send_raw(
        &server,
        reqwest::Method::PUT,
        &path,
        Some("c1"),
        consent_report(&key, 1, true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(recorded["applied"], false);
    assert_eq!(recorded["current_revision"], 2);
    let state = admin_state(&server).await;
    assert!(matches!(
        state.devices[0].consent.as_ref().map(|c| &c.decision),
        Some(ConsentDecision::Revoked { .. })
    ));
    assert_eq!(state.applied["consent_reports"], 1);

    // Signed by another device's key: refused, nothing changes.
    let (stranger, _) = device_key(9);
    let mut forged: SignedEnvelope = serde_json::from_slice(&consent_report(&stranger, 3, true)).unwrap();
    forged.key_id = id.to_string();
    let (status, _, _, problem) = send_raw(
        &server,
        reqwest::Method::PUT,
        &path,
        Some("c3"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("bad_signature")));
    // Another device's report on this device's path.
    let (status, _, _, problem) = send_raw(
        &server,
        reqwest::Method::PUT,
        &path,
        Some("c4"),
        consent_report(&stranger, 3, true),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("device_mismatch")));
    assert_eq!(applied(&server, "consent_reports").await, 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let server = start_mock().await;
    let (status, _, content_type, problem) = send_raw(&server, reqwest::Method::GET, "/v1/nothing", None, vec![]).await;
    assert_eq!((status, content_type.as_str()), (404, "application/problem+json"));
    assert_eq!(problem["code"], "not_found");
    let (status, _, _, problem) = send_raw(&server, reqwest::Method::DELETE, paths::DEVICES, Some("k"), vec![]).await;
    assert_eq!(status, 405);
    assert_eq!(problem["code"], "method_not_allowed");
    let (status, _, _, problem) = send_raw(
        &server,
        reqwest::Method::PUT,
        "/v1/devices/..%2f..%2fetc/consent",
        Some("k"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "unknown_device");
    let health = http().get(format!("{}/healthz", server.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = start_mock().await;
    let (status, _, _, _) = post_raw(&server, paths::DEVICES, Some("big"), vec![b'x'; 2 * 1024 * 1024]).await;
    assert_eq!(status, 413);
}
