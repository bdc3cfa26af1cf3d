//! Charging: members reserve a connector for a window (answered as OCPP's
//! ReserveNow is: `accepted`, `occupied`, `faulted`, `rejected`), and a car
//! returned at a station with a free connector is plugged in and charged
//! in the off-peak windows of the tariff QA sets; its member is told when
//! it is done (see [`super::housekeeping`]).

use edgepoints_protocol::rental::{
    ChargingRequest, ChargingReservation, ChargingReservationStatus, MAX_CHARGING_WINDOW_MS,
};
use edgepoints_protocol::Location;
use serde::{Deserialize, Serialize};

use super::catalogue::{station_key, vehicle_key, StationRecord, VehicleRecord};
use super::rentals::RentalRecord;
use crate::coupons::merchants::random_id;
use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, put_json, update_json, StoreError};
use crate::ControlPlane;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// A connector held for a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectorReservation {
    pub reservation_id: String,
    pub connector_id: String,
    pub member_id: String,
    pub from_ms: u64,
    pub until_ms: u64,
}

/// When charging is cheap: hours of the day (UTC, on the mock clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OffPeakWindow {
    #[schema(maximum = 255)]
    pub start_hour: u8,
    /// May be below `start_hour`: the window runs over midnight.
    #[schema(maximum = 255)]
    pub end_hour: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargingTariff {
    /// Empty: charge at once.
    pub off_peak: Vec<OffPeakWindow>,
}

impl Default for ChargingTariff {
    fn default() -> Self {
        ChargingTariff {
            off_peak: vec![OffPeakWindow {
                start_hour: 22,
                end_hour: 6,
            }],
        }
    }
}

impl ChargingTariff {
    pub fn problem(&self) -> Option<&'static str> {
        if self
            .off_peak
            .iter()
            .any(|w| w.start_hour > 23 || w.end_hour > 23 || w.start_hour == w.end_hour)
        {
            Some("an off-peak window is two different hours 0 to 23")
        } else {
            None
        }
    }

    fn off_peak_at(&self, at_ms: u64) -> bool {
        let hour = ((at_ms % DAY_MS) / HOUR_MS) as u8;
        self.off_peak.iter().any(|w| {
            if w.start_hour < w.end_hour {
                (w.start_hour..w.end_hour).contains(&hour)
            } else {
                hour >= w.start_hour || hour < w.end_hour
            }
        })
    }
}

pub async fn tariff(control_plane: &ControlPlane) -> Result<ChargingTariff, StoreError> {
    Ok(get_json(control_plane.store(), keys::CHARGING_TARIFF)
        .await?
        .unwrap_or_default())
}

pub async fn set_tariff(control_plane: &ControlPlane, tariff: &ChargingTariff) -> Result<(), StoreError> {
    put_json(control_plane.store(), keys::CHARGING_TARIFF, tariff).await
}

/// A car's charging at a connector: when it is plugged and when it is full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargingPlan {
    pub rental_id: String,
    pub member_id: String,
    pub station_id: String,
    pub connector_id: String,
    pub energy_wh: u64,
    pub power_kw: u32,
    /// Charging minutes, each in an off-peak window.
    pub charging_minutes: u64,
    pub starts_at_ms: u64,
    pub until_ms: u64,
}

/// When charging `minutes` from `from_ms` ends, charging only off-peak
/// (minute by minute from the next off-peak hour on; at most two weeks).
pub fn schedule(tariff: &ChargingTariff, from_ms: u64, minutes: u64) -> (u64, u64) {
    if tariff.off_peak.is_empty() {
        return (from_ms, from_ms + minutes * 60_000);
    }
    let mut at = from_ms;
    let mut left = minutes;
    let mut starts = None;
    let limit = from_ms + 14 * DAY_MS;
    while left > 0 && at < limit {
        if tariff.off_peak_at(at) {
            starts.get_or_insert(at);
            left -= 1;
            at += 60_000;
        } else {
            // To the start of the next hour: windows are whole hours.
            at = (at / HOUR_MS + 1) * HOUR_MS;
        }
    }
    (starts.unwrap_or(at), at)
}

