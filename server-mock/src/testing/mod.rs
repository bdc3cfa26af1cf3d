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
    store.clear().await.unwrap();
    assert!(store.scan("").await.unwrap().is_empty());
}
