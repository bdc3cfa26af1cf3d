//! The edge node's HTTP server: tickets, ranges, conditional requests, and
//! hostile clients, over real loopback connections.

use std::time::Duration;

use edgepoints_core::{
    ConsentPolicy, ContentHash, EdgePoints, Error, NetworkKind, NodeHandle, NodeLimits, ServingGate,
};
use edgepoints_mock_server::MockServer;
use edgepoints_protocol::{AccessTicket, DeviceId, TICKET_HEADER};
use edgepoints_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Node {
    server: MockServer,
    _dir: tempfile::TempDir,
    sdk: EdgePoints,
    handle: NodeHandle,
    item: (ContentHash, Vec<u8>),
}

async fn serving_node(limits: NodeLimits) -> Node {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&[server.url()], dir.path());
    config.node_limits = limits;
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(90, true).unwrap();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let hash = ContentHash::of(&bytes);
    sdk.content().ingest_bytes(hash, &bytes).await.unwrap();
    let handle = sdk.node().start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Node {
        server,
        _dir: dir,
        sdk,
        handle,
        item: (hash, bytes),
    }
}

impl Node {
    fn ticket_for(&self, node: &str, content: ContentHash, ttl_ms: i64) -> String {
        let key = &self.server.control_plane().key;
        AccessTicket {
            node_id: DeviceId::parse(node).unwrap(),
            consumer_id: device_key(200).1,
            content,
            expires_at_ms: (now_ms() as i64 + ttl_ms) as u64,
        }
        .sign(key.key_id(), key.signing_key())
    }

    fn ticket(&self) -> String {
        self.ticket_for(&self.sdk.device_id(), self.item.0, 60_000)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.local_addr().expect("serving"))
    }

    fn content_url(&self) -> String {
        self.url(&format!("/content/{}", self.item.0))
    }
}

