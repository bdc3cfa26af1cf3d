//! Consumer fetch: one SDK instance serves, another fetches from it through
//! the control plane's routing, verified; the origin when the peer is gone;
//! wrong bytes refused and reported; stalled nodes hedged; upload caps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgepoints_core::{
    AttemptOutcome, ConsentPolicy, ContentHash, EdgePoints, Error, Event, FetchSource, NodeHandle, NodeStats,
};
use edgepoints_mock_server::{origin, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_protocol::{
    paths, ConsentDecision, ConsentReport, FailedSource, HashFailureReport, NodeAnnouncement, Purpose, SignedEnvelope,
};
use edgepoints_tests::*;

async fn serve(sdk: &EdgePoints, policy: ConsentPolicy) -> (EdgePoints, NodeHandle) {
    let node = start_serving(sdk, policy, "127.0.0.1:0").await;
    (sdk.clone(), node)
}

/// A consumer on a new device fetches `hash`: the origin serves it, and no
/// node was offered.
async fn a_new_device_gets_it_from_the_origin_alone(server: &MockServer, hash: ContentHash) {
    let (_dir, consumer) = new_device(server);
    let report = consumer.fetch(hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }), "{report:?}");
    assert_eq!(report.attempts.len(), 1, "no node offered: {report:?}");
}

fn node_id_of(source: &FetchSource) -> Option<&str> {
    match source {
        FetchSource::Node { node_id, .. } => Some(node_id),
        _ => None,
    }
}

async fn hash_failures(server: &MockServer) -> Vec<HashFailureReport> {
    admin_state(server).await.hash_failures
}

#[tokio::test]
async fn a_consumer_fetches_from_a_peer_and_from_the_origin_once_the_peer_is_gone() {
    let server = start_mock().await;
    let FetchScene {
        bytes,
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: alice,
            node,
        },
    } = fetch_scene(&server, item(1, 300_000), |_| {}).await;

    // The control plane knows where Alice serves and what she holds.
    let state = admin_state(&server).await;
    let record = &state.nodes[0];
    assert_eq!(record.device_id.as_str(), alice.device_id());
    assert_eq!(
        record.url.as_deref(),
        Some(format!("http://{}", node.local_addr().expect("serving")).as_str())
    );
    assert_eq!(record.holdings[0], published.hash);

    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert_eq!(
        node_id_of(&report.source),
        Some(alice.device_id().as_str()),
        "{report:?}"
    );
    assert_eq!(report.size, bytes.len() as u64);
    assert_eq!(bob.content().read(&published.hash).await.unwrap().unwrap(), bytes);
    assert_eq!(node.stats().bytes_served, bytes.len() as u64);
    assert_eq!(node.stats().hits, 1);

    // Fetching again is a cache hit: no network.
    let requests = requests_on(&server, routes::DEVICE_SOURCES).await;
    assert_eq!(bob.fetch(published.hash).await.unwrap().source, FetchSource::Cache);
    assert_eq!(requests_on(&server, routes::DEVICE_SOURCES).await, requests);

    // Alice's app is killed: her node is gone without a word to the control
    // plane, which still routes to her. Carol falls back to the origin.
    alice.shutdown().await;
    drop(node);
    let (_carol_dir, carol) = new_device(&server);
    let report = carol.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }), "{report:?}");
    assert_eq!(report.attempts.len(), 2, "{report:?}");
    assert!(
        matches!(report.attempts[0].outcome, AttemptOutcome::Failed { .. }),
        "{report:?}"
    );
    assert_eq!(carol.content().read(&published.hash).await.unwrap().unwrap(), bytes);
    assert!(
        hash_failures(&server).await.is_empty(),
        "an unreachable node is not a lying one"
    );
}

#[tokio::test]
async fn a_stopped_node_is_no_longer_routed_to() {
    let server = start_mock().await;
    let FetchScene {
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: _alice,
            node,
        },
        ..
    } = fetch_scene(&server, item(2, 5_000), |_| {}).await;
    node.stop().await;
    eventually("the stop announcement", || async {
        admin_state(&server).await.nodes[0].url.is_none()
    })
    .await;
    a_new_device_gets_it_from_the_origin_alone(&server, published.hash).await;
}

