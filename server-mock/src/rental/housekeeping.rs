//! Settling what time decided: a hold that ran out expires its rental and
//! frees the vehicle and the member; a rental that ended frees what it
//! held if a crash left it held; charging that is done unplugs the car.
//!
//! Done where the state is read (so a read never shows a stale hold) and
//! by a sweep every instance runs ([`sweep`]), so the notices it causes go
//! out without anyone reading.

use edgepoints_protocol::members::notice_kinds;
use edgepoints_protocol::rental::{RentalState, VehicleState};
use edgepoints_protocol::NoticePost;

use super::catalogue::{station_key, vehicle_key, StationRecord, VehicleRecord};
use super::rentals::{member_slot_key, rental_key, RentalRecord};
use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, scan_json, update_json, StoreError};
use crate::ControlPlane;

/// Frees `vehicle_id` from `rental_id` if that rental still holds it.
pub(crate) async fn free_vehicle(
    control_plane: &ControlPlane,
    vehicle_id: &str,
    rental_id: &str,
) -> Result<(), StoreError> {
    update_json::<VehicleRecord, (), ()>(control_plane.store(), &vehicle_key(vehicle_id), |current| {
        let mut record = current.ok_or(())?;
        if record.rental_id.as_deref() != Some(rental_id) {
            return Err(());
        }
        record.rental_id = None;
        if matches!(record.state, VehicleState::Reserved | VehicleState::Rented) {
            record.state = VehicleState::Available;
        }
        Ok((Some(record), ()))
    })
    .await?
    .ok();
    Ok(())
}

/// Frees the member's slot if it still names `rental_id`.
pub(crate) async fn free_member(
    control_plane: &ControlPlane,
    member_id: &str,
    rental_id: &str,
) -> Result<(), StoreError> {
    let ours = serde_json::to_vec(rental_id).expect("strings serialise");
    control_plane
        .store()
        .compare_and_swap(&member_slot_key(member_id), Some(&ours), None)
        .await?;
    Ok(())
}

/// The rental, with a run-out hold expired and an ended rental's holds
/// released.
pub async fn settle_rental(control_plane: &ControlPlane, rental_id: &str) -> Result<Option<RentalRecord>, StoreError> {
    let clock = now(control_plane).await?;
    let settled = update_json::<RentalRecord, Option<RentalRecord>, ()>(
        control_plane.store(),
        &rental_key(rental_id),
        |current| {
            let Some(mut rental) = current else {
                return Ok((None, None));
            };
            if rental.state == RentalState::Reserved && clock >= rental.hold_expires_at_ms {
                rental.state = RentalState::Expired;
                rental.ended_at_ms = Some(rental.hold_expires_at_ms);
            }
            Ok((Some(rental.clone()), Some(rental)))
        },
    )
    .await?
    .unwrap_or(None);
    if let Some(rental) = &settled {
        if rental.state.is_final() {
            // Ended rentals free the vehicle in `rentals::end` with its new
            // place; this only repairs one a crash left held.
            if rental.state != RentalState::Ended {
                free_vehicle(control_plane, &rental.vehicle_id, rental_id).await?;
            }
            free_member(control_plane, &rental.member_id, rental_id).await?;
        }
    }
    Ok(settled)
}

/// The vehicle, with the rental holding it settled and finished charging
/// unplugged.
pub async fn settle_vehicle(
    control_plane: &ControlPlane,
    vehicle_id: &str,
) -> Result<Option<VehicleRecord>, StoreError> {
    let Some(record) = get_json::<VehicleRecord>(control_plane.store(), &vehicle_key(vehicle_id)).await? else {
        return Ok(None);
    };
    let mut changed = false;
    if let Some(rental_id) = &record.rental_id {
        match settle_rental(control_plane, rental_id).await? {
            Some(rental) if rental.state == RentalState::Ended => {
                super::rentals::release_after_end(control_plane, &rental).await?;
                changed = true;
            }
            Some(rental) if !rental.state.is_final() => {}
            // Expired or cancelled (settling freed it), or a record lost.
            _ => {
                free_vehicle(control_plane, vehicle_id, rental_id).await?;
                changed = true;
            }
        }
    }
    if let Some(plan) = &record.charging {
        if plan.until_ms <= now(control_plane).await? {
            finish_charging(control_plane, vehicle_id).await?;
            changed = true;
        }
    }
    if changed {
        get_json(control_plane.store(), &vehicle_key(vehicle_id)).await
    } else {
        Ok(Some(record))
    }
}

