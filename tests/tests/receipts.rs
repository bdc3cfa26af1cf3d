//! Receipts: a node earns points for bytes only from consumers' receipts.
//! The node signs a delivery statement, the consumer signs a receipt for
//! what it verified, and the control plane checks the ticket, both
//! signatures and its records before it credits whole megabytes. Replayed,
//! self-issued, forged or mismatched receipts, and receipts for content
//! reported as served wrong, are refused with a reason and credit nothing.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use edgepoints_core::{ContentHash, Event, EventListener, FetchSource, LedgerReason, NodeHandle};
use edgepoints_mock_server::{origin, points, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_protocol::{
    paths, AccessTicket, DeliveryStatement, DeviceId, FailedSource, HashFailureReport, PointsRules, Purpose, Receipt,
    SignedEnvelope, DELIVERY_HEADER, RECEIPT_NONCE_HEADER, TICKET_HEADER,
};
use edgepoints_tests::*;
use serde_json::json;

async fn set_rules(server: &MockServer, rules: PointsRules) {
    points::set_rules(server.control_plane(), rules).await.unwrap();
}

fn delivery_credits(events: &EventRecorder) -> Vec<u64> {
    events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::PointsCredited {
                points,
                reason: LedgerReason::Delivery,
                ..
            } => Some(*points),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn verified_deliveries_earn_the_node_points_per_megabyte() {
    let server = start_mock().await;
    set_rules(
        &server,
        PointsRules {
            points_per_delivered_mb: 5,
            ..PointsRules::default()
        },
    )
    .await;
    // 2.5 MB: two full megabytes now, the half waits for the next delivery.
    let published = origin::publish(server.control_plane(), item(1, 2_500_000).into(), 10)
        .await
        .unwrap();
    let alice_dir = tempfile::tempdir().unwrap();
    let events = Arc::new(EventRecorder::default());
    let (alice, node) = serving_node(
        &server,
        alice_dir.path(),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .await;

    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Node { .. }), "{report:?}");
    assert!(report.receipt_queued, "Alice signed a statement, Bob queued a receipt");
    bob.outbox().drain(Duration::from_secs(5)).await.unwrap();
    assert_eq!(applied(&server, "receipts").await, 1);

    let beat = node.heartbeat_now().await.unwrap();
    assert_eq!(beat.delivery_points, 10, "2 full MB at 5 points: {beat:?}");
    assert_eq!(delivery_credits(&events), vec![10], "the app heard of the credit");
    let balance = alice.points().balance().await.unwrap();
    assert_eq!(balance.delivered_bytes, 2_500_000);
    assert_eq!(balance.balance, 10);

    // Carol's delivery completes the half megabyte: 3 MB more, 15 points.
    let (_carol_dir, carol) = new_device(&server);
    assert!(carol.fetch(published.hash).await.unwrap().receipt_queued);
    carol.outbox().drain(Duration::from_secs(5)).await.unwrap();
    assert_eq!(node.heartbeat_now().await.unwrap().delivery_points, 15);
    let ledger = alice.points().ledger(0).await.unwrap();
    let deliveries: Vec<_> = ledger
        .entries
        .iter()
        .filter(|e| e.reason == LedgerReason::Delivery)
        .map(|e| (e.points, e.detail.clone()))
        .collect();
    assert_eq!(
        deliveries,
        vec![(10, "2 MB delivered".to_owned()), (15, "3 MB delivered".to_owned())]
    );
    assert_eq!(delivery_credits(&events), vec![10, 15]);

    // Bob fetching the same item again from the same node (he dropped his
    // copy) is a repeat: taken, credited nothing.
    assert!(bob.content().remove(&published.hash).unwrap());
    assert!(bob.fetch(published.hash).await.unwrap().receipt_queued);
    bob.outbox().drain(Duration::from_secs(5)).await.unwrap();
    assert_eq!(applied(&server, "receipts").await, 3);
    let balance = alice.points().balance().await.unwrap();
    assert_eq!(
        (balance.delivered_bytes, balance.balance),
        (5_000_000, 25),
        "a repeat delivery to the same consumer earns nothing"
    );
    // The consumers earned nothing for receiving.
    assert_eq!(bob.points().balance().await.unwrap().balance, 0);
    node.stop().await;
}

#[tokio::test]
async fn origin_deliveries_make_no_receipt_and_a_lost_answer_credits_once() {
    let server = start_mock().await;
    let published = origin::publish(server.control_plane(), item(2, 1_200_000).into(), 10)
        .await
        .unwrap();
    let (_bob_dir, bob) = new_device(&server);
    let report = bob.fetch(published.hash).await.unwrap();
    assert!(matches!(report.source, FetchSource::Origin { .. }));
    assert!(!report.receipt_queued, "the origin earns no points");

    let alice_dir = tempfile::tempdir().unwrap();
    let (alice, node) = serving_node(&server, alice_dir.path(), None).await;
    // The receipt route fails twice, then loses the answer after it
    // committed: the outbox retries with the same key and it counts once.
    let route = routes::DEVICE_RECEIPTS;
    add_fault(
        &server,
        json!({"route": route, "action": "fail", "status": 503, "count": 2}),
    )
    .await;
    add_fault(
        &server,
        json!({"route": route, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let (_carol_dir, carol) = new_device(&server);
    assert!(carol.fetch(published.hash).await.unwrap().receipt_queued);
    carol.outbox().drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(applied(&server, "receipts").await, 1);
    assert!(
        requests_on(&server, route).await >= 3,
        "two failures and the lost answer"
    );
    let balance = alice.points().balance().await.unwrap();
    assert_eq!((balance.delivered_bytes, balance.balance), (1_200_000, 1));
    node.stop().await;
}

/// A consumer the test signs for by hand: registered with its own key.
struct RawConsumer {
    key: SigningKey,
    id: DeviceId,
}

impl RawConsumer {
    async fn register(server: &MockServer, seed: u8) -> Self {
        let (key, id) = device_key(seed);
        let body = serde_json::to_vec(&signed_registration(&key, "t")).unwrap();
        let key_text = format!("register-{seed:0>24}");
        let (status, ..) = post_raw(server, paths::DEVICES, Some(&key_text), body).await;
        assert_eq!(status, 201);
        RawConsumer { key, id }
    }

    /// Submits `receipt` signed by `signer` (its own key unless forging).
    async fn submit(&self, server: &MockServer, receipt: &Receipt, signer: &SigningKey) -> (u16, serde_json::Value) {
        let envelope = SignedEnvelope::sign(Purpose::Receipt, self.id.as_str(), signer, receipt);
        let (status, _, _, body) = post_raw(
            server,
            &paths::device_receipts(self.id.as_str()),
            Some(&fresh_idempotency_key()),
            serde_json::to_vec(&envelope).unwrap(),
        )
        .await;
        (status, body)
    }
}

/// A new idempotency key per request: every submission is a new call.
fn fresh_idempotency_key() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "receipt-test-{:020}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn ticket(server: &MockServer, node: &str, consumer: &DeviceId, content: ContentHash) -> String {
    let key = &server.control_plane().key;
    AccessTicket {
        node_id: DeviceId::parse(node).unwrap(),
        consumer_id: consumer.clone(),
        content,
        expires_at_ms: now_ms() + 60_000,
    }
    .sign(key.key_id(), key.signing_key())
}

/// GETs the item from the node with a ticket and nonce; returns the
/// node's statement header and the body's length.
async fn fetch_with_nonce(
    node: &NodeHandle,
    hash: ContentHash,
    ticket: &str,
    nonce: Option<&str>,
) -> (Option<String>, usize) {
    let mut request = http()
        .get(format!("http://{}/content/{hash}", node.local_addr().expect("serving")))
        .header(TICKET_HEADER, ticket);
    if let Some(nonce) = nonce {
        request = request.header(RECEIPT_NONCE_HEADER, nonce);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let statement = response
        .headers()
        .get(DELIVERY_HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    (statement, response.bytes().await.unwrap().len())
}

fn problem_code(body: &serde_json::Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn replayed_self_issued_forged_and_mismatched_receipts_are_refused_and_credit_nothing() {
    let server = start_mock().await;
    let size = 1_000_000usize;
    let published = origin::publish(server.control_plane(), item(3, size).into(), 10)
        .await
        .unwrap();
    let hash = published.hash;
    let alice_dir = tempfile::tempdir().unwrap();
    // Alice serves from disk, so her copy can rot under her below.
    let (alice, node) = serving_node_with(&server, alice_dir.path(), None, |c| c.content_memory_budget_bytes = 0).await;
    let alice_id = DeviceId::parse(&alice.device_id()).unwrap();
    let zed = RawConsumer::register(&server, 41).await;
    let yan = RawConsumer::register(&server, 42).await;
    let zed_ticket = ticket(&server, alice_id.as_str(), &zed.id, hash);

    // Without a nonce the node signs nothing.
    let (statement, len) = fetch_with_nonce(&node, hash, &zed_ticket, None).await;
    assert_eq!((statement, len), (None, size));
    let nonce = "00112233445566778899aabbccddeeff";
    let (statement, _) = fetch_with_nonce(&node, hash, &zed_ticket, Some(nonce)).await;
    let statement = statement.expect("a statement when asked with a nonce");
    let said: DeliveryStatement = SignedEnvelope::from_compact(Purpose::DeliveryStatement, &statement)
        .unwrap()
        .peek()
        .unwrap();
    assert_eq!(
        (
            &said.node_id,
            &said.consumer_id,
            said.offset,
            said.length,
            said.nonce.as_str()
        ),
        (&alice_id, &zed.id, 0, size as u64, nonce),
        "the statement names the consumer from the ticket"
    );
    let receipt = Receipt {
        consumer_id: zed.id.clone(),
        node_id: alice_id.clone(),
        content: hash,
        bytes: size as u64,
        received_at_ms: now_ms(),
        ticket: zed_ticket.clone(),
        delivery: statement.clone(),
    };

    // Refused before anything is taken, each with its reason.
    let forger = SigningKey::from_bytes(&[99; 32]);
    let forged_statement =
        SignedEnvelope::sign(Purpose::DeliveryStatement, alice_id.as_str(), &forger, &said).to_compact();
    let forged_ticket = AccessTicket {
        node_id: alice_id.clone(),
        consumer_id: zed.id.clone(),
        content: hash,
        expires_at_ms: now_ms() + 60_000,
    }
    .sign(server.control_plane().key.key_id(), &forger);
    // What, who submits, the receipt, who signs it, the answer expected.
    type Case<'a> = (&'a str, &'a RawConsumer, Receipt, &'a SigningKey, (u16, &'a str));
    let cases: Vec<Case> = vec![
        (
            "a forged consumer signature",
            &zed,
            receipt.clone(),
            &forger,
            (401, "bad_signature"),
        ),
        (
            "a forged node statement",
            &zed,
            Receipt {
                delivery: forged_statement,
                ..receipt.clone()
            },
            &zed.key,
            (422, "receipt_invalid"),
        ),
        (
            "inflated bytes",
            &zed,
            Receipt {
                bytes: 10 * size as u64,
                ..receipt.clone()
            },
            &zed.key,
            (422, "receipt_invalid"),
        ),
        (
            "another consumer's ticket and statement",
            &yan,
            Receipt {
                consumer_id: yan.id.clone(),
                ..receipt.clone()
            },
            &yan.key,
            (422, "receipt_invalid"),
        ),
        (
            "a device naming itself as the node",
            &zed,
            Receipt {
                node_id: zed.id.clone(),
                ..receipt.clone()
            },
            &zed.key,
            (422, "self_receipt"),
        ),
        (
            "a ticket the control plane did not sign",
            &zed,
            Receipt {
                ticket: forged_ticket,
                ..receipt.clone()
            },
            &zed.key,
            (422, "receipt_invalid"),
        ),
    ];
    for (what, consumer, receipt, signer, expected) in cases {
        let (status, body) = consumer.submit(&server, &receipt, signer).await;
        assert_eq!((status, problem_code(&body)), expected, "{what}: {body}");
    }
    assert_eq!(applied(&server, "receipts").await, 0);

    // The genuine receipt is taken once; sent again it is a replay.
    let (status, body) = zed.submit(&server, &receipt, &zed.key).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["credited_bytes"], size as u64);
    let (status, body) = zed.submit(&server, &receipt, &zed.key).await;
    assert_eq!((status, problem_code(&body)), (422, "receipt_replayed"));

    // Yan reports Alice falsely: the control plane fetches the item from
    // her, finds it right, and her receipts still count.
    let report_alice = |reporter: &RawConsumer| {
        let report = HashFailureReport {
            reporter: reporter.id.clone(),
            content: hash,
            source: FailedSource::Node {
                node_id: alice_id.clone(),
            },
            reason: "digest mismatch".into(),
            observed_at_ms: now_ms(),
        };
        let envelope = SignedEnvelope::sign(Purpose::HashFailureReport, reporter.id.as_str(), &reporter.key, &report);
        let path = paths::device_hash_failures(reporter.id.as_str());
        let server = &server;
        async move {
            let (status, _, _, body) = post_raw(
                server,
                &path,
                Some(&fresh_idempotency_key()),
                serde_json::to_vec(&envelope).unwrap(),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            body["verdict"].as_str().unwrap_or_default().to_owned()
        }
    };
    let receipt_from = |consumer: &RawConsumer, nonce: &'static str| {
        let ticket = ticket(&server, alice_id.as_str(), &consumer.id, hash);
        let (node, base) = (&node, receipt.clone());
        let consumer_id = consumer.id.clone();
        async move {
            let (statement, _) = fetch_with_nonce(node, hash, &ticket, Some(nonce)).await;
            Receipt {
                consumer_id,
                ticket,
                delivery: statement.unwrap(),
                ..base
            }
        }
    };
    assert_eq!(report_alice(&yan).await, "refuted");
    let yan_receipt = receipt_from(&yan, "ffeeddccbbaa99887766554433221100").await;
    let (status, body) = yan.submit(&server, &yan_receipt, &yan.key).await;
    assert_eq!(status, 201, "a refuted report changes nothing: {body}");

    // Alice's cached copy rots. Wen's report is confirmed by the control
    // plane's own fetch, and no receipt for the item counts any more, even
    // one whose statement Alice genuinely signed.
    rot_cached_copy(alice_dir.path(), &hash, size / 2);
    let wen = RawConsumer::register(&server, 43).await;
    assert_eq!(report_alice(&wen).await, "confirmed");
    let wen_receipt = receipt_from(&wen, "0123456789abcdef0123456789abcdef").await;
    let (status, body) = wen.submit(&server, &wen_receipt, &wen.key).await;
    assert_eq!((status, problem_code(&body)), (422, "content_reported_failed"));
    let state = admin_state(&server).await;
    assert_eq!(state.refuted_hash_failures.len(), 1);
    assert_eq!(state.hash_failures.len(), 1);

    // Only the two genuine receipts of intact deliveries were credited.
    assert_eq!(applied(&server, "receipts").await, 2);
    assert_eq!(applied(&server, "receipts_refused").await, 7);
    let balance = alice.points().balance().await.unwrap();
    assert_eq!((balance.delivered_bytes, balance.balance), (2 * size as u64, 2));
    node.stop().await;
}
