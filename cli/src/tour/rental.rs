//! The tour's rental: Alice finds a car at Central Station and reserves
//! it while Bob's reservation of the same car is refused; the car opens
//! for her credential and refuses a replayed unlock and a stranger's card;
//! her instance dies mid-rental and the rental goes on without a new
//! login; she returns the car at the Harbour, where it is billed once and
//! texted once though a queue consumer dies, plugged in to charge, and
//! the bill and the SMS come back to her phone as notices.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepoints_core::{Error, Location, RentalPhase, VehicleLink, VehicleLinkError};
use edgepoints_mock_server::rental::workers::CrashPoint;
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::calls::sticky_instance;
use super::narrative::{check, say, step};
use super::Tour;
use crate::vehicle_link::HttpVehicleLink;
use crate::CliResult;

const ALICE: &str = "alice@tour.edgepoints";
const ALICE_PASSWORD: &str = "alice's long passphrase";
const BOB: &str = "bob@tour.edgepoints";
const BOB_PASSWORD: &str = "bob's long passphrase";
const ALICE_CARD: &str = "4000 1234 5678 9010";
const CENTRAL: Location = Location {
    latitude: 48.1402,
    longitude: 11.5600,
};
const HARBOUR: Location = Location {
    latitude: 48.1300,
    longitude: 11.5800,
};

/// The CLI's link, keeping what it carried: the tour replays a recording.
struct RecordingLink {
    inner: Arc<dyn VehicleLink>,
    sent: Mutex<Vec<Vec<u8>>>,
}

impl VehicleLink for RecordingLink {
    fn exchange(&self, vehicle_id: String, address: String, request: Vec<u8>) -> Result<Vec<u8>, VehicleLinkError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        self.inner.exchange(vehicle_id, address, request)
    }
}

/// What the rental steps pass on.
pub(super) struct AliceRental {
    link: Arc<RecordingLink>,
    vehicle_id: String,
    address: String,
    rental_id: String,
}

impl Tour {
    pub(super) async fn alice_reserves_a_car_and_bob_is_refused(&mut self) -> CliResult<AliceRental> {
        step("Alice finds a car near Central Station and reserves it; Bob's reservation of it is refused");
        match self.alice.sdk.members().sign_up(ALICE, ALICE_PASSWORD).await {
            Ok(_) | Err(Error::MemberTaken) => {}
            Err(error) => return Err(error.into()),
        }
        self.alice.sdk.members().login(ALICE, ALICE_PASSWORD).await?;
        self.bob.sdk.members().login(BOB, BOB_PASSWORD).await?;
        let link = Arc::new(RecordingLink {
            inner: HttpVehicleLink::shared()?,
            sent: Mutex::new(Vec::new()),
        });
        self.alice
            .sdk
            .rental()
            .set_vehicle_link(Some(link.clone() as Arc<dyn VehicleLink>));
        let near = self.alice.sdk.rental().vehicles_near(CENTRAL, 3.0).await?;
        for v in &near {
            say(format!(
                "{:<8} {:<10} {:.2} km, battery {}%, range {} km",
                v.vehicle_id,
                v.plate,
                v.distance_km.unwrap_or_default(),
                v.battery_percent,
                v.range_km
            ));
        }
        let chosen = near
            .iter()
            .find(|v| v.battery_percent >= 50)
            .ok_or("no charged car near Central Station")?;
        let address = chosen.link.clone().ok_or("the car has no link")?;
        let reserved = self.alice.sdk.rental().reserve(&chosen.vehicle_id).await?;
        let rental = reserved.rental.ok_or("no rental in the answer")?;
        say(format!(
            "alice-phone   reserved {} (rental {}), held {} min",
            chosen.vehicle_id,
            rental.rental_id,
            (rental.hold_expires_at_ms - rental.reserved_at_ms) / 60_000
        ));
        let refused = self.bob.sdk.rental().reserve(&chosen.vehicle_id).await;
        check(
            matches!(refused, Err(Error::VehicleTaken)),
            "Bob's reservation of the same car is refused: `vehicle_taken`",
        )?;
        Ok(AliceRental {
            link,
            vehicle_id: chosen.vehicle_id.clone(),
            address,
            rental_id: rental.rental_id,
        })
    }

    pub(super) async fn the_car_opens_for_alice_and_refuses_a_replay(&mut self, rental: &AliceRental) -> CliResult {
        step("The car checks Alice's credential offline and opens; it refuses a replayed unlock and a stranger's card");
        let bound = self.alice.sdk.rental().bind_card(ALICE_CARD).await?;
        say(format!("alice-phone   card …{} bound to her account", bound.card_hint));
        let started = self.alice.sdk.rental().start().await?;
        let car = self.admin.car_view(&rental.address).await?;
        check(
            started.phase == RentalPhase::Running && !car.locked,
            &format!(
                "started: the control plane issued a credential, the car accepted the signed unlock #{} and the start is confirmed",
                car.counters.values().max().copied().unwrap_or_default()
            ),
        )?;
        let unlock = rental
            .link
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
            .ok_or("nothing was sent to the car")?;
        let locked = self.alice.sdk.rental().lock().await?;
        say(format!("alice-phone   lock #{} accepted", locked.counter));
        let replayed = edgepoints_core::transport::http_client()?
            .post(format!("{}/link", rental.address))
            .body(unlock)
            .send()
            .await?
            .json::<edgepoints_protocol::SignedEnvelope>()
            .await?;
        let answer: serde_json::Value = serde_json::from_slice(&replayed.unverified_payload()?)?;
        let still = self.admin.car_view(&rental.address).await?;
        check(
            answer["outcome"]["reason"] == "replayed_counter" && still.locked,
            "the recorded unlock, played again near the car, is refused: `replayed_counter`; the car stays locked",
        )?;
        let stranger = self
            .admin
            .car(
                &rental.address,
                "card-tap",
                &json!({ "card_number": "5500 0000 0000 0004" }),
            )
            .await?;
        let hers = self
            .admin
            .car(&rental.address, "card-tap", &json!({ "card_number": ALICE_CARD }))
            .await?;
        check(
            stranger["outcome"]["reason"] == "wrong_card" && hers["locked"] == false,
            "a stranger's card is refused (`wrong_card`); Alice's card opens the car, offline",
        )
    }

