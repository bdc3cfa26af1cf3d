//! Rental through the SDK, against the mock and its simulated cars: find,
//! reserve, start with a credential the car checks offline, commands over
//! the host's link with lost answers settled by asking the car, a return
//! at another station billed once with one SMS, and the pushed notices.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{EdgePoints, Error, EventListener, Location, RentalPhase, VehicleLink};
use edgepoints_mock_server::rental::catalogue;
use edgepoints_mock_server::MockServer;
use edgepoints_protocol::paths::routes;
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
    let (sdk, recording, _) = member(&server, dir.path(), "rita@example.com").await;
    let rental = sdk.rental();

    let near = rental.vehicles_near(CENTRAL, 5.0).await.unwrap();
    assert_eq!(near.len(), 5, "five cars within 5 km: {near:?}");
    assert!(
        near.windows(2).all(|w| w[0].distance_km <= w[1].distance_km),
        "nearest first"
    );
    let car_id = near[0].vehicle_id.clone();
    let link = near[0].link.clone().expect("a provisioned car has a link");

    // The reservation's answer is lost and the start meets a 503: each
    // happens once all the same.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_RESERVATIONS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_RENTAL_START, "action": "fail", "status": 503, "count": 1}),
    )
    .await;
    let reserved = rental.reserve(&car_id).await.unwrap();
    assert_eq!(reserved.phase, RentalPhase::Reserved);
    let running = rental.start().await.unwrap();
    let rentals = edgepoints_mock_server::rental::rentals::all(server.control_plane())
        .await
        .unwrap();
    assert_eq!(rentals.len(), 1, "one reservation though its answer was lost");
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
    // A command recorded during the rental, played after its end: revoked.
    let recorded = recording.requests().last().unwrap().clone();
    let replayed = replay_to_car(&link, recorded).await;
    assert_eq!(replayed["outcome"]["reason"], "revoked", "{replayed}");
    let refused = rental.unlock().await;
    assert!(matches!(refused, Err(Error::RentalState { .. })), "{refused:?}");
    let _ = Duration::ZERO;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_car_refuses_a_replay_and_a_lost_answer_is_settled_by_asking_it() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, link, _) = member(&server, dir.path(), "sam@example.com").await;
    let rental = sdk.rental();
    rental.reserve("ev-101").await.unwrap();
    let running = rental.start().await.unwrap();
    let address = running.vehicle.unwrap().link.unwrap();

    // A recorded unlock, played again by someone near the car: refused.
    let unlock = link.requests().last().unwrap().clone();
    rental.lock().await.unwrap();
    let replayed = replay_to_car(&address, unlock).await;
    assert_eq!(replayed["outcome"]["reason"], "replayed_counter", "{replayed}");
    assert_eq!(car_view(&address).await["locked"], true, "the replay opened nothing");

    // The car acts and its answer is lost: the SDK asks, and believes the car.
    car(&address, "faults", json!({ "drop_answers": 1 })).await;
    let unlocked = rental.unlock().await.unwrap();
    assert!(unlocked.settled_by_status, "{unlocked:?}");
    assert!(unlocked.accepted() && !unlocked.reading.locked);
    let counters = car_view(&address).await["counters"].clone();
    assert_eq!(
        counters.as_object().unwrap().values().next().unwrap(),
        &json!(unlocked.counter)
    );

    // The link drops before the car hears it: asked, the car says it never
    // had it, and the command goes again under a new counter.
    link.fail_next.store(1, std::sync::atomic::Ordering::Relaxed);
    let locked = rental.lock().await.unwrap();
    assert_eq!(locked.counter, unlocked.counter + 2, "the lost counter is never reused");
    assert_eq!(car_view(&address).await["locked"], true);

    // A link that fails for good leaves the command in flight, typed.
    link.fail_next.store(10, std::sync::atomic::Ordering::Relaxed);
    let unreachable = rental.unlock().await;
    assert!(
        matches!(unreachable, Err(Error::VehicleUnreachable(_))),
        "{unreachable:?}"
    );
    assert!(rental.status().unwrap().command_in_flight.is_some());
    link.fail_next.store(0, std::sync::atomic::Ordering::Relaxed);
    let reconciled = rental.reconcile().await.unwrap();
    assert!(reconciled.command_in_flight.is_none(), "{reconciled:?}");
    assert_eq!(reconciled.phase, RentalPhase::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_card_opens_the_car_offline_and_another_does_not() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, _link, _) = member(&server, dir.path(), "cara@example.com").await;
    let rental = sdk.rental();
    let bound = rental.bind_card("4000 1234 5678 9010").await.unwrap();
    assert_eq!(bound.card_hint, "9010");
    assert!(matches!(rental.bind_card("12").await, Err(Error::InvalidInput(_))));
    rental.reserve("ev-102").await.unwrap();
    let address = rental.start().await.unwrap().vehicle.unwrap().link.unwrap();
    rental.lock().await.unwrap();
    let other = car(&address, "card-tap", json!({ "card_number": "4000 1234 5678 9011" })).await;
    assert_eq!(other["outcome"]["reason"], "wrong_card", "{other}");
    assert_eq!(other["locked"], true);
    let mine = car(&address, "card-tap", json!({ "card_number": "4000-1234-5678-9010" })).await;
    assert_eq!(mine["outcome"]["outcome"], "accepted", "{mine}");
    assert_eq!(mine["locked"], false);
    // Another member's car knows nothing of this card.
    let elsewhere = catalogue::vehicle(server.control_plane(), "ev-103")
        .await
        .unwrap()
        .unwrap();
    let foreign = car(
        elsewhere.link.as_deref().unwrap(),
        "card-tap",
        json!({ "card_number": "4000 1234 5678 9010" }),
    )
    .await;
    assert_eq!(foreign["outcome"]["reason"], "no_credential", "{foreign}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_is_refused_with_its_reason_and_the_rental_runs_on() {
    let server = city().await;
    let dir = tempfile::tempdir().unwrap();
    let (sdk, _link, _) = member(&server, dir.path(), "dora@example.com").await;
    let rental = sdk.rental();
    rental.reserve("ev-101").await.unwrap();
    let address = rental.start().await.unwrap().vehicle.unwrap().link.unwrap();

    car(&address, "doors", json!({ "closed": false })).await;
    let open = rental.end().await;
    assert!(
        matches!(
            open,
            Err(Error::VehicleRefused {
                reason: edgepoints_core::VehicleRefusal::DoorsOpen
            })
        ),
        "{open:?}"
    );
    car(&address, "doors", json!({ "closed": true })).await;
    rental.unlock().await.unwrap();
    let between = Location {
        latitude: 48.1350,
        longitude: 11.5700,
    };
    car(&address, "drive", json!({ "to": between })).await;
    let nowhere = rental.end().await;
    assert!(
        matches!(&nowhere, Err(Error::EndRefused { reason }) if reason == "not_at_station"),
        "{nowhere:?}"
    );
    let status = rental.status().unwrap();
    assert_eq!(status.phase, RentalPhase::Running);
    assert_eq!(status.last_refusal.as_deref(), Some("not_at_station"));
    // Locked where it stands, the car opens again for the member.
    rental.unlock().await.unwrap();
    car(&address, "drive", json!({ "to": CENTRAL })).await;
    let closed = rental.end().await.unwrap();
    assert_eq!(closed.phase, RentalPhase::Closed);
    let fee = closed.rental.unwrap().fee.unwrap();
    assert!(
        !fee.lines.iter().any(|l| l.item == "one_way"),
        "back at its own station: {fee:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charging_reservations_answer_as_a_charge_point_and_a_returned_car_charges_off_peak() {
    use edgepoints_core::ChargingReservationStatus::*;
    use edgepoints_mock_server::points;

    let server = city().await;
    let plane = server.control_plane();
    // Sessions outlive the charging: the clock moves hours here.
    let timeouts = edgepoints_protocol::SessionTimeouts {
        idle_ms: 8 * 3_600_000,
        ..Default::default()
    };
    edgepoints_mock_server::members::set_timeouts(plane, timeouts)
        .await
        .unwrap();
    // Charging any time, so the plan is due soon on the mock clock.
    http()
        .put(format!("{}/admin/charging-tariff", server.url()))
        .json(&json!({ "off_peak": [] }))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sdk, _link, _) = member(&server, dir.path(), "cole@example.com").await;
    let rental = sdk.rental();
    let now = points::now(plane).await.unwrap();
    let hour = 3_600_000;
    let faulted = rental
        .reserve_charging("st-harbour", Some("c2".into()), now, now + hour)
        .await
        .unwrap();
    assert_eq!(faulted.status, Faulted);
    let rejected = rental
        .reserve_charging("st-harbour", None, now + hour, now)
        .await
        .unwrap();
    assert_eq!(rejected.status, Rejected);
    let unknown = rental
        .reserve_charging("st-nowhere", None, now, now + hour)
        .await
        .unwrap();
    assert_eq!(unknown.status, Rejected);
    let accepted = rental
        .reserve_charging("st-harbour", None, now, now + hour)
        .await
        .unwrap();
    assert_eq!(
        (accepted.status, accepted.connector_id.as_deref()),
        (Accepted, Some("c1"))
    );
    let dir_b = tempfile::tempdir().unwrap();
    let (other, _, _) = member(&server, dir_b.path(), "dina@example.com").await;
    let occupied = other
        .rental()
        .reserve_charging("st-harbour", None, now, now + hour)
        .await
        .unwrap();
    assert_eq!(occupied.status, Occupied, "the only working connector is held");

    rental.reserve("ev-102").await.unwrap();
    let address = rental.start().await.unwrap().vehicle.unwrap().link.unwrap();
    car(
        &address,
        "drive",
        json!({ "to": HARBOUR, "km": 3.0, "battery_used_percent": 44 }),
    )
    .await;
    let closed = rental.end().await.unwrap();
    let until = closed.rental.unwrap().charging_until_ms;
    let reconciled = rental.reconcile().await.unwrap().rental.unwrap();
    let until = reconciled
        .charging_until_ms
        .or(until)
        .expect("plugged into the reserved connector");
    assert_eq!(
        rental.vehicle("ev-102").await.unwrap().state,
        edgepoints_core::VehicleState::Charging
    );
    let station = rental.station("st-harbour").await.unwrap();
    assert_eq!(station.connectors[0].status, edgepoints_core::ConnectorStatus::Occupied);

    points::advance_clock(plane, until - points::now(plane).await.unwrap() + 1)
        .await
        .unwrap();
    eventually("charging finished", || async {
        rental.vehicle("ev-102").await.unwrap().battery_percent == 100
    })
    .await;
    let notices = sdk.members().heartbeat_now().await.unwrap();
    assert!(notices.iter().any(|n| n.kind == "charging_finished"), "{notices:?}");
}