#[tokio::test]
async fn a_peer_serving_tampered_bytes_is_refused_reported_and_the_origin_serves() {
    let server = start_mock().await;
    // Alice serves from disk only, and her cached file rots after it was
    // verified: she serves wrong bytes without knowing.
    let FetchScene {
        bytes,
        published,
        alice: Peer {
            dir: alice_dir,
            sdk: alice,
            node: _node,
        },
    } = fetch_scene(&server, item(3, 100_000), |c| c.content_memory_budget_bytes = 0).await;
    rot_cached_copy(alice_dir.path(), &published.hash, 50_000);

    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }), "{report:?}");
    assert!(
        matches!(&report.attempts[0].outcome, AttemptOutcome::Tampered { .. }),
        "{report:?}"
    );
    assert_eq!(bob.content().read(&published.hash).await.unwrap().unwrap(), bytes);

    // The report reaches the control plane, signed by Bob, naming Alice.
    eventually("the hash-failure report", || async {
        !hash_failures(&server).await.is_empty()
    })
    .await;
    let reports = hash_failures(&server).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reporter.as_str(), bob.device_id());
    assert!(matches!(&reports[0].source, FailedSource::Node { node_id } if node_id.as_str() == alice.device_id()));
    assert_eq!(reports[0].content, published.hash);

    // The control plane fetched the item from Alice itself and got the
    // wrong bytes too: Alice is not routed to for this item again.
    assert_eq!(admin_state(&server).await.refuted_hash_failures, Vec::new());
    a_new_device_gets_it_from_the_origin_alone(&server, published.hash).await;
}

#[tokio::test]
async fn a_false_report_is_refuted_and_the_node_stays_routed() {
    let server = start_mock().await;
    let FetchScene {
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: alice,
            node,
        },
        ..
    } = fetch_scene(&server, item(9, 80_000), |_| {}).await;
    // A hostile device claims Alice served it wrong bytes.
    let (liar_key, liar) = device_key(31);
    let (status, ..) = post_raw(
        &server,
        paths::DEVICES,
        Some("register-liar-000000000001"),
        serde_json::to_vec(&signed_registration(&liar_key, "t")).unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let report = edgepoints_protocol::HashFailureReport {
        reporter: liar.clone(),
        content: published.hash,
        source: edgepoints_protocol::FailedSource::Node {
            node_id: edgepoints_protocol::DeviceId::parse(&alice.device_id()).unwrap(),
        },
        reason: "made up".into(),
        observed_at_ms: 0,
    };
    let envelope = SignedEnvelope::sign(Purpose::HashFailureReport, liar.as_str(), &liar_key, &report);
    let (status, _, _, body) = post_raw(
        &server,
        &paths::device_hash_failures(liar.as_str()),
        Some("report-liar-0000000000001"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["verdict"], "refuted", "{body}");
    assert_eq!(body["reports_for_source"], 0);
    let state = admin_state(&server).await;
    assert_eq!(state.refuted_hash_failures.len(), 1);
    assert!(state.hash_failures.is_empty());

    // Reported again at once by the same device: the check stands, Alice
    // is not asked again (one device cannot make the control plane
    // download from her over and over).
    let hits = node.stats().hits;
    let (status, _, _, body) = post_raw(
        &server,
        &paths::device_hash_failures(liar.as_str()),
        Some("report-liar-0000000000002"),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!((status, body["verdict"].as_str()), (201, Some("refuted")));
    assert_eq!(node.stats().hits, hits, "no second download");

    // Alice is still routed to.
    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert_eq!(node_id_of(&report.source), Some(alice.device_id().as_str()));
    node.stop().await;
}

#[tokio::test]
async fn a_tampered_origin_gives_a_typed_error_and_nothing_is_kept() {
    let server = start_mock().await;
    let bytes = item(4, 70_000);
    let published = origin::publish(server.control_plane(), bytes.clone().into(), 10)
        .await
        .unwrap();
    add_fault(
        &server,
        serde_json::json!({"route": routes::ORIGIN, "action": "tamper", "count": 1}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let error = sdk.fetch(published.hash).await.unwrap_err();
    assert!(
        matches!(&error, Error::ContentRejected { hash, .. } if *hash == published.hash.to_hex()),
        "{error:?}"
    );
    assert!(!sdk.content().contains(&published.hash).unwrap());
    assert_eq!(sdk.content().stats().unwrap().disk_bytes, 0);
    let partials = std::fs::read_dir(dir.path().join("content").join("partial"))
        .unwrap()
        .count();
    assert_eq!(partials, 0, "no partial file is left behind");
    eventually("the origin's hash-failure report", || async {
        !hash_failures(&server).await.is_empty()
    })
    .await;
    assert!(matches!(
        hash_failures(&server).await[0].source,
        FailedSource::Origin { .. }
    ));

    // The fault is spent: the origin is intact again, and so is the fetch.
    let report = sdk.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }));
    assert_eq!(sdk.content().read(&published.hash).await.unwrap().unwrap(), bytes);
}

#[tokio::test]
async fn unknown_content_is_a_typed_refusal() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    match sdk.fetch(ContentHash::of(b"never published")).await {
        Err(Error::Rejected { status: 404, .. }) => {}
        other => panic!("expected a 404 refusal, got {other:?}"),
    }
}

