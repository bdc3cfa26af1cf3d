//! Rental through the SDK, against the mock and its simulated cars: find,
//! reserve, start with a credential the car checks offline, commands over
//! the host's link with lost answers settled by asking the car, a return
//! at another station billed once with one SMS, and the pushed notices.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{EdgePoints, Error, EventListener, Location, RentalPhase, VehicleLink};
use edgepoints_mock_server::rental::catalogue;
use edgepoints_mock_server::MockServer;
use edgepoints_tests::*;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
const CENTRAL: Location = Location {
    latitude: 48.1402,
    longitude: 11.5600,
};
const HARBOUR: Location = Location {
    latitude: 48.1300,
    longitude: 11.5800,
};

async fn city() -> MockServer {
    let server = start_mock().await;
    catalogue::seed_demo(server.control_plane()).await.unwrap();
    server
}

/// A device with `member` signed up and logged in, and a link to cars.
async fn member(
    server: &MockServer,
    dir: &std::path::Path,
    name: &str,
) -> (EdgePoints, Arc<HttpVehicleLink>, Arc<EventRecorder>) {
    let events = Arc::new(EventRecorder::default());
    let sdk = EdgePoints::open(
        config(&[server.url()], dir),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .unwrap();
    sdk.members().sign_up(name, PASSWORD).await.unwrap();
    sdk.members().login(name, PASSWORD).await.unwrap();
    let link = Arc::new(HttpVehicleLink::default());
    sdk.rental()
        .set_vehicle_link(Some(link.clone() as Arc<dyn VehicleLink>));
    (sdk, link, events)
}

async fn queues(server: &MockServer) -> Value {
    http()
        .get(format!("{}/admin/queues", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_from_search_to_bill() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, _link, _) = member(&server, dir.path(), "rita@example.com").await;
    let rental = sdk.rental();

    let near = rental.vehicles_near(CENTRAL, 5.0).await.unwrap();
    assert_eq!(near.len(), 5, "five cars within 5 km: {near:?}");
    assert!(
        near.windows(2).all(|w| w[0].distance_km <= w[1].distance_km),
        "nearest first"
    );
    let car_id = near[0].vehicle_id.clone();
    let link = near[0].link.clone().expect("a provisioned car has a link");

    let reserved = rental.reserve(&car_id).await.unwrap();
    assert_eq!(reserved.phase, RentalPhase::Reserved);
    let running = rental.start().await.unwrap();
    assert_eq!(running.phase, RentalPhase::Running, "{running:?}");
    assert_eq!(car_view(&link).await["locked"], false);

    car(
        &link,
        "drive",
        json!({ "to": HARBOUR, "km": 4.2, "battery_used_percent": 3 }),
    )
    .await;
    let closed = rental.end().await.unwrap();
    assert_eq!(closed.phase, RentalPhase::Closed);
    let record = closed.rental.unwrap();
    assert_eq!(record.end_station_id.as_deref(), Some("st-harbour"));
    let fee = record.fee.unwrap();
    assert!(fee.lines.iter().any(|l| l.item == "one_way"), "{fee:?}");
    assert!(
        fee.lines.iter().any(|l| l.item == "distance" && l.cents == 5 * 19),
        "{fee:?}"
    );

    eventually("the bill and the SMS", || async {
        let q = queues(&server).await;
        q["bills"].as_array().unwrap().len() == 1 && q["sms"].as_array().unwrap().len() == 1
    })
    .await;
    let notices = sdk.members().heartbeat_now().await.unwrap();
    let kinds: Vec<_> = notices.iter().map(|n| n.kind.as_str()).collect();
    assert!(
        kinds.contains(&"rental_billed") && kinds.contains(&"sms_sent"),
        "{kinds:?}"
    );
    // The car no longer takes the credential.
    eventually("the credential revoked on the car", || async {
        !car_view(&link).await["revoked"].as_array().unwrap().is_empty()
    })
    .await;
    let refused = rental.unlock().await;
    assert!(matches!(refused, Err(Error::RentalState { .. })), "{refused:?}");
    let _ = Duration::ZERO;
}