    pub(super) async fn alices_instance_dies_mid_rental(&mut self, rental: &AliceRental) -> CliResult {
        if self.servers.len() < 2 {
            return Ok(());
        }
        step("Alice's instance goes down mid-rental; the rental goes on at the next, without a new login");
        let sticky = sticky_instance(&self.servers, &self.alice.sdk).ok_or("alice's endpoint is not one of ours")?;
        let downed = self.servers.remove(sticky);
        let (addr, control_plane) = (downed.addr(), downed.control_plane().clone());
        downed.shutdown().await;
        say(format!("instance {addr} stopped"));
        let admin = self.live_admin()?;
        let logins = admin.requests_on(routes::DEVICE_LOGIN).await?;
        let honk = self.alice.sdk.rental().honk().await?;
        let status = self.alice.sdk.rental().reconcile().await?;
        say(format!(
            "alice-phone   honk #{} accepted; the control plane, via {}, says the rental of {} is {}",
            honk.counter,
            self.alice.sdk.current_endpoint(),
            rental.vehicle_id,
            status.rental.as_ref().map_or("?", |r| r.state.as_str())
        ));
        check(
            status.phase == RentalPhase::Running && admin.requests_on(routes::DEVICE_LOGIN).await? == logins,
            "the rental runs on at another instance with the same session: no new login",
        )?;
        self.servers.insert(
            sticky,
            edgepoints_mock_server::MockServer::start_with(addr, control_plane).await?,
        );
        say(format!("instance {addr} restarted"));
        Ok(())
    }

    pub(super) async fn alice_returns_the_car_at_the_harbour(&mut self, rental: &AliceRental) -> CliResult {
        step("Alice returns the car at the Harbour: billed once and texted once though a queue consumer dies");
        let admin = self.live_admin()?;
        admin.set_claim_idle(Duration::from_millis(500)).await?;
        admin.crash_worker("sms", CrashPoint::AfterRead).await?;
        admin.crash_worker("billing", CrashPoint::AfterWork).await?;
        say("QA: the next SMS consumer dies after reading, the next billing one before acknowledging");
        admin
            .car(
                &rental.address,
                "drive",
                &json!({ "to": HARBOUR, "km": 3.4, "battery_used_percent": 6 }),
            )
            .await?;
        let closed = self.alice.sdk.rental().end().await?;
        let record = closed.rental.ok_or("no rental in the answer")?;
        let fee = record.fee.clone().ok_or("no fee")?;
        for line in &fee.lines {
            say(format!("  {:<12} {:>6} cents  {}", line.item, line.cents, line.detail));
        }
        check(
            closed.phase == RentalPhase::Closed && record.end_station_id.as_deref() == Some("st-harbour"),
            &format!(
                "ended at the Harbour, another station: {}.{:02} {} with the one-way fee",
                fee.total_cents / 100,
                fee.total_cents % 100,
                fee.currency
            ),
        )?;
        let mut done = false;
        for _ in 0..100 {
            let queues = admin.queues().await?;
            let bills = queues.bills.iter().filter(|b| b.rental_id == rental.rental_id).count();
            let texts = queues.sms.iter().filter(|s| s.rental_id == rental.rental_id).count();
            if bills == 1 && texts == 1 && queues.streams.iter().all(|s| s.pending.is_empty()) {
                done = true;
                for s in &queues.sms {
                    say(format!("  sms to {}: {} (sent by {})", s.to, s.text, s.consumer));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check(
            done,
            "the dead consumers' messages were claimed by the next ones: one bill, one SMS, nothing pending",
        )?;
        let car = admin.vehicles().await?;
        if let Some(plan) = car
            .iter()
            .find(|v| v.vehicle_id == rental.vehicle_id)
            .and_then(|v| v.charging.clone())
        {
            say(format!(
                "the car is plugged in at connector {}: {} Wh at {} kW in the off-peak hours",
                plan.connector_id, plan.energy_wh, plan.power_kw
            ));
        }
        let mut kinds = Vec::new();
        for _ in 0..20 {
            kinds.extend(self.alice.sdk.members().heartbeat_now().await?.into_iter().map(|n| {
                say(format!("alice-phone   notice: {}", n.text));
                n.kind
            }));
            if kinds.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kinds.sort();
        check(
            kinds == ["rental_billed", "sms_sent"],
            "the bill and the SMS reached Alice's phone as notices, each once",
        )
    }
}