/// A device that announces a node which accepts connections and never
/// answers: the hedge must not wait for it.
async fn stalled_node(server: &MockServer) -> (tokio::task::JoinHandle<()>, String) {
    hand_made_node(server, 77, None).await
}

/// A consenting device, registered by hand, whose node passes the control
/// plane's probe and then either stalls every content request (`serves`
/// is `None`) or answers with those bytes and a delivery statement signed
/// by a key that is not its own.
async fn hand_made_node(
    server: &MockServer,
    seed: u8,
    serves: Option<Vec<u8>>,
) -> (tokio::task::JoinHandle<()>, String) {
    let (key, id) = device_key(seed);
    let (status, ..) = post_raw(
        server,
        paths::DEVICES,
        Some(&format!("hand-made-register-{seed}")),
        serde_json::to_vec(&signed_registration(&key, "1")).unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let consent = ConsentReport {
        device_id: id.clone(),
        revision: 1,
        decision: ConsentDecision::Granted {
            terms_version: "t".into(),
            policy: ConsentPolicy::default(),
        },
        decided_at_ms: 1,
    };
    let envelope = SignedEnvelope::sign(Purpose::ConsentReport, id.as_str(), &key, &consent);
    let (status, ..) = send_raw(
        server,
        reqwest::Method::PUT,
        &paths::device_consent(id.as_str()),
        Some(&format!("hand-made-consent-{seed}")),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // It passes the control plane's probe (it is reachable, and it is the
    // device), then stalls or answers every content request.
    let (probe_key, probe_id) = (key.clone(), id.clone());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut head = vec![0u8; 4096];
            let n = stream.read(&mut head).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&head[..n]).into_owned();
            let nonce = head
                .strip_prefix("GET /probe/")
                .and_then(|rest| rest.split(' ').next())
                .map(str::to_owned);
            match nonce {
                Some(nonce) => {
                    let answer = edgepoints_protocol::ProbeAnswer {
                        device_id: probe_id.clone(),
                        nonce,
                    };
                    let body = serde_json::to_vec(&SignedEnvelope::sign(
                        Purpose::Probe,
                        probe_id.as_str(),
                        &probe_key,
                        &answer,
                    ))
                    .unwrap();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                }
                None => match &serves {
                    None => held.push(stream),
                    Some(bytes) => {
                        // Everything in it is right but the signature.
                        let header = |name: &str| {
                            head.lines().find_map(|line| {
                                let (key, value) = line.split_once(':')?;
                                key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
                            })
                        };
                        let ticket: edgepoints_protocol::AccessTicket = SignedEnvelope::from_compact(
                            Purpose::AccessTicket,
                            &header(edgepoints_protocol::TICKET_HEADER).unwrap_or_default(),
                        )
                        .and_then(|envelope| envelope.peek())
                        .expect("the consumer sent its ticket");
                        let statement = edgepoints_protocol::DeliveryStatement {
                            node_id: probe_id.clone(),
                            consumer_id: ticket.consumer_id,
                            content: ContentHash::of(bytes),
                            offset: 0,
                            length: bytes.len() as u64,
                            size: bytes.len() as u64,
                            nonce: header(edgepoints_protocol::RECEIPT_NONCE_HEADER).unwrap_or_default(),
                            served_at_ms: 0,
                        };
                        let forger = ed25519_dalek::SigningKey::from_bytes(&[seed.wrapping_add(1); 32]);
                        let forged =
                            SignedEnvelope::sign(Purpose::DeliveryStatement, probe_id.as_str(), &forger, &statement)
                                .to_compact();
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n{}: {forged}\r\nconnection: close\r\n\r\n",
                            bytes.len(),
                            edgepoints_protocol::DELIVERY_HEADER
                        );
                        let _ = stream.write_all(reply.as_bytes()).await;
                        let _ = stream.write_all(bytes).await;
                    }
                },
            }
        }
    });
    let hashes = origin::manifest(server.control_plane())
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.hash)
        .collect();
    let announcement = NodeAnnouncement {
        device_id: id.clone(),
        revision: 1,
        url: Some(url.clone()),
        holdings: hashes,
        announced_at_ms: 1,
        location: None,
        addresses: Vec::new(),
        network: None,
    };
    let envelope = SignedEnvelope::sign(Purpose::NodeAnnouncement, id.as_str(), &key, &announcement);
    let (status, _, _, body) = send_raw(
        server,
        reqwest::Method::PUT,
        &paths::device_node(id.as_str()),
        Some(&format!("hand-made-node-{seed}")),
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (task, id.to_string())
}