/// A car returned at its end station: plugged into the member's reserved
/// connector there, or any free one; `None` when none is free or the
/// battery is full. Idempotent: a car plugged in already keeps its plan.
pub(crate) struct Plugged {
    pub location: Location,
    pub plan: ChargingPlan,
}

pub(crate) async fn plug_in(
    control_plane: &ControlPlane,
    rental: &RentalRecord,
    clock: u64,
) -> Result<Option<Plugged>, StoreError> {
    let (Some(station_id), Some(battery)) = (&rental.end_station_id, rental.end_battery_percent) else {
        return Ok(None);
    };
    if battery >= 100 {
        return Ok(None);
    }
    let Some(vehicle) = get_json::<VehicleRecord>(control_plane.store(), &vehicle_key(&rental.vehicle_id)).await?
    else {
        return Ok(None);
    };
    let tariff = tariff(control_plane).await?;
    let plugged = update_json::<StationRecord, (String, u32, Location), ()>(
        control_plane.store(),
        &station_key(station_id),
        |current| {
            let mut station = current.ok_or(())?;
            station.reservations.retain(|r| r.until_ms > clock);
            if let Some(c) = station
                .connectors
                .iter()
                .find(|c| c.plugged_vehicle.as_deref() == Some(rental.vehicle_id.as_str()))
            {
                return Ok((
                    Some(station.clone()),
                    (c.connector_id.clone(), c.power_kw, station.location),
                ));
            }
            let reserved_for_member = station
                .reservations
                .iter()
                .find(|r| r.member_id == rental.member_id && r.from_ms <= clock)
                .map(|r| r.connector_id.clone());
            let reserved_by_others = |id: &str| {
                station
                    .reservations
                    .iter()
                    .any(|r| r.connector_id == id && r.member_id != rental.member_id && r.from_ms <= clock)
            };
            let chosen = station
                .connectors
                .iter()
                .position(|c| {
                    !c.faulted
                        && c.plugged_vehicle.is_none()
                        && reserved_for_member.as_deref().is_none_or(|id| id == c.connector_id)
                        && !reserved_by_others(&c.connector_id)
                })
                .ok_or(())?;
            let connector = &mut station.connectors[chosen];
            connector.plugged_vehicle = Some(rental.vehicle_id.clone());
            let picked = (connector.connector_id.clone(), connector.power_kw, station.location);
            if let Some(id) = &reserved_for_member {
                station
                    .reservations
                    .retain(|r| !(r.member_id == rental.member_id && &r.connector_id == id));
            }
            Ok((Some(station), picked))
        },
    )
    .await?;
    let Ok((connector_id, power_kw, location)) = plugged else {
        return Ok(None);
    };
    let energy_wh = u64::from(vehicle.battery_kwh) * 1000 * u64::from(100 - battery) / 100;
    let charging_minutes = (energy_wh * 60).div_ceil(u64::from(power_kw.max(1)) * 1000);
    let (starts_at_ms, until_ms) = schedule(&tariff, clock, charging_minutes);
    Ok(Some(Plugged {
        location,
        plan: ChargingPlan {
            rental_id: rental.rental_id.clone(),
            member_id: rental.member_id.clone(),
            station_id: station_id.clone(),
            connector_id,
            energy_wh,
            power_kw,
            charging_minutes,
            starts_at_ms,
            until_ms,
        },
    }))
}

fn answer(request: &ChargingRequest, status: ChargingReservationStatus, reason: Option<&str>) -> ChargingReservation {
    ChargingReservation {
        reservation_id: None,
        status,
        station_id: request.station_id.clone(),
        connector_id: request.connector_id.clone(),
        from_ms: request.from_ms,
        until_ms: request.until_ms,
        expires_at_ms: None,
        reason: reason.map(str::to_owned),
    }
}

