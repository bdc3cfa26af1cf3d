//! A rental from start to end.
//!
//! - Start (`reserved → starting`): the control plane issues the credential
//!   the car checks offline — vehicle, member, rental, the member device's
//!   key, a window, the allowed commands, a serial, the bound card's hash.
//! - Confirm (`starting → running`): the car's signed answer accepting the
//!   first unlock under that credential, forwarded by the phone.
//! - End (`running → ended`): the car's signed answer after the lock; the
//!   end criteria are checked on it (locked, doors closed, at a station),
//!   the fee computed, and the rental's end and the billing and SMS
//!   messages written in one atomic change. The car is then freed at the
//!   end station (charging if a connector is free) and told to revoke the
//!   credential.
//!
//! Each step repeated after it happened answers the rental as it is, so a
//! lost answer is harmless even without the idempotency layer.

use edgepoints_protocol::envelope::decode_public_key;
use edgepoints_protocol::rental::command::{CommandFate, CommandKind, Outcome, VehicleAnswer};
use edgepoints_protocol::rental::credential::{VehicleCredential, CREDENTIAL_LIFETIME_S};
use edgepoints_protocol::rental::{Rental, RentalState, VehicleState};
use edgepoints_protocol::{DeviceId, Purpose, SignedEnvelope};
use serde::{Deserialize, Serialize};

use super::catalogue::{station_at, vehicle_key, VehicleRecord};
use super::fees::{fee, tariff, with_credit, Usage};
use super::housekeeping::{free_member, settle_rental};
use super::workers::{self, BillingMessage, SmsMessage};
use crate::loyalty::rewards::take_rental_credit;
use crate::members::SessionRecord;
use crate::points::now;
use crate::state::{keys, unix_millis};
use crate::store::{get_json, update_json, update_json_publishing, StoreError};
use crate::ControlPlane;

/// The control plane keeps rentals as the protocol shows them.
pub type RentalRecord = Rental;

/// A car's reading must be this fresh to end a rental on it.
pub const MAX_READING_AGE_S: u64 = 10 * 60;

pub(crate) fn rental_key(id: &str) -> String {
    format!("{}{id}", keys::RENTAL_PREFIX)
}

