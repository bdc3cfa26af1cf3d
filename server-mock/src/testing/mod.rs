//! Helpers for tests of this crate and of projects that use the mock: a
//! typed client of the admin API, a throw-away Redis server, and the
//! contract every state store must hold.

mod admin_client;

pub use admin_client::{AdminClient, AdminError};

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::{get_json, update_json, StateStore};

/// A `redis-server` process on a free loopback port, killed on drop.
///
/// The test scripts install `redis-server` from Debian when it is missing
/// (`scripts/install-test-tools.sh`).
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    pub fn start() -> Result<RedisServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server ({e}); run scripts/install-test-tools.sh"))?;
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("redis-server did not start listening".into())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The behaviour every [`StateStore`] must show. Clears the store first.
pub async fn store_contract(store: Arc<dyn StateStore>) {
    store.clear().await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), None);
    assert!(store.compare_and_swap("a", None, Some(b"1")).await.unwrap());
    assert!(!store.compare_and_swap("a", None, Some(b"2")).await.unwrap());
    assert!(!store.compare_and_swap("a", Some(b"9"), Some(b"2")).await.unwrap());
    assert!(store.compare_and_swap("a", Some(b"1"), Some(b"2")).await.unwrap());
    assert_eq!(store.get("a").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert!(store.compare_and_swap("a", Some(b"2"), None).await.unwrap());
    assert_eq!(store.get("a").await.unwrap(), None);
    assert_eq!(store.increment("n", 2).await.unwrap(), 2);
    assert_eq!(store.increment("n", 3).await.unwrap(), 5);
    store.compare_and_swap("p:x*[1]", None, Some(b"x")).await.unwrap();
    store.compare_and_swap("p:y", None, Some(b"y")).await.unwrap();
    store.compare_and_swap("q:z", None, Some(b"z")).await.unwrap();
    let mut under_p = store.scan("p:").await.unwrap();
    under_p.sort();
    assert_eq!(
        under_p,
        vec![("p:x*[1]".to_owned(), b"x".to_vec()), ("p:y".to_owned(), b"y".to_vec())]
    );
    // A deleted key leaves the scan; written again, it is there once.
    assert!(store.compare_and_swap("p:y", Some(b"y"), None).await.unwrap());
    assert_eq!(
        store.scan("p:").await.unwrap(),
        vec![("p:x*[1]".to_owned(), b"x".to_vec())]
    );
    assert!(store.compare_and_swap("p:y", None, Some(b"y2")).await.unwrap());
    assert!(store.compare_and_swap("p:y", Some(b"y2"), Some(b"y3")).await.unwrap());
    let mut under_p = store.scan("p:").await.unwrap();
    under_p.sort();
    assert_eq!(
        under_p,
        vec![
            ("p:x*[1]".to_owned(), b"x".to_vec()),
            ("p:y".to_owned(), b"y3".to_vec())
        ]
    );

    // Many keys swap together or not at all.
    let swap = |key, expected, new| crate::store::Swap { key, expected, new };
    assert!(!store
        .compare_and_swap_many(
            &[swap("m1", None, Some(&b"1"[..])), swap("a", Some(&b"9"[..]), None)],
            &[]
        )
        .await
        .unwrap());
    assert_eq!(store.get("m1").await.unwrap(), None, "one stale key stops the others");
    assert!(store
        .compare_and_swap_many(
            &[swap("m1", None, Some(&b"1"[..])), swap("m2", None, Some(&b"2"[..]))],
            &[]
        )
        .await
        .unwrap());
    assert!(store
        .compare_and_swap_many(
            &[
                swap("m1", Some(&b"1"[..]), None),
                swap("m2", Some(&b"2"[..]), Some(&b"3"[..]))
            ],
            &[]
        )
        .await
        .unwrap());
    assert_eq!(store.get("m1").await.unwrap(), None);
    assert_eq!(store.get("m2").await.unwrap().as_deref(), Some(&b"3"[..]));
    // Transfers between two records under contention keep their sum.
    store.compare_and_swap("left", None, Some(b"100")).await.unwrap();
    store.compare_and_swap("right", None, Some(b"0")).await.unwrap();
    let mut movers = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        movers.push(tokio::spawn(async move {
            for _ in 0..10 {
                crate::store::update_json_pair::<u64, u64, (), ()>(&*store, ("left", "right"), |l, r| {
                    Ok((Some(l.unwrap_or(0) - 1), Some(r.unwrap_or(0) + 1), ()))
                })
                .await
                .unwrap()
                .unwrap();
            }
        }));
    }
    for mover in movers {
        mover.await.unwrap();
    }
    assert_eq!(get_json::<u64>(&*store, "left").await.unwrap(), Some(40));
    assert_eq!(get_json::<u64>(&*store, "right").await.unwrap(), Some(60));

    // Concurrent read-modify-writes lose no update.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                update_json::<u64, (), ()>(&*store, "counter", |n| Ok((Some(n.unwrap_or(0) + 1), ())))
                    .await
                    .unwrap()
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(get_json::<u64>(&*store, "counter").await.unwrap(), Some(200));
    stream_contract(&*store).await;
    store.clear().await.unwrap();
    assert!(store.scan("").await.unwrap().is_empty());
    assert_eq!(store.stream_view("jobs", "g", 10).await.unwrap().length, 0);
}

