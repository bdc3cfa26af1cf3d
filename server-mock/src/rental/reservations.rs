//! Reservations: a member holds one vehicle for a while, and of any number
//! racing for one vehicle exactly one wins.
//!
//! Two keys decide: the member's slot (`member_rental:`, at most one rental
//! in progress) and the vehicle (held by at most one rental). Each is taken
//! by compare-and-swap, the member's first; losing the vehicle gives the
//! member's slot back. Both point at a rental record written before them,
//! so neither ever names a rental that does not exist; a crash in between
//! leaves a reserved record that holds nothing and expires with its hold.

use edgepoints_protocol::rental::{RentalState, VehicleState, DEFAULT_HOLD_MS};
use edgepoints_protocol::DeviceId;

use super::catalogue::{vehicle_key, VehicleRecord};
use super::housekeeping::{settle_rental, settle_vehicle};
use super::rentals::{member_slot_key, rental_key, RentalRecord};
use crate::coupons::merchants::random_id;
use crate::points::now;
use crate::store::{delete, put_json, update_json, StoreError};
use crate::ControlPlane;

/// Why a reservation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveRefused {
    NoSuchVehicle,
    /// Held, rented, charging or out of service.
    VehicleTaken,
    /// The member has this rental in progress.
    AlreadyRenting(String),
}

/// The rental in progress the member's slot names, if any (settled first,
/// so an ended or expired one frees the slot), with the slot's raw value.
async fn member_slot(
    control_plane: &ControlPlane,
    member_id: &str,
) -> Result<(Option<Vec<u8>>, Option<RentalRecord>), StoreError> {
    let raw = control_plane.store().get(&member_slot_key(member_id)).await?;
    let Some(bytes) = &raw else {
        return Ok((None, None));
    };
    let rental_id: String = serde_json::from_slice(bytes).unwrap_or_default();
    let rental = settle_rental(control_plane, &rental_id)
        .await?
        .filter(|r| !r.state.is_final());
    // Settling may have freed the slot: read it again.
    let raw = if rental.is_none() {
        control_plane.store().get(&member_slot_key(member_id)).await?
    } else {
        raw
    };
    Ok((raw, rental))
}

/// Reserves `vehicle_id` for the member of `device_id` for `hold_ms`.
pub async fn reserve(
    control_plane: &ControlPlane,
    member_id: &str,
    device_id: &DeviceId,
    vehicle_id: &str,
) -> Result<Result<RentalRecord, ReserveRefused>, StoreError> {
    let Some(vehicle) = settle_vehicle(control_plane, vehicle_id).await? else {
        return Ok(Err(ReserveRefused::NoSuchVehicle));
    };
    if vehicle.state != VehicleState::Available {
        return Ok(Err(ReserveRefused::VehicleTaken));
    }
    let clock = now(control_plane).await?;
    let rental = RentalRecord {
        rental_id: format!("r-{}", random_id()),
        member_id: member_id.to_owned(),
        device_id: device_id.clone(),
        vehicle_id: vehicle_id.to_owned(),
        state: RentalState::Reserved,
        reserved_at_ms: clock,
        hold_expires_at_ms: clock + DEFAULT_HOLD_MS,
        origin_station_id: vehicle.station_id.clone(),
        started_at_ms: None,
        running_at_ms: None,
        ended_at_ms: None,
        end_station_id: None,
        credential: None,
        start_odometer_m: None,
        end_odometer_m: None,
        end_battery_percent: None,
        fee: None,
        charging_until_ms: None,
    };
    put_json(control_plane.store(), &rental_key(&rental.rental_id), &rental).await?;
    let ours = serde_json::to_vec(&rental.rental_id).expect("strings serialise");
    // The member's slot: free, or freed by settling, else refused.
    let slot = member_slot_key(member_id);
    let previous = loop {
        let (raw, in_progress) = member_slot(control_plane, member_id).await?;
        if let Some(in_progress) = in_progress {
            delete(control_plane.store(), &rental_key(&rental.rental_id)).await?;
            return Ok(Err(ReserveRefused::AlreadyRenting(in_progress.rental_id)));
        }
        if control_plane
            .store()
            .compare_and_swap(&slot, raw.as_deref(), Some(&ours))
            .await?
        {
            break raw;
        }
    };
    // The vehicle: exactly one rental takes it.
    let taken = update_json::<VehicleRecord, (), ()>(control_plane.store(), &vehicle_key(vehicle_id), |current| {
        let mut record = current.ok_or(())?;
        if record.state != VehicleState::Available || record.rental_id.is_some() {
            return Err(());
        }
        record.state = VehicleState::Reserved;
        record.rental_id = Some(rental.rental_id.clone());
        Ok((Some(record), ()))
    })
    .await?;
    if taken.is_err() {
        control_plane
            .store()
            .compare_and_swap(&slot, Some(&ours), previous.as_deref())
            .await?;
        delete(control_plane.store(), &rental_key(&rental.rental_id)).await?;
        return Ok(Err(ReserveRefused::VehicleTaken));
    }
    tracing::info!(rental_id = %rental.rental_id, vehicle_id, member_id, "vehicle reserved");
    Ok(Ok(rental))
}
