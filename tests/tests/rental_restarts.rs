//! The rental survives the app: a process renting a car is killed
//! (SIGKILL) in each phase, and the SDK opened again on its data directory
//! finds the rental in that phase, reconciles with the control plane, and
//! carries it on to its end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use edgepoints_core::{EdgePoints, RentalPhase, VehicleLink};
use edgepoints_mock_server::rental::catalogue;
use edgepoints_mock_server::{members, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// Runs the rental app to `phase`, kills it, and opens the SDK on its data.
async fn killed_at(
    server: &MockServer,
    dir: &std::path::Path,
    member: &str,
    vehicle: &str,
    phase: &str,
    link_fails: bool,
) -> EdgePoints {
    members::sign_up(server.control_plane(), member, PASSWORD)
        .await
        .unwrap()
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rental-app"));
    command
        .args(["--endpoint", &server.url(), "--member", member, "--password", PASSWORD])
        .args(["--vehicle", vehicle, "--to", phase])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if link_fails {
        command.arg("--link-fails");
    }
    let mut child = command.spawn().expect("the rental app starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    assert_eq!(line.trim(), format!("phase {phase}"), "the app reached its phase");
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let sdk = EdgePoints::open(config(&[server.url()], dir), None).expect("the SDK opens after the kill");
    sdk.rental()
        .set_vehicle_link(Some(Arc::new(HttpVehicleLink::default()) as Arc<dyn VehicleLink>));
    sdk
}

async fn city() -> MockServer {
    let server = start_mock().await;
    catalogue::seed_demo(server.control_plane()).await.unwrap();
    server
}

const HARBOUR: edgepoints_core::Location = edgepoints_core::Location {
    latitude: 48.1300,
    longitude: 11.5800,
};

/// Drives a resumed rental to its end from where it is.
async fn finish(sdk: &EdgePoints) {
    let rental = sdk.rental();
    let mut status = rental.reconcile().await.unwrap();
    if matches!(status.phase, RentalPhase::Reserved | RentalPhase::Starting) {
        status = rental.start().await.unwrap();
    }
    assert_eq!(status.phase, RentalPhase::Running, "{status:?}");
    let link = status.vehicle.unwrap().link.unwrap();
    car(&link, "drive", json!({ "to": HARBOUR, "km": 2.0 })).await;
    assert_eq!(rental.end().await.unwrap().phase, RentalPhase::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_reserved_it_resumes_reserved() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = killed_at(&server, dir.path(), "kr@example.com", "ev-101", "reserved", false).await;
    assert_eq!(sdk.rental().status().unwrap().phase, RentalPhase::Reserved);
    finish(&sdk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_starting_with_the_unlock_in_flight_it_resumes_starting() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = killed_at(&server, dir.path(), "ks@example.com", "ev-102", "starting", true).await;
    let status = sdk.rental().status().unwrap();
    assert_eq!(status.phase, RentalPhase::Starting);
    assert!(
        status.command_in_flight.is_some(),
        "the lost unlock is remembered: {status:?}"
    );
    // Asked, the car says it never had the unlock; a new one starts it.
    let reconciled = sdk.rental().reconcile().await.unwrap();
    assert_eq!(reconciled.phase, RentalPhase::Starting);
    assert!(reconciled.command_in_flight.is_none());
    finish(&sdk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_running_it_resumes_running() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = killed_at(&server, dir.path(), "kn@example.com", "ev-103", "running", false).await;
    assert_eq!(sdk.rental().status().unwrap().phase, RentalPhase::Running);
    finish(&sdk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_ending_it_resumes_ending_and_the_outbox_ends_it() {
    let server = city().await;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_RENTAL_END, "action": "fail", "status": 503, "count": 1000}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = killed_at(&server, dir.path(), "ke@example.com", "ev-201", "ending", false).await;
    let status = sdk.rental().status().unwrap();
    assert_eq!(status.phase, RentalPhase::Ending);
    assert_eq!(status.pending_step.as_deref(), Some("end"));
    http()
        .delete(format!("{}/admin/faults", server.url()))
        .send()
        .await
        .unwrap();
    sdk.outbox().retry_now().unwrap();
    eventually("the end sent after the restart", || async {
        sdk.rental().status().unwrap().phase == RentalPhase::Closed
    })
    .await;
    let rentals = edgepoints_mock_server::rental::rentals::all(server.control_plane())
        .await
        .unwrap();
    assert_eq!(rentals[0].state, edgepoints_core::RentalState::Ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_when_closed_or_cancelled_it_stays_so() {
    let server = city().await;
    for (phase, member, vehicle, expected) in [
        ("closed", "kc@example.com", "ev-202", RentalPhase::Closed),
        ("cancelled", "kx@example.com", "ev-301", RentalPhase::Cancelled),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sdk = killed_at(&server, dir.path(), member, vehicle, phase, false).await;
        assert_eq!(sdk.rental().status().unwrap().phase, expected);
        assert_eq!(sdk.rental().reconcile().await.unwrap().phase, expected);
        sdk.shutdown().await;
    }
}
