//! Crash test: a real process using the SDK is killed with SIGKILL at random
//! moments while its calls are in flight (and the control plane throws
//! faults), then started again on the same data directory. After a final
//! drain, every decision the SDK accepted is applied exactly once.
//!
//! `EDGEPOINTS_CRASH_KILLS` sets the number of kills (default 20);
//! `EDGEPOINTS_CRASH_SEED` replays a run. For a long run:
//!
//! ```sh
//! EDGEPOINTS_CRASH_KILLS=150 cargo nextest run -p edgepoints-cli --test crash
//! ```

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use edgepoints_core::{Config, EdgePoints};
use edgepoints_mock_server::{MockConfig, MockServer};
use serde_json::json;

fn device_command(url: &str, dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgepoints"));
    command
        .args(["device", "--control-plane", url, "--data-dir"])
        .arg(dir)
        .args([
            "--retry-base-ms",
            "5",
            "--retry-max-ms",
            "50",
            "--request-timeout-ms",
            "300",
        ]);
    command
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_accepted_call_is_applied_once() {
    let kills = env_number("EDGEPOINTS_CRASH_KILLS").unwrap_or(20);
    let seed = env_number("EDGEPOINTS_CRASH_SEED").unwrap_or_else(|| fastrand::u64(..));
    println!("crash test: {kills} kills, seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);

    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let url = server.url();
    let http = edgepoints_core::transport::http_client().unwrap();
    for (i, rule) in [
        json!({"action": "fail", "status": 503, "probability": 0.1}),
        json!({"action": "drop_after_commit", "probability": 0.1}),
        json!({"action": "delay", "delay_ms": 400, "probability": 0.05}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rule = rule;
        rule["seed"] = json!(seed.wrapping_add(i as u64));
        let added = http
            .post(format!("{url}/admin/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 201);
    }

    let dir = tempfile::tempdir().unwrap();
    let mut highest_accepted = 0u64;
    for _ in 0..kills {
        let mut child = device_command(&url, dir.path())
            .args(["churn", "--until-revision", "1000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the edgepoints binary runs");
        tokio::time::sleep(Duration::from_millis(rng.u64(30..400))).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        for line in out.lines() {
            if let Some(revision) = line.strip_prefix("accepted revision ") {
                highest_accepted = highest_accepted.max(revision.parse().unwrap());
            }
        }
    }
    assert!(highest_accepted > 0, "no run got as far as one decision");

    // Faults off; a last process drains what the killed ones left.
    http.delete(format!("{url}/admin/faults")).send().await.unwrap();
    let drained = device_command(&url, dir.path())
        .args(["drain", "--timeout-ms", "60000"])
        .output()
        .unwrap();
    assert!(
        drained.status.success(),
        "drain failed: {}",
        String::from_utf8_lossy(&drained.stdout)
    );

    let sdk = EdgePoints::open(Config::new(vec![url.parse().unwrap()], dir.path()), None).unwrap();
    let local = sdk.consent().state().unwrap();
    assert!(local.reported);
    assert!(
        local.revision >= highest_accepted,
        "an accepted decision was lost: printed {highest_accepted}, stored {}",
        local.revision
    );
    let status = sdk.outbox().status().unwrap();
    assert_eq!((status.pending, status.failed), (0, 0));
    let dump = server.control_plane().dump().await.unwrap();
    assert!(
        dump.executions.duplicates.is_empty(),
        "{:?}",
        dump.executions.duplicates
    );
    assert_eq!(dump.applied.get("registrations"), Some(&1));
    let expected: Vec<u64> = (1..=local.revision).collect();
    assert_eq!(
        dump.devices[0].consent_history, expected,
        "every decision once, in order"
    );
    println!(
        "crash test: {kills} kills, {} decisions applied once each, {} requests",
        local.revision,
        dump.requests.values().sum::<i64>()
    );
    sdk.shutdown().await;
}
