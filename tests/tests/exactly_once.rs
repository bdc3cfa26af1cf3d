//! The promise the outbox makes, as a property: whatever mix of faults the
//! control plane throws — failures before running, answers lost after
//! committing, stalls longer than the client waits — every call the SDK
//! accepted is applied exactly once, in order, and none is lost.
//!
//! `EDGEPOINTS_PROPTEST_CASES` sets how many random plans run (default 3).

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{ConsentPolicy, ConsentStatus, EdgePoints, OutlierPolicy, RetryBudgetPolicy, RetryPolicy};
use edgepoints_mock_server::{ControlPlane, MockServer};
use edgepoints_tests::*;
use proptest::prelude::*;
use serde_json::json;

/// One random run: fault rates, their seed, and each device's decisions
/// (true = grant, false = revoke).
#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    fail: f64,
    drop_after_commit: f64,
    stall: f64,
    devices: Vec<Vec<bool>>,
}

fn plans() -> impl Strategy<Value = Plan> {
    (
        any::<u64>(),
        0.0..0.25f64,
        0.0..0.25f64,
        0.0..0.15f64,
        prop::collection::vec(prop::collection::vec(any::<bool>(), 120..160), 5..=7),
    )
        .prop_map(|(seed, fail, drop_after_commit, stall, devices)| Plan {
            seed,
            fail,
            drop_after_commit,
            stall,
            devices,
        })
}

async fn run(plan: Plan) -> Result<(), TestCaseError> {
    init_tracing();
    let control_plane = Arc::new(ControlPlane::in_memory(None).await);
    let servers = MockServer::start_cluster(2, control_plane.clone()).await.unwrap();
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    for (i, rule) in [
        json!({"action": "fail", "status": 503, "probability": plan.fail}),
        json!({"action": "fail", "status": 429, "probability": plan.fail / 4.0}),
        json!({"action": "drop_after_commit", "probability": plan.drop_after_commit}),
        // Longer than the client's timeout: the client gives up, the server
        // commits anyway.
        json!({"action": "delay", "delay_ms": 300, "probability": plan.stall}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rule = rule;
        rule["seed"] = json!(plan.seed.wrapping_add(i as u64));
        add_fault(&servers[0], rule).await;
    }

    let dirs: Vec<_> = plan.devices.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let mut tasks = Vec::new();
    for (decisions, dir) in plan.devices.iter().cloned().zip(&dirs) {
        let mut config = config(&endpoints, dir.path());
        config.request_timeout = Duration::from_millis(200);
        config.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        };
        config.outbox_max_delay = Duration::from_millis(50);
        // Faults here are far above any real retry budget; the budget has its
        // own test, this one is about exactly-once.
        config.retry_budget = RetryBudgetPolicy {
            ratio: 10.0,
            floor: 10_000,
            window: Duration::from_secs(10),
        };
        config.outlier = OutlierPolicy {
            base_ejection: Duration::from_millis(50),
            max_ejection: Duration::from_millis(200),
            ..OutlierPolicy::default()
        };
        let sdk = EdgePoints::open(config, None).unwrap();
        tasks.push(tokio::spawn(async move {
            for grant in decisions {
                let accepted = if grant {
                    sdk.consent().grant("t", ConsentPolicy::default()).await
                } else {
                    sdk.consent().revoke(false).await
                };
                accepted.expect("a decision is always accepted locally");
            }
            sdk
        }));
    }
    let mut sdks = Vec::new();
    for task in tasks {
        sdks.push(task.await.unwrap());
    }

    // Faults off; everything accepted must now arrive.
    http()
        .delete(format!("{}/admin/faults", servers[1].url()))
        .send()
        .await
        .unwrap();
    for sdk in &sdks {
        let status = sdk.outbox().drain(Duration::from_secs(60)).await.unwrap();
        prop_assert_eq!((status.pending, status.failed), (0, 0), "{:?}", status.last_error);
    }
    let dump = control_plane.dump().await.unwrap();
    prop_assert!(
        dump.executions.duplicates.is_empty(),
        "{:?}",
        dump.executions.duplicates
    );
    prop_assert_eq!(
        dump.applied.get("registrations").copied(),
        Some(plan.devices.len() as i64)
    );
    let decisions: usize = plan.devices.iter().map(Vec::len).sum();
    // The faults did bite: more requests than calls reached the control plane.
    let requests: i64 = dump.requests.values().sum();
    if plan.fail + plan.drop_after_commit > 0.05 {
        prop_assert!(
            requests > (decisions + plan.devices.len()) as i64,
            "{requests} requests"
        );
    }
    prop_assert_eq!(dump.applied.get("consent_reports").copied(), Some(decisions as i64));
    for (sdk, planned) in sdks.iter().zip(&plan.devices) {
        let local = sdk.consent().state().unwrap();
        prop_assert!(local.reported);
        prop_assert_eq!(local.revision, planned.len() as u64);
        let device = dump
            .devices
            .iter()
            .find(|d| d.device_id.as_str() == sdk.device_id())
            .expect("registered");
        let expected: Vec<u64> = (1..=planned.len() as u64).collect();
        prop_assert_eq!(&device.consent_history, &expected, "every decision once, in order");
        let server_granted = matches!(
            device.consent.as_ref().unwrap().decision,
            edgepoints_protocol::ConsentDecision::Granted { .. }
        );
        prop_assert_eq!(server_granted, matches!(local.status, ConsentStatus::Granted { .. }));
    }
    for sdk in sdks {
        sdk.shutdown().await;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("EDGEPOINTS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 4, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_call_is_applied_exactly_once(plan in plans()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(plan))?;
    }
}