#[tokio::test]
async fn serves_verified_content_with_ranges_and_validators() {
    let node = serving_node(NodeLimits::default()).await;
    let client = http();
    let ticket = node.ticket();
    let full = client
        .get(node.content_url())
        .header(TICKET_HEADER, &ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    let etag = format!("\"{}\"", node.item.0);
    assert_eq!(full.headers()["etag"], etag.as_str());
    assert_eq!(full.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(full.headers()["content-length"], "100000");
    assert_eq!(full.bytes().await.unwrap(), node.item.1);

    let head = client
        .head(node.content_url())
        .header(TICKET_HEADER, &ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "100000");
    assert!(head.bytes().await.unwrap().is_empty());

    for (range, status, expect) in [
        ("bytes=10-19", 206, Some((10usize, 19usize))),
        ("bytes=-5", 206, Some((99_995, 99_999))),
        ("bytes=99990-", 206, Some((99_990, 99_999))),
        ("bytes=100000-", 416, None),
        ("bytes=0-1,4-5", 200, Some((0, 99_999))),
        ("bytes=nonsense", 200, Some((0, 99_999))),
    ] {
        let response = client
            .get(node.content_url())
            .header(TICKET_HEADER, &ticket)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{range}");
        if status == 416 {
            assert_eq!(response.headers()["content-range"], "bytes */100000");
        }
        if status == 206 {
            let (a, b) = expect.unwrap();
            assert_eq!(
                response.headers()["content-range"],
                format!("bytes {a}-{b}/100000").as_str()
            );
        }
        let body = response.bytes().await.unwrap();
        if let Some((a, b)) = expect {
            assert_eq!(body, node.item.1[a..=b], "{range}");
        }
    }

    let cached = client
        .get(node.content_url())
        .header(TICKET_HEADER, &ticket)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let stats = node.handle.stats();
    assert!(stats.hits >= 8);
    assert_eq!(stats.bytes_served as usize, 100_000 * 3 + 10 + 5 + 10);
}

#[tokio::test]
async fn requests_without_a_valid_ticket_are_refused() {
    let node = serving_node(NodeLimits::default()).await;
    let client = http();
    let (hash, _) = node.item;
    let other_content = ContentHash::of(b"something else");
    let (_, stranger) = device_key(77);
    let forged = {
        let forger = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
        AccessTicket {
            node_id: DeviceId::parse(&node.sdk.device_id()).unwrap(),
            consumer_id: stranger.clone(),
            content: hash,
            expires_at_ms: now_ms() + 60_000,
        }
        .sign(node.server.control_plane().key.key_id(), &forger)
    };
    let cases = [
        ("no ticket", None, 401),
        ("garbage", Some("not.a.ticket".to_owned()), 403),
        (
            "expired",
            Some(node.ticket_for(&node.sdk.device_id(), hash, -1_000)),
            403,
        ),
        (
            "another node's",
            Some(node.ticket_for(stranger.as_str(), hash, 60_000)),
            403,
        ),
        (
            "other content's",
            Some(node.ticket_for(&node.sdk.device_id(), other_content, 60_000)),
            403,
        ),
        ("forged", Some(forged), 403),
    ];
    for (what, ticket, status) in cases {
        let mut request = client.get(node.content_url());
        if let Some(ticket) = ticket {
            request = request.header(TICKET_HEADER, ticket);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert!(response.bytes().await.unwrap().is_empty(), "{what}: nothing served");
    }
    // A valid ticket for content the node does not hold: 404.
    let missing = client
        .get(node.url(&format!("/content/{other_content}")))
        .header(
            TICKET_HEADER,
            node.ticket_for(&node.sdk.device_id(), other_content, 60_000),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let stats = node.handle.stats();
    assert_eq!(stats.rejected.get("no_ticket"), Some(&1));
    assert_eq!(stats.rejected.get("bad_ticket"), Some(&5));
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.bytes_served, 0);
}

async fn raw(node: &Node, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn hostile_requests_get_the_right_status_and_the_node_keeps_serving() {
    let node = serving_node(NodeLimits {
        header_read_timeout: Duration::from_millis(300),
        ..NodeLimits::default()
    })
    .await;
    let ticket = node.ticket();
    for (what, request, status) in [
        (
            "traversal",
            "GET /content/../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n".to_owned(),
            "404",
        ),
        (
            "unknown path",
            "GET /admin HTTP/1.1\r\nhost: x\r\n\r\n".to_owned(),
            "404",
        ),
        (
            "upper-case hash",
            format!(
                "GET /content/{} HTTP/1.1\r\nhost: x\r\n\r\n",
                node.item.0.to_hex().to_uppercase()
            ),
            "404",
        ),
        (
            "post",
            format!(
                "POST /content/{} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
                node.item.0
            ),
            "405",
        ),
        ("not http", "\x16\x03\x01 hello\r\n\r\n".to_owned(), "400"),
        (
            "oversized head",
            format!(
                "GET /content/{} HTTP/1.1\r\nhost: x\r\nx-junk: {}\r\n\r\n",
                node.item.0,
                "a".repeat(64 * 1024)
            ),
            "431",
        ),
    ] {
        let answer = raw(&node, request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{what}: {answer:.80}"
        );
    }

    // A slow client is cut off after the header timeout.
    let mut slow = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    slow.write_all(b"GET /content/").await.unwrap();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow connection was not closed");
    assert!(started.elapsed() < Duration::from_secs(2));

    // And the node still serves others.
    let fine = http()
        .get(node.content_url())
        .header(TICKET_HEADER, ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn connections_over_the_limit_get_503_at_once() {
    let node = serving_node(NodeLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(3),
        ..NodeLimits::default()
    })
    .await;
    // Two idle connections hold both slots.
    let _a = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    let _b = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = raw(&node, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(node.handle.stats().rejected.get("too_many_connections"), Some(&1));
    drop((_a, _b));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fine = http()
        .get(node.content_url())
        .header(TICKET_HEADER, node.ticket())
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200, "slots come back when connections close");
}

#[tokio::test]
async fn a_node_needs_consent_and_stops_promptly() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    assert!(matches!(
        sdk.node().start("127.0.0.1:0".parse().unwrap()).await,
        Err(Error::NoConsent)
    ));
    let node = serving_node(NodeLimits::default()).await;
    let addr = node.handle.local_addr().expect("serving");
    let open = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    node.handle.stop().await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(TcpStream::connect(addr).await.is_err(), "no longer listening");
    let mut open = open;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(1), open.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "open connections are closed too");
}

async fn status_of(node: &Node) -> Option<u16> {
    http()
        .get(node.content_url())
        .header(TICKET_HEADER, node.ticket())
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Polls until `status_of` gives `want`; returns how long it took.
async fn time_until(node: &Node, want: Option<u16>) -> Duration {
    let started = tokio::time::Instant::now();
    while status_of(node).await != want {
        assert!(started.elapsed() < Duration::from_secs(5), "never reached {want:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn serving_follows_the_policy_and_revoking_stops_it_within_a_second() {
    let node = serving_node(NodeLimits::default()).await;
    node.sdk
        .consent()
        .grant(
            "t",
            ConsentPolicy {
                charging_only: true,
                ..ConsentPolicy::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status_of(&node).await, Some(200));

    // Off the charger: "charging only" pauses serving.
    node.sdk.set_battery(80, false).unwrap();
    assert!(matches!(node.sdk.serving_gate(), ServingGate::Paused { .. }));
    let paused_in = time_until(&node, Some(503)).await;
    assert!(paused_in < Duration::from_secs(1), "paused after {paused_in:?}");
    assert!(node.handle.stats().rejected.contains_key("paused"));

    // Back on the charger: serving again.
    node.sdk.set_battery(81, true).unwrap();
    time_until(&node, Some(200)).await;
    node.sdk.set_network(NetworkKind::Cellular).unwrap();
    time_until(&node, Some(503)).await;
    node.sdk.set_network(NetworkKind::Wifi).unwrap();
    time_until(&node, Some(200)).await;

    // Revoked with purge: the listener closes and the cache is emptied.
    let started = tokio::time::Instant::now();
    node.sdk.consent().revoke(true).await.unwrap();
    let stopped_in = time_until(&node, None).await + started.elapsed();
    assert!(
        stopped_in < Duration::from_secs(1),
        "still serving after {stopped_in:?}"
    );
    assert!(TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .is_err());
    assert_eq!(node.sdk.content().stats().unwrap().items, 0);
}

/// Sends a GET for the node's item on `stream` and reads until `at_least`
/// bytes (head and body) came.
async fn get_on(node: &Node, stream: &mut TcpStream, at_least: usize) -> usize {
    let request = format!(
        "GET /content/{} HTTP/1.1\r\nHost: x\r\n{TICKET_HEADER}: {}\r\n\r\n",
        node.item.0,
        node.ticket()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    while got < at_least {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed after {got} bytes");
        got += n;
    }
    got
}

/// Reads until the node closes the connection; returns the bytes read.
async fn read_to_close(stream: &mut TcpStream) -> usize {
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the node closed the connection")
        .map_or(0, |_| rest.len())
}

#[tokio::test]
async fn stopping_closes_idle_connections_at_once() {
    let node = serving_node(NodeLimits::default()).await;
    let mut idle = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    get_on(&node, &mut idle, node.item.1.len()).await;
    let started = std::time::Instant::now();
    node.handle.stop().await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "an idle keep-alive connection did not hold the stop for the grace period: {:?}",
        started.elapsed()
    );
    assert_eq!(read_to_close(&mut idle).await, 0, "closed, nothing more sent");
}

#[tokio::test]
async fn stopping_gives_a_response_in_flight_a_moment_then_cuts_it() {
    // 100 000 bytes at 16 000 bytes/s: after the first burst, more than
    // two seconds, longer than the grace.
    let node = serving_node(NodeLimits {
        upload_bytes_per_second: 16_000,
        ..NodeLimits::default()
    })
    .await;
    let mut busy = TcpStream::connect(node.handle.local_addr().expect("serving"))
        .await
        .unwrap();
    let first = get_on(&node, &mut busy, 1).await;
    let started = std::time::Instant::now();
    let handle = node.handle;
    let stopping = tokio::spawn(async move { handle.stop().await });
    let rest = read_to_close(&mut busy).await;
    stopping.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(2_500),
        "the response got about a second: {took:?}"
    );
    assert!(
        rest > 0 && first + rest < node.item.1.len(),
        "it went on during the grace, then was cut: {first} + {rest} bytes"
    );
}
