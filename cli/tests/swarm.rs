//! The swarm at a small size, with faults on: the real binary, real SDK
//! instances, a control plane of three instances, one stopped and started
//! again. The figures at full size are in BENCHMARKS.md; this run proves
//! the machinery and the audit, which must pass under faults.

use std::process::Command;

#[test]
fn a_small_swarm_under_faults_loses_and_doubles_nothing() {
    let out = tempfile::tempdir().expect("a folder for the figures");
    let output = Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args([
            "swarm",
            "--phones",
            "6",
            "--items",
            "60",
            "--item-bytes",
            "16384",
            "--fetches",
            "30",
            "--think-ms",
            "20",
            "--faults",
            "--heartbeat-load-s",
            "1",
            "--heartbeat-nodes",
            "100",
            "--heartbeat-connections",
            "4",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("the edgepoints binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "swarm failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("swarm.json")).expect("swarm.json written"))
            .expect("swarm.json is JSON");
    let audit = &report["audit"];
    assert_eq!(audit["lost"], 0, "{audit}");
    assert_eq!(audit["doubled"], 0, "{audit}");
    let checks = audit["checks"].as_array().expect("the audit's checks");
    assert!(checks.len() >= 6, "{audit}");
    assert!(checks.iter().all(|c| c["held"] == true), "{audit}");

    let figures = &report["figures"];
    assert_eq!(figures["fetches"], 6 * 30, "{figures}");
    let node_bytes = figures["node_bytes"].as_u64().unwrap();
    assert!(node_bytes > 0, "nodes served something: {figures}");
    // Nodes are credited for an item's first delivery to a user; a user
    // who fetches it again the same day earns the node nothing more.
    let credited = audit["credited_bytes"].as_u64().unwrap();
    assert!(credited > 0 && credited <= node_bytes, "{audit}");

    let chaos = &report["chaos"];
    assert!(chaos["faults_fired"].as_u64().unwrap() > 0, "faults struck: {chaos}");
    assert!(chaos["restarted_instance"].is_string(), "{chaos}");
    assert!(!chaos["serials"].as_array().unwrap().is_empty(), "{chaos}");
    assert!(!chaos["rentals"].as_array().unwrap().is_empty(), "{chaos}");

    let load = &report["heartbeat_load"];
    assert!(load["accepted"].as_u64().unwrap() > 0, "{load}");
    assert_eq!(load["refused"], 0, "{load}");
    assert_eq!(load["errors"], 0, "{load}");

    let plot = std::fs::read_to_string(out.path().join("offload.svg")).expect("offload.svg written");
    assert!(plot.contains("<svg") && plot.trim_end().ends_with("</svg>"), "{plot}");
}