pub(crate) fn member_slot_key(member_id: &str) -> String {
    format!("{}{member_id}", keys::MEMBER_RENTAL_PREFIX)
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRefused {
    NotFound,
    /// Not possible in the rental's state.
    State(RentalState),
    /// The car's answer does not prove what the step needs.
    Proof(&'static str),
    /// The reading fails the end criteria: `not_locked`, `doors_open`,
    /// `not_at_station`, `stale_reading`.
    EndCriteria(&'static str),
}

/// The member's rental `rental_id`, settled; `NotFound` for another's.
pub async fn member_rental(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    Ok(settle_rental(control_plane, rental_id)
        .await?
        .filter(|r| r.member_id == member_id)
        .ok_or(StepRefused::NotFound))
}

/// The member's rental in progress, if any.
pub async fn current(control_plane: &ControlPlane, member_id: &str) -> Result<Option<RentalRecord>, StoreError> {
    let Some(rental_id) = get_json::<String>(control_plane.store(), &member_slot_key(member_id)).await? else {
        return Ok(None);
    };
    Ok(settle_rental(control_plane, &rental_id)
        .await?
        .filter(|r| !r.state.is_final()))
}

/// Changes the member's rental with `change`, which refuses or returns it
/// changed; the rental as it is after.
async fn step(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
    mut change: impl FnMut(RentalRecord) -> Result<RentalRecord, StepRefused>,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    if let Err(refused) = member_rental(control_plane, member_id, rental_id).await? {
        return Ok(Err(refused));
    }
    update_json(control_plane.store(), &rental_key(rental_id), |current| {
        let rental = change(current.ok_or(StepRefused::NotFound)?)?;
        Ok((Some(rental.clone()), rental))
    })
    .await
}

pub async fn cancel(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    let clock = now(control_plane).await?;
    let cancelled = step(control_plane, member_id, rental_id, |mut rental| match rental.state {
        RentalState::Reserved => {
            rental.state = RentalState::Cancelled;
            rental.ended_at_ms = Some(clock);
            Ok(rental)
        }
        RentalState::Cancelled => Ok(rental),
        other => Err(StepRefused::State(other)),
    })
    .await?;
    if cancelled.is_ok() {
        // Settling a final rental frees its vehicle and the member.
        settle_rental(control_plane, rental_id).await?;
    }
    Ok(cancelled)
}

fn random_serial() -> String {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).expect("the system has randomness");
    hex::encode(serial)
}

/// Starts a reserved rental from `device_id`: issues the credential for
/// that device's key. Starting again answers the same credential.
pub async fn start(
    control_plane: &ControlPlane,
    session: &SessionRecord,
    rental_id: &str,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    let Some(device) = control_plane.device(&session.device_id).await? else {
        return Ok(Err(StepRefused::NotFound));
    };
    let card_hash = super::cards::bound(control_plane, &session.member_id)
        .await?
        .map(|c| c.card_hash);
    let clock = now(control_plane).await?;
    let wall_s = unix_millis() / 1000;
    let serial = random_serial();
    let device_id: DeviceId = session.device_id.clone();
    let started = step(
        control_plane,
        &session.member_id,
        rental_id,
        |mut rental| match rental.state {
            RentalState::Reserved => {
                let credential = VehicleCredential {
                    vehicle_id: rental.vehicle_id.clone(),
                    rental_id: rental.rental_id.clone(),
                    member_id: rental.member_id.clone(),
                    device_key: device.public_key.clone(),
                    not_before_s: wall_s,
                    expires_s: wall_s + CREDENTIAL_LIFETIME_S,
                    commands: vec![CommandKind::Unlock, CommandKind::Lock, CommandKind::Honk],
                    serial: serial.clone(),
                    card_hash: card_hash.clone(),
                };
                rental.credential = Some(credential.sign(control_plane.key.key_id(), control_plane.key.signing_key()));
                rental.state = RentalState::Starting;
                rental.started_at_ms = Some(clock);
                rental.device_id = device_id.clone();
                Ok(rental)
            }
            RentalState::Starting | RentalState::Running => Ok(rental),
            other => Err(StepRefused::State(other)),
        },
    )
    .await?;
    if let Ok(rental) = &started {
        update_json::<VehicleRecord, (), ()>(control_plane.store(), &vehicle_key(&rental.vehicle_id), |current| {
            let mut record = current.ok_or(())?;
            if record.rental_id.as_deref() != Some(rental_id) || record.state == VehicleState::Rented {
                return Err(());
            }
            record.state = VehicleState::Rented;
            Ok((Some(record), ()))
        })
        .await?
        .ok();
        tracing::info!(rental_id, vehicle_id = %rental.vehicle_id, "rental starting, credential issued");
    }
    Ok(started)
}

/// The car's answer, checked against the rental: signed by its own key,
/// about this vehicle and this rental's credential.
async fn open_answer(
    control_plane: &ControlPlane,
    rental: &RentalRecord,
    answer: &SignedEnvelope,
) -> Result<Result<VehicleAnswer, StepRefused>, StoreError> {
    let Some(vehicle) = get_json::<VehicleRecord>(control_plane.store(), &vehicle_key(&rental.vehicle_id)).await?
    else {
        return Ok(Err(StepRefused::NotFound));
    };
    let Some(key) = vehicle.vehicle_key.as_deref().and_then(|k| decode_public_key(k).ok()) else {
        return Ok(Err(StepRefused::Proof("the vehicle is not provisioned")));
    };
    let Ok(answer) = answer.open::<VehicleAnswer>(Purpose::VehicleAnswer, &key) else {
        return Ok(Err(StepRefused::Proof("the answer is not signed by the vehicle")));
    };
    let serial = rental
        .credential
        .as_ref()
        .and_then(|c| c.unverified_payload().ok())
        .and_then(|p| serde_json::from_slice::<VehicleCredential>(&p).ok())
        .map(|c| c.serial);
    if answer.vehicle_id != rental.vehicle_id || answer.serial.is_none() || answer.serial != serial {
        return Ok(Err(StepRefused::Proof(
            "the answer is about another vehicle or credential",
        )));
    }
    Ok(Ok(answer))
}

/// The car accepted the first unlock: the rental runs.
pub async fn confirm(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
    answer: &SignedEnvelope,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    let rental = match member_rental(control_plane, member_id, rental_id).await? {
        Ok(rental) => rental,
        Err(refused) => return Ok(Err(refused)),
    };
    if rental.state == RentalState::Running {
        return Ok(Ok(rental));
    }
    let answer = match open_answer(control_plane, &rental, answer).await? {
        Ok(answer) => answer,
        Err(refused) => return Ok(Err(refused)),
    };
    if !answer.shows_accepted(CommandKind::Unlock) {
        return Ok(Err(StepRefused::Proof("the answer is not an accepted unlock")));
    }
    let clock = now(control_plane).await?;
    step(control_plane, member_id, rental_id, |mut rental| match rental.state {
        RentalState::Starting => {
            rental.state = RentalState::Running;
            rental.running_at_ms = Some(clock);
            rental.start_odometer_m = Some(answer.reading.odometer_m);
            Ok(rental)
        }
        RentalState::Running => Ok(rental),
        other => Err(StepRefused::State(other)),
    })
    .await
}

/// The car locked at a station: the rental ends, billed.
pub async fn end(
    control_plane: &ControlPlane,
    session: &SessionRecord,
    rental_id: &str,
    answer: &SignedEnvelope,
) -> Result<Result<RentalRecord, StepRefused>, StoreError> {
    let rental = match member_rental(control_plane, &session.member_id, rental_id).await? {
        Ok(rental) => rental,
        Err(refused) => return Ok(Err(refused)),
    };
    match rental.state {
        RentalState::Ended => return Ok(Ok(rental)),
        RentalState::Running => {}
        other => return Ok(Err(StepRefused::State(other))),
    }
    let answer = match open_answer(control_plane, &rental, answer).await? {
        Ok(answer) => answer,
        Err(refused) => return Ok(Err(refused)),
    };
    if answer.outcome != Outcome::Accepted || answer.about.as_ref().is_some_and(|fate| *fate != CommandFate::Accepted) {
        return Ok(Err(StepRefused::Proof("the answer is a refusal")));
    }
    let reading = &answer.reading;
    if unix_millis() / 1000 > reading.at_s + MAX_READING_AGE_S {
        return Ok(Err(StepRefused::EndCriteria("stale_reading")));
    }
    if !reading.doors_closed {
        return Ok(Err(StepRefused::EndCriteria("doors_open")));
    }
    if !reading.locked {
        return Ok(Err(StepRefused::EndCriteria("not_locked")));
    }
    let Some(station) = station_at(control_plane, reading.location).await? else {
        return Ok(Err(StepRefused::EndCriteria("not_at_station")));
    };
    let clock = now(control_plane).await?;
    let tariff = tariff(control_plane).await?;
    let usage = Usage {
        duration_ms: clock.saturating_sub(rental.running_at_ms.unwrap_or(clock)),
        distance_m: reading
            .odometer_m
            .saturating_sub(rental.start_odometer_m.unwrap_or(reading.odometer_m)),
        one_way: rental.origin_station_id.as_deref() != Some(station.station_id.as_str()),
        end_battery_percent: reading.battery_percent,
    };
    let fee = fee(&tariff, usage);
    // A rental credit the member redeemed points for comes off the fee; it
    // is bound to this rental before the end is written, so a retried end
    // takes the same one and no other rental can.
    let fee = match take_rental_credit(control_plane, &rental.member_id, rental_id, fee.total_cents).await? {
        Some((title, cents)) => with_credit(fee, "points_reward", cents, title),
        None => fee,
    };
    let member = session.member.clone();
    let ended = update_json_publishing(control_plane.store(), &rental_key(rental_id), |current| {
        let mut rental: RentalRecord = current.ok_or(StepRefused::NotFound)?;
        match rental.state {
            // Ended meanwhile (a retry on another instance): no messages.
            RentalState::Ended => return Ok((Some(rental.clone()), rental, Vec::new())),
            RentalState::Running => {}
            other => return Err(StepRefused::State(other)),
        }
        rental.state = RentalState::Ended;
        rental.ended_at_ms = Some(clock);
        rental.end_station_id = Some(station.station_id.clone());
        rental.end_odometer_m = Some(reading.odometer_m);
        rental.end_battery_percent = Some(reading.battery_percent);
        rental.fee = Some(fee.clone());
        let messages = vec![
            workers::billing_message(&BillingMessage {
                rental_id: rental.rental_id.clone(),
                member_id: rental.member_id.clone(),
                vehicle_id: rental.vehicle_id.clone(),
                fee: fee.clone(),
                ended_at_ms: clock,
            }),
            workers::sms_message(&SmsMessage {
                rental_id: rental.rental_id.clone(),
                member_id: rental.member_id.clone(),
                to: member.clone(),
                text: format!(
                    "Your rental of {} ended at {}: {}.{:02} {}.",
                    rental.vehicle_id,
                    station.name,
                    fee.total_cents / 100,
                    fee.total_cents % 100,
                    fee.currency
                ),
                ended_at_ms: clock,
            }),
        ];
        Ok((Some(rental.clone()), rental, messages))
    })
    .await?;
    let Ok(ended) = ended else {
        return Ok(ended);
    };
    tracing::info!(rental_id, station = %station.station_id, total_cents = fee.total_cents, "rental ended");
    release_after_end(control_plane, &ended).await?;
    settle_rental(control_plane, rental_id).await?;
    Ok(Ok(ended))
}

/// What an ended rental leaves to do: the car free at its end station
/// (charging if a connector is free), the member free, the credential
/// revoked on the car. Each part is idempotent, so a crash before it is
/// repaired by the next read of the vehicle.
pub(crate) async fn release_after_end(control_plane: &ControlPlane, rental: &RentalRecord) -> Result<(), StoreError> {
    let held = get_json::<VehicleRecord>(control_plane.store(), &vehicle_key(&rental.vehicle_id))
        .await?
        .is_some_and(|v| v.rental_id.as_deref() == Some(rental.rental_id.as_str()));
    if !held {
        return free_member(control_plane, &rental.member_id, &rental.rental_id).await;
    }
    let clock = now(control_plane).await?;
    let plan = super::charging::plug_in(control_plane, rental, clock).await?;
    let released = update_json::<VehicleRecord, Option<String>, ()>(
        control_plane.store(),
        &vehicle_key(&rental.vehicle_id),
        |current| {
            let mut record = current.ok_or(())?;
            if record.rental_id.as_deref() != Some(rental.rental_id.as_str()) {
                return Err(());
            }
            record.rental_id = None;
            record.station_id.clone_from(&rental.end_station_id);
            if let Some(station) = &plan {
                record.location = station.location;
            }
            record.battery_percent = rental.end_battery_percent.unwrap_or(record.battery_percent);
            record.odometer_m = rental.end_odometer_m.unwrap_or(record.odometer_m);
            record.charging = plan.as_ref().map(|p| p.plan.clone());
            record.state = if plan.is_some() {
                VehicleState::Charging
            } else {
                VehicleState::Available
            };
            Ok((Some(record.clone()), record.link.clone()))
        },
    )
    .await?;
    if let Some(charging) = &plan {
        update_json::<RentalRecord, (), ()>(control_plane.store(), &rental_key(&rental.rental_id), |current| {
            let mut record = current.ok_or(())?;
            record.charging_until_ms = Some(charging.plan.until_ms);
            Ok((Some(record), ()))
        })
        .await?
        .ok();
    }
    free_member(control_plane, &rental.member_id, &rental.rental_id).await?;
    if let Ok(link) = released {
        if let Some(serial) = rental
            .credential
            .as_ref()
            .and_then(|c| c.unverified_payload().ok())
            .and_then(|p| serde_json::from_slice::<VehicleCredential>(&p).ok())
            .map(|c| c.serial)
        {
            crate::vehicles::push_revocation(control_plane, &rental.vehicle_id, link, vec![serial]);
        }
    }
    Ok(())
}

/// What QA sees of rentals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RentalsView {
    pub rentals: Vec<RentalRecord>,
}

pub async fn all(control_plane: &ControlPlane) -> Result<Vec<RentalRecord>, StoreError> {
    let mut rentals: Vec<RentalRecord> = crate::store::scan_json(control_plane.store(), keys::RENTAL_PREFIX).await?;
    rentals.sort_by_key(|r| std::cmp::Reverse(r.reserved_at_ms));
    Ok(rentals)
}
