//! The tour is the main job: run the real binary, as a user would.

use std::process::Command;

#[test]
fn tour_runs_every_flow_and_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .arg("tour")
        .output()
        .expect("the edgepoints binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tour failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("tour finished"), "{stdout}");
    assert!(!stdout.contains("check failed"), "{stdout}");
    assert_eq!(stdout.matches(" registered\n").count(), 3, "{stdout}");
    assert!(
        stdout.contains("served by another instance"),
        "the tour shows a failover: {stdout}"
    );
    assert!(
        stdout.contains("applied once"),
        "the tour survives a lost answer: {stdout}"
    );
}

#[test]
fn device_subcommands_share_one_data_directory() {
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_edgepoints"))
        .args(["device", "--control-plane", "http://127.0.0.1:1", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("status")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&server.stdout);
    assert!(server.status.success(), "{stdout}");
    assert!(stdout.contains("registered  no"), "{stdout}");
    assert!(stdout.contains("consent     not asked"), "{stdout}");
}
