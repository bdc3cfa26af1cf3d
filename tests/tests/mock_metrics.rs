//! The mock's Prometheus metrics, as QA scrapes them: requests by matched
//! route and status with their latency, idempotent replays, faults that
//! struck, heartbeats, routing lookups, signature batches and the queues'
//! depths. One test in
//! this file: the process's recorder counts what this test drove, exactly.

use edgepoints_protocol::paths::{self, routes};
use edgepoints_protocol::{Heartbeat, Purpose, SignedEnvelope};
use edgepoints_tests::*;
use serde_json::json;

/// The value of the series `name{labels}` in a Prometheus text page (0 if absent).
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
            series_name == name
                && labels
                    .iter()
                    .all(|(label, value)| rest.contains(&format!("{label}=\"{value}\"")))
        })
        .map(|(_, value)| value.parse().unwrap())
        .unwrap_or(0.0)
}

async fn scrape(server: &edgepoints_mock_server::MockServer) -> String {
    let response = http().get(format!("{}/metrics", server.url())).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_metrics_count_what_was_driven() {
    let server = start_mock().await;
    // A registration, replayed once with the same key.
    let (key, _) = device_key(7);
    let body = serde_json::to_vec(&signed_registration(&key, "1.0")).unwrap();
    let idempotency_key = fresh_key();
    let (first, ..) = post_raw(&server, paths::DEVICES, Some(&idempotency_key), body.clone()).await;
    let (again, replayed, ..) = post_raw(&server, paths::DEVICES, Some(&idempotency_key), body).await;
    assert_eq!((first, again, replayed), (201, 201, true));
    // Two injected 503s.
    add_fault(
        &server,
        json!({"route": routes::DEVICES, "action": "fail", "status": 503, "count": 2}),
    )
    .await;
    for seed in [8, 9] {
        let body = serde_json::to_vec(&signed_registration(&device_key(seed).0, "1.0")).unwrap();
        assert_eq!(post_raw(&server, paths::DEVICES, Some(&fresh_key()), body).await.0, 503);
    }
    // A path no route has, twice: one series, not one per path.
    for path in ["/nowhere/1", "/nowhere/2"] {
        assert_eq!(
            http()
                .get(format!("{}{path}", server.url()))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    // A heartbeat on the registered device's path, signed by another key.
    let (_, registered) = device_key(7);
    let forged = SignedEnvelope::sign(
        Purpose::Heartbeat,
        registered.as_str(),
        &device_key(8).0,
        &Heartbeat {
            device_id: registered.clone(),
            seq: 1,
            serving: true,
            requests_delta: 0,
            bytes_delta: 0,
            sent_at_ms: 1,
        },
    );
    let (status, _, _, problem) = post_raw(
        &server,
        &paths::device_heartbeats(registered.as_str()),
        Some(&fresh_key()),
        serde_json::to_vec(&forged).unwrap(),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("bad_signature")));
    // A node's heartbeats, and a consumer's routing lookup.
    let scene = fetch_scene(&server, item(3, 10_000), |_| {}).await;
    scene.alice.node.heartbeat_now().await.unwrap();
    let (_dir, consumer) = new_device(&server);
    consumer.fetch(scene.published.hash).await.unwrap();

    let page = scrape(&server).await;
    // Registrations: the one replayed above (twice), the node's and the
    // consumer's.
    let devices = [("route", routes::DEVICES)];
    assert_eq!(
        sample(
            &page,
            "edgepoints_mock_requests_total",
            &[devices[0], ("status", "201")]
        ),
        2.0 + 2.0,
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            "edgepoints_mock_requests_total",
            &[devices[0], ("status", "503")]
        ),
        2.0
    );
    assert_eq!(sample(&page, "edgepoints_mock_idempotent_replays_total", &devices), 1.0);
    assert_eq!(
        sample(
            &page,
            "edgepoints_mock_faults_fired_total",
            &[devices[0], ("action", "fail")]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &page,
            "edgepoints_mock_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        2.0
    );
    assert!(!page.contains("/nowhere"), "raw paths never become labels");
    // The start's beat and the one asked for.
    assert_eq!(
        sample(&page, "edgepoints_mock_heartbeats_total", &[("outcome", "accepted")]),
        2.0
    );
    assert_eq!(sample(&page, "edgepoints_mock_routing_lookups_total", &[]), 1.0);
    assert_eq!(
        sample(&page, "edgepoints_mock_request_duration_seconds_count", &devices),
        6.0
    );
    assert!(
        page.contains("edgepoints_mock_request_duration_seconds_bucket{"),
        "a histogram"
    );
    // The forged heartbeat alone failed its check; every other signed
    // envelope (the heartbeats among them) passed.
    let failed = [("outcome", "failed")];
    assert_eq!(
        sample(&page, "edgepoints_mock_signature_batch_size_count", &failed),
        1.0
    );
    assert_eq!(sample(&page, "edgepoints_mock_signature_batch_size_sum", &failed), 1.0);
    assert!(
        sample(
            &page,
            "edgepoints_mock_signature_batch_size_sum",
            &[("outcome", "valid")]
        ) >= 2.0
    );
    for stream in ["billing", "sms"] {
        assert!(
            page.contains(&format!("edgepoints_mock_queue_length{{stream=\"{stream}\"}} 0")),
            "{stream} queue: {page}"
        );
    }
}