/// Reserves a connector for `member_id` as the request asks.
pub async fn reserve(
    control_plane: &ControlPlane,
    member_id: &str,
    request: &ChargingRequest,
) -> Result<ChargingReservation, StoreError> {
    use ChargingReservationStatus::{Accepted, Faulted, Occupied, Rejected};
    let clock = now(control_plane).await?;
    if request.until_ms <= request.from_ms || request.until_ms - request.from_ms > MAX_CHARGING_WINDOW_MS {
        return Ok(answer(
            request,
            Rejected,
            Some("the window is empty or longer than 12 hours"),
        ));
    }
    if request.until_ms <= clock {
        return Ok(answer(request, Rejected, Some("the window is over")));
    }
    let reservation_id = format!("cr-{}", random_id());
    let decided = update_json::<StationRecord, ChargingReservation, Box<ChargingReservation>>(
        control_plane.store(),
        &station_key(&request.station_id),
        |current| {
            let Some(mut station) = current else {
                return Err(Box::new(answer(request, Rejected, Some("no such station"))));
            };
            station.reservations.retain(|r| r.until_ms > clock);
            let overlaps = |id: &str| {
                station
                    .reservations
                    .iter()
                    .any(|r| r.connector_id == id && r.from_ms < request.until_ms && request.from_ms < r.until_ms)
            };
            // A car on the connector now holds it for a window starting now.
            let busy = |c: &super::catalogue::ConnectorRecord| {
                overlaps(&c.connector_id) || (c.plugged_vehicle.is_some() && request.from_ms <= clock + HOUR_MS)
            };
            let fitting: Vec<_> = match &request.connector_id {
                Some(id) => match station.connectors.iter().find(|c| &c.connector_id == id) {
                    Some(c) => vec![c],
                    None => {
                        return Err(Box::new(answer(
                            request,
                            Rejected,
                            Some("no such connector at the station"),
                        )))
                    }
                },
                None => station.connectors.iter().collect(),
            };
            if fitting.iter().all(|c| c.faulted) {
                return Err(Box::new(answer(
                    request,
                    Faulted,
                    Some("the connector is out of order"),
                )));
            }
            let Some(free) = fitting.iter().find(|c| !c.faulted && !busy(c)) else {
                return Err(Box::new(answer(request, Occupied, None)));
            };
            let reservation = ConnectorReservation {
                reservation_id: reservation_id.clone(),
                connector_id: free.connector_id.clone(),
                member_id: member_id.to_owned(),
                from_ms: request.from_ms,
                until_ms: request.until_ms,
            };
            let accepted = ChargingReservation {
                reservation_id: Some(reservation_id.clone()),
                status: Accepted,
                station_id: request.station_id.clone(),
                connector_id: Some(reservation.connector_id.clone()),
                from_ms: request.from_ms,
                until_ms: request.until_ms,
                expires_at_ms: Some(request.until_ms),
                reason: None,
            };
            station.reservations.push(reservation);
            Ok((Some(station), accepted))
        },
    )
    .await?;
    Ok(decided.unwrap_or_else(|refused| *refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charging_waits_for_the_off_peak_hours() {
        let tariff = ChargingTariff::default();
        // 20:30 UTC on day 0; 90 minutes of charging start at 22:00.
        let from = 20 * HOUR_MS + 30 * 60_000;
        let (starts, until) = schedule(&tariff, from, 90);
        assert_eq!(starts, 22 * HOUR_MS);
        assert_eq!(until, 23 * HOUR_MS + 30 * 60_000);
        // Nine hours do not fit in one night: the rest the next night.
        let (_, until) = schedule(&tariff, from, 9 * 60);
        assert_eq!(until, DAY_MS + 22 * HOUR_MS + HOUR_MS);
        let anytime = ChargingTariff { off_peak: vec![] };
        assert_eq!(schedule(&anytime, from, 10), (from, from + 600_000));
    }
}