#[tokio::test]
async fn a_node_whose_delivery_statement_does_not_verify_gets_no_receipt() {
    let server = start_mock().await;
    let bytes = item(6, 40_000);
    let published = origin::publish(server.control_plane(), bytes.clone().into(), 10)
        .await
        .unwrap();
    let (_node, node_id) = hand_made_node(&server, 78, Some(bytes.clone())).await;
    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert_eq!(node_id_of(&report.source), Some(node_id.as_str()), "{report:?}");
    assert_eq!(bob.content().read(&published.hash).await.unwrap().unwrap(), bytes);
    assert!(
        !report.receipt_queued,
        "the bytes are right, the statement is not the node's"
    );
    bob.outbox().drain(Duration::from_secs(5)).await.unwrap();
    assert_eq!(requests_on(&server, routes::DEVICE_RECEIPTS).await, 0);
}

#[tokio::test]
async fn a_stalled_node_is_hedged_and_the_next_one_delivers() {
    let server = start_mock().await;
    let FetchScene {
        bytes,
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: alice,
            node: _node,
        },
    } = fetch_scene(&server, item(5, 50_000), |_| {}).await;
    // Announced after Alice, the stalled node is offered first.
    let (_stalled, stalled_id) = stalled_node(&server).await;

    let bob_dir = tempfile::tempdir().unwrap();
    let mut config = config(&[server.url()], bob_dir.path());
    config.hedge_delay = Duration::from_millis(200);
    // Far longer than the test may take: only the hedge can save it.
    config.source_idle_timeout = Duration::from_secs(120);
    let bob = EdgePoints::open(config, None).unwrap();
    let report = bob.fetch(published.hash).await.unwrap();
    assert_eq!(
        node_id_of(&report.source),
        Some(alice.device_id().as_str()),
        "{report:?}"
    );
    let stalled = report
        .attempts
        .iter()
        .find(|a| node_id_of(&a.source) == Some(stalled_id.as_str()))
        .expect("the stalled node was tried first");
    assert_eq!(stalled.outcome, AttemptOutcome::Abandoned);
    assert_eq!(bob.content().read(&published.hash).await.unwrap().unwrap(), bytes);
    assert_eq!(
        std::fs::read_dir(bob_dir.path().join("content").join("partial"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn the_monthly_cap_holds_across_restarts_and_stats_reach_the_host() {
    let server = start_mock().await;
    let bytes = item(6, 40_000);
    let published = origin::publish(server.control_plane(), bytes.clone().into(), 10)
        .await
        .unwrap();
    let alice_dir = tempfile::tempdir().unwrap();
    let events = Arc::new(EventRecorder::default());
    let alice = EdgePoints::open(config(&[server.url()], alice_dir.path()), Some(events.clone())).unwrap();
    let policy = ConsentPolicy {
        monthly_upload_cap_bytes: 60_000,
        ..ConsentPolicy::default()
    };
    let (_, node) = serve(&alice, policy.clone()).await;

    let consumer = |_: u8| {
        let dir = tempfile::tempdir().unwrap();
        let sdk = open_sdk(&server, dir.path());
        (dir, sdk)
    };
    let (_d1, first) = consumer(1);
    assert!(node_id_of(&first.fetch(published.hash).await.unwrap().source).is_some());
    // A second copy would pass the cap: refused, and the origin serves.
    let (_d2, second) = consumer(2);
    let report = second.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }), "{report:?}");
    let stats = node.stats();
    assert_eq!(stats.uploaded_this_month_bytes, 40_000);
    assert_eq!(stats.monthly_cap_bytes, 60_000);
    assert_eq!(stats.rejected.get("monthly_cap"), Some(&1));

    // The host hears the stats (at most a second later).
    let heard = |events: &EventRecorder| -> Option<NodeStats> {
        events.0.lock().unwrap().iter().rev().find_map(|e| match e {
            Event::NodeStats { stats } if stats.bytes_served == 40_000 => Some(stats.clone()),
            _ => None,
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while heard(&events).is_none() {
        assert!(Instant::now() < deadline, "no node stats event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(heard(&events).unwrap().rejected.get("monthly_cap"), Some(&1));

    // The month's usage survives a restart of the app.
    node.stop().await;
    alice.shutdown().await;
    drop(alice);
    let alice = EdgePoints::open(config(&[server.url()], alice_dir.path()), None).unwrap();
    let node = alice.node().start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_eq!(node.stats().uploaded_this_month_bytes, 40_000);
    let (_d3, third) = consumer(3);
    assert!(matches!(
        third.fetch(published.hash).await.unwrap().source,
        FetchSource::Origin { .. }
    ));
    assert_eq!(node.stats().rejected.get("monthly_cap"), Some(&1));
}

#[tokio::test]
async fn the_upload_rate_cap_paces_responses() {
    let server = start_mock().await;
    let size = 3 * 512 * 1024;
    let FetchScene {
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: _alice,
            node,
        },
        ..
    } = fetch_scene(&server, item(7, size), |c| {
        c.node_limits.upload_bytes_per_second = 512 * 1024
    })
    .await;
    let (_bob_dir, bob) = new_device(&server);
    let started = Instant::now();
    let report = bob.fetch(published.hash).await.unwrap();
    let elapsed = started.elapsed();
    assert!(node_id_of(&report.source).is_some(), "{report:?}");
    // A second's worth of burst, then 1 MiB at 512 KiB/s: at least 2 s.
    assert!(
        elapsed >= Duration::from_millis(1900),
        "served in {elapsed:?}, faster than the cap allows"
    );
    assert_eq!(node.stats().bytes_served, size as u64);
}

#[tokio::test]
async fn a_large_item_streams_from_the_disk_cache_whole_and_in_ranges() {
    let server = start_mock().await;
    // No memory tier: every request streams the file in chunks.
    let FetchScene {
        bytes,
        published,
        alice: Peer {
            dir: _alice_dir,
            sdk: alice,
            node,
        },
    } = fetch_scene(&server, item(8, 3 * 1024 * 1024 + 17), |c| {
        c.content_memory_budget_bytes = 0
    })
    .await;
    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert_eq!(
        node_id_of(&report.source),
        Some(alice.device_id().as_str()),
        "{report:?}"
    );
    assert_eq!(bob.content().read(&published.hash).await.unwrap().unwrap(), bytes);
    assert_eq!(
        alice.content().stats().unwrap().memory_bytes,
        0,
        "nothing was held in memory"
    );

    let ticket = edgepoints_protocol::AccessTicket {
        node_id: edgepoints_protocol::DeviceId::parse(&alice.device_id()).unwrap(),
        consumer_id: edgepoints_protocol::DeviceId::parse(&bob.device_id()).unwrap(),
        content: published.hash,
        expires_at_ms: u64::MAX,
    }
    .sign(
        server.control_plane().key.key_id(),
        server.control_plane().key.signing_key(),
    );
    let (start, end) = (1_000_000usize, 2_600_000usize);
    let answer = http()
        .get(format!(
            "http://{}/content/{}",
            node.local_addr().expect("serving"),
            published.hash
        ))
        .header(edgepoints_protocol::TICKET_HEADER, ticket)
        .header("range", format!("bytes={start}-{end}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 206);
    assert_eq!(
        answer.headers()["content-range"],
        format!("bytes {start}-{end}/{}", bytes.len()).as_str()
    );
    assert_eq!(&answer.bytes().await.unwrap()[..], &bytes[start..=end]);
}
