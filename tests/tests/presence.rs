//! Presence: a node reports its addresses; the control plane probes each
//! (the node must answer with the nonce signed by its key) and routes only
//! to those that answered. After a network change the new address is
//! reported and probed.

use std::time::Duration;

use edgepoints_core::{ConsentPolicy, EdgePoints, FetchSource, NetworkKind};
use edgepoints_mock_server::origin;
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;

#[tokio::test]
async fn an_unreachable_address_is_not_routed_to_and_a_new_one_is_probed_after_a_network_change() {
    let server = start_mock().await;
    let item = origin::publish(server.control_plane(), vec![3u8; 30_000].into(), 9)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&[server.url()], dir.path());
    // Everything here is on loopback.
    config.node_limits.report_local_addresses = true;
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.consent()
        .grant(
            "t",
            ConsentPolicy {
                serve_on_cellular: true,
                ..ConsentPolicy::default()
            },
        )
        .await
        .unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(80, true).unwrap();
    sdk.node().sync().await.unwrap();
    // On this network the phone's address cannot be reached (a documentation
    // address: nothing answers there).
    sdk.set_network_addresses(Some(vec!["192.0.2.1".parse().unwrap()]))
        .unwrap();
    let node = sdk.node().start("0.0.0.0:0".parse().unwrap()).await.unwrap();
    let port = node.local_addr().expect("serving").port();
    assert!(node.reachable_addresses().is_empty());
    let state = admin_state(&server).await;
    let record = &state.nodes[0];
    assert_eq!(record.addresses[0], format!("192.0.2.1:{port}"));
    assert_eq!(record.reachable.len(), 0);
    assert!(record.seen_from.as_deref().unwrap().starts_with("127.0.0.1:"));

    let (_consumer_dir, consumer) = new_device(&server);
    let report = consumer.fetch(item.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }), "{report:?}");
    assert_eq!(
        report.attempts.len(),
        1,
        "the unreachable node is not offered: {report:?}"
    );

    // A new network with a reachable address: reported and probed.
    sdk.set_network_addresses(Some(vec!["127.0.0.1".parse().unwrap()]))
        .unwrap();
    sdk.set_network(NetworkKind::Cellular).unwrap();
    let want = vec![format!("127.0.0.1:{port}")];
    eventually("the new address probed", || async {
        node.reachable_addresses() == want
    })
    .await;
    let record = admin_state(&server).await.nodes[0].clone();
    assert_eq!(record.network.as_deref(), Some("cellular"));
    assert_eq!(record.reachable[0], want[0]);

    let (_other_dir, other) = new_device(&server);
    let report = other.fetch(item.hash).await.unwrap();
    match &report.source {
        FetchSource::Node { node_id, url } => {
            assert_eq!(node_id, &sdk.device_id());
            assert_eq!(url, &format!("http://{}", want[0]));
        }
        other => panic!("expected the node, got {other:?}"),
    }
}

#[tokio::test]
async fn a_probe_answer_needs_the_device_key() {
    // The node answers probes with its own signature; anyone else's
    // server at that address fails the probe (see the stalled node in
    // consumer_fetch.rs for one that signs correctly).
    let server = start_mock().await;
    let (key, id) = device_key(41);
    let (status, ..) = post_raw(
        &server,
        edgepoints_protocol::paths::DEVICES,
        Some("probe-reg"),
        serde_json::to_vec(&signed_registration(&key, "1")).unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    // Announce an address where an impostor (another device's SDK node) serves.
    let (_impostor_dir, impostor) = new_device(&server);
    impostor.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    impostor.set_network(NetworkKind::Wifi).unwrap();
    impostor.set_battery(90, true).unwrap();
    let node = impostor.node().start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let announcement = edgepoints_protocol::NodeAnnouncement {
        device_id: id.clone(),
        revision: 1,
        url: Some(format!("http://{}", node.local_addr().expect("serving"))),
        holdings: Vec::new(),
        announced_at_ms: 1,
        location: None,
        addresses: vec![node.local_addr().expect("serving").to_string()],
        network: None,
    };
    let envelope = edgepoints_protocol::SignedEnvelope::sign(
        edgepoints_protocol::Purpose::NodeAnnouncement,
        id.as_str(),
        &key,
        &announcement,
    );
    let (status, _, _, body) = send_raw(
        &server,
        reqwest::Method::PUT,
        &edgepoints_protocol::paths::device_node(id.as_str()),
        Some("probe-node"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["reachable"].as_array().unwrap().len(),
        0,
        "another device's signature: {body}"
    );
}

#[tokio::test]
async fn the_presence_status_shows_addresses_probes_and_heartbeats() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = serving_node(&server, dir.path(), None).await;
    sdk.outbox().drain(Duration::from_secs(5)).await.unwrap();
    let status = sdk.presence().status();
    let addr = node.local_addr().expect("serving").to_string();
    assert_eq!(status.serving_url, Some(format!("http://{addr}")));
    assert_eq!(status.reported_addresses, vec![addr.clone()]);
    assert_eq!(status.reachable_addresses, vec![addr.clone()], "probed");
    assert!(
        status.seen_from.as_deref().is_some_and(|s| s.starts_with("127.0.0.1:")),
        "{status:?}"
    );
    let first = status.heartbeats.last_accepted.clone().expect("start sent one");
    assert!(status.heartbeats.last_accepted_at_ms.is_some());
    assert_eq!(status.heartbeats.failures_since, 0);

    // The control plane refuses heartbeats for a while: the status says so.
    add_fault(
        &server,
        serde_json::json!({"route": routes::DEVICE_HEARTBEATS, "action": "fail", "status": 503, "count": 2}),
    )
    .await;
    assert!(node.heartbeat_now().await.is_err());
    assert!(node.heartbeat_now().await.is_err());
    let failing = sdk.presence().status().heartbeats;
    assert_eq!(failing.failures_since, 2);
    assert!(
        failing.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{failing:?}"
    );
    assert_eq!(failing.last_accepted.as_ref().map(|r| r.seq), Some(first.seq));

    // Back: the next one is accepted and the failures are cleared.
    let report = node.heartbeat_now().await.unwrap();
    let recovered = sdk.presence().status().heartbeats;
    assert_eq!(recovered.failures_since, 0);
    assert_eq!(recovered.last_accepted.map(|r| r.seq), Some(report.seq));
    assert!(report.seq > first.seq + 2, "refused beats used their numbers too");

    node.stop().await;
    let stopped = sdk.presence().status();
    assert_eq!(stopped.serving_url, None);
    assert!(stopped.reachable_addresses.is_empty());
}
