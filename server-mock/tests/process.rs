//! The mock server as QA starts it: a process that prints its address.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn starts_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgepoints-mock-server"))
        .args(["--listen", "127.0.0.1:0", "--key-seed", &"07".repeat(32)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mock server starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("edgepoints-mock-server listening on ")
        .expect("first line names the address")
        .to_owned();
    let second = lines.next().unwrap().unwrap();
    assert!(second.starts_with("control-plane key cp_"), "{second}");
    let client = edgepoints_core::transport::http_client().unwrap();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let state: serde_json::Value = client
        .get(format!("{url}/admin/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The key seed makes the key reproducible across runs.
    assert!(second.contains(state["control_plane_key_id"].as_str().unwrap()));
    child.kill().unwrap();
    child.wait().unwrap();
}