/// Streams: a message goes out with its swap or not at all, each group
/// entry to one consumer, pending until acknowledged, and claimable by
/// another consumer once idle.
async fn stream_contract(store: &dyn StateStore) {
    use std::time::Duration;

    use crate::store::StreamMessage;

    let message = |body: &str| StreamMessage {
        stream: "jobs".into(),
        body: body.as_bytes().to_vec(),
    };
    let mut first = store.stream_reader().await.unwrap();
    let mut second = store.stream_reader().await.unwrap();
    // The group exists before anything is published: nothing is skipped.
    assert!(first
        .read_new("jobs", "g", "c1", 10, Duration::from_millis(1))
        .await
        .unwrap()
        .is_empty());
    // A failed swap publishes nothing.
    assert!(!store
        .compare_and_swap_publishing("job", Some(b"nope"), Some(b"1"), &[message("lost")])
        .await
        .unwrap());
    assert!(store
        .compare_and_swap_publishing("job", None, Some(b"1"), &[message("one"), message("two")])
        .await
        .unwrap());
    assert_eq!(store.get("job").await.unwrap().as_deref(), Some(&b"1"[..]));
    let taken = first
        .read_new("jobs", "g", "c1", 1, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].body, b"one");
    let rest = second
        .read_new("jobs", "g", "c2", 10, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
        vec![b"two".to_vec()]
    );
    assert!(
        taken[0].id < rest[0].id,
        "ids rise: {} then {}",
        taken[0].id,
        rest[0].id
    );
    // A blocked read wakes for an append.
    let waiting = tokio::spawn({
        let mut reader = store.stream_reader().await.unwrap();
        async move {
            reader
                .read_new("jobs", "g", "c3", 10, Duration::from_secs(5))
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .compare_and_swap_publishing("job", Some(b"1"), Some(b"2"), &[message("three")])
        .await
        .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(woke.len(), 1);
    assert_eq!(woke[0].body, b"three");
    // c1 acknowledges; c2 "dies" with its entry pending; c1 claims it once idle.
    assert!(store.stream_ack("jobs", "g", &taken[0].id).await.unwrap());
    assert!(!store.stream_ack("jobs", "g", &taken[0].id).await.unwrap());
    assert!(store.stream_ack("jobs", "g", &woke[0].id).await.unwrap());
    let view = store.stream_view("jobs", "g", 10).await.unwrap();
    assert_eq!(view.length, 3);
    assert_eq!(view.entries[0].body, b"three", "newest first");
    assert_eq!(view.pending.len(), 1);
    assert_eq!(view.pending[0].consumer, "c2");
    assert!(first
        .claim_idle("jobs", "g", "c1", Duration::from_secs(60), 10)
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(60)).await;
    let claimed = first
        .claim_idle("jobs", "g", "c1", Duration::from_millis(50), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].body, b"two");
    let view = store.stream_view("jobs", "g", 10).await.unwrap();
    assert_eq!(view.pending[0].consumer, "c1");
    assert_eq!(view.pending[0].deliveries, 2);
    assert!(store.stream_ack("jobs", "g", &claimed[0].id).await.unwrap());
    assert!(store.stream_view("jobs", "g", 10).await.unwrap().pending.is_empty());
}