/// Charging is done: a full battery, the connector free, the member told.
async fn finish_charging(control_plane: &ControlPlane, vehicle_id: &str) -> Result<(), StoreError> {
    let finished = update_json::<VehicleRecord, Option<super::charging::ChargingPlan>, ()>(
        control_plane.store(),
        &vehicle_key(vehicle_id),
        |current| {
            let mut record = current.ok_or(())?;
            let plan = record.charging.take().ok_or(())?;
            record.battery_percent = 100;
            if record.state == VehicleState::Charging {
                record.state = VehicleState::Available;
            }
            Ok((Some(record), Some(plan)))
        },
    )
    .await?;
    let Ok(Some(plan)) = finished else {
        return Ok(());
    };
    update_json::<StationRecord, (), ()>(control_plane.store(), &station_key(&plan.station_id), |current| {
        let mut station = current.ok_or(())?;
        for connector in &mut station.connectors {
            if connector.plugged_vehicle.as_deref() == Some(vehicle_id) {
                connector.plugged_vehicle = None;
            }
        }
        Ok((Some(station), ()))
    })
    .await?
    .ok();
    crate::notices::post_once(
        control_plane,
        &plan.member_id,
        &format!("charged-{}", plan.rental_id),
        plan.until_ms,
        NoticePost {
            kind: notice_kinds::CHARGING_FINISHED.to_owned(),
            text: format!("{vehicle_id}, which you returned, is charged."),
        },
    )
    .await?;
    tracing::info!(vehicle_id, rental_id = %plan.rental_id, "charging finished");
    Ok(())
}

/// How long before a hold runs out its member is told.
pub const EXPIRY_WARNING_MS: u64 = 5 * 60 * 1000;

/// Settles every rental in progress and every vehicle, and warns members
/// whose hold is about to run out: what one sweep of an instance does.
pub async fn sweep(control_plane: &ControlPlane) -> Result<(), StoreError> {
    let rentals: Vec<RentalRecord> = scan_json(control_plane.store(), keys::RENTAL_PREFIX).await?;
    let clock = now(control_plane).await?;
    for rental in rentals.iter().filter(|r| r.state == RentalState::Reserved) {
        let settled = settle_rental(control_plane, &rental.rental_id).await?;
        if settled.is_some_and(|r| r.state == RentalState::Reserved)
            && rental.hold_expires_at_ms.saturating_sub(clock) <= EXPIRY_WARNING_MS
        {
            // Once per rental: the id names it.
            crate::notices::post_once(
                control_plane,
                &rental.member_id,
                &format!("expiring-{}", rental.rental_id),
                rental.hold_expires_at_ms - EXPIRY_WARNING_MS,
                NoticePost {
                    kind: notice_kinds::RESERVATION_EXPIRING.to_owned(),
                    text: format!(
                        "Your reservation of {} runs out in {} min: start the rental or it ends.",
                        rental.vehicle_id,
                        rental.hold_expires_at_ms.saturating_sub(clock).div_ceil(60_000)
                    ),
                },
            )
            .await?;
        }
    }
    let vehicles: Vec<VehicleRecord> = scan_json(control_plane.store(), keys::VEHICLE_PREFIX).await?;
    for vehicle in vehicles
        .iter()
        .filter(|v| v.rental_id.is_some() || v.charging.is_some())
    {
        settle_vehicle(control_plane, &vehicle.vehicle_id).await?;
    }
    Ok(())
}
