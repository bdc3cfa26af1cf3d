//! Stations and vehicles as the control plane knows them: seeded for the
//! demo, editable over the admin API, searched by members.

use edgepoints_protocol::rental::{Connector, ConnectorStatus, Station, Vehicle, VehicleState, MAX_SEARCH_RADIUS_KM};
use edgepoints_protocol::Location;
use serde::{Deserialize, Serialize};

use super::charging::ConnectorReservation;
use crate::state::keys;
use crate::store::{get_json, put_json, scan_json, update_json, StoreError};
use crate::ControlPlane;

pub(crate) fn station_key(id: &str) -> String {
    format!("{}{id}", keys::STATION_PREFIX)
}

pub(crate) fn vehicle_key(id: &str) -> String {
    format!("{}{id}", keys::VEHICLE_PREFIX)
}

/// A station, its connectors' own state, the reservations on them and
/// the cars plugged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StationRecord {
    pub station_id: String,
    pub name: String,
    pub location: Location,
    pub radius_m: u32,
    pub parking_spaces: u32,
    pub connectors: Vec<ConnectorRecord>,
    #[serde(default)]
    pub reservations: Vec<ConnectorReservation>,
}

/// A connector: its power, whether it is out of order, and the car on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectorRecord {
    pub connector_id: String,
    pub power_kw: u32,
    #[serde(default)]
    pub faulted: bool,
    #[serde(default)]
    pub plugged_vehicle: Option<String>,
}

impl StationRecord {
    /// Whether `location` is at this station.
    pub fn holds(&self, location: Location) -> bool {
        self.location.distance_km(location) * 1000.0 <= f64::from(self.radius_m)
    }

    /// The station as members see it at `now_ms`.
    pub fn view(&self, now_ms: u64) -> Station {
        Station {
            station_id: self.station_id.clone(),
            name: self.name.clone(),
            location: self.location,
            radius_m: self.radius_m,
            parking_spaces: self.parking_spaces,
            connectors: self
                .connectors
                .iter()
                .map(|c| Connector {
                    connector_id: c.connector_id.clone(),
                    power_kw: c.power_kw,
                    status: if c.faulted {
                        ConnectorStatus::Faulted
                    } else if c.plugged_vehicle.is_some() {
                        ConnectorStatus::Occupied
                    } else if self
                        .reservations
                        .iter()
                        .any(|r| r.connector_id == c.connector_id && r.from_ms <= now_ms && now_ms < r.until_ms)
                    {
                        ConnectorStatus::Reserved
                    } else {
                        ConnectorStatus::Available
                    },
                })
                .collect(),
        }
    }
}

/// A vehicle: what the control plane last knew of it, and who holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VehicleRecord {
    pub vehicle_id: String,
    pub plate: String,
    pub model: String,
    pub location: Location,
    #[schema(maximum = 255)]
    pub battery_percent: u8,
    /// Range on a full battery.
    pub full_range_km: u32,
    pub battery_kwh: u32,
    pub odometer_m: u64,
    pub station_id: Option<String>,
    /// `Available`, `Maintenance` or `Charging` as set; `Reserved` and
    /// `Rented` while `rental_id` holds it.
    pub state: VehicleState,
    /// The rental holding the vehicle (reserved, starting or running).
    #[serde(default)]
    pub rental_id: Option<String>,
    /// Set when the car is provisioned (its simulation started).
    #[serde(default)]
    pub vehicle_key: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    /// Where it charges and until when, after a return at a connector.
    #[serde(default)]
    pub charging: Option<super::charging::ChargingPlan>,
}

impl VehicleRecord {
    pub fn view(&self, distance_km: Option<f64>) -> Vehicle {
        Vehicle {
            vehicle_id: self.vehicle_id.clone(),
            plate: self.plate.clone(),
            model: self.model.clone(),
            location: self.location,
            battery_percent: self.battery_percent,
            range_km: self.full_range_km * u32::from(self.battery_percent) / 100,
            state: self.state,
            station_id: self.station_id.clone(),
            vehicle_key: self.vehicle_key.clone().unwrap_or_default(),
            link: self.link.clone(),
            distance_km,
        }
    }
}

/// What QA gives to add or change a vehicle (every field but the id may
/// be left out when changing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VehicleEdit {
    #[serde(default)]
    pub plate: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    #[schema(maximum = 255)]
    pub battery_percent: Option<u8>,
    #[serde(default)]
    pub full_range_km: Option<u32>,
    #[serde(default)]
    pub station_id: Option<String>,
    /// `available` or `maintenance` (the others follow from rentals).
    #[serde(default)]
    pub state: Option<VehicleState>,
}

/// Why QA's edit is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditRefused {
    #[error("no such vehicle")]
    NotFound,
    #[error("no such station")]
    NoStation,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the vehicle is held by rental {0}: end or cancel it first")]
    Held(String),
}

pub async fn station(control_plane: &ControlPlane, id: &str) -> Result<Option<StationRecord>, StoreError> {
    get_json(control_plane.store(), &station_key(id)).await
}

pub async fn stations(control_plane: &ControlPlane) -> Result<Vec<StationRecord>, StoreError> {
    scan_json(control_plane.store(), keys::STATION_PREFIX).await
}

pub async fn vehicle(control_plane: &ControlPlane, id: &str) -> Result<Option<VehicleRecord>, StoreError> {
    super::housekeeping::settle_vehicle(control_plane, id).await
}

pub async fn vehicles(control_plane: &ControlPlane) -> Result<Vec<VehicleRecord>, StoreError> {
    scan_json(control_plane.store(), keys::VEHICLE_PREFIX).await
}

/// The station `location` is at, if any.
pub async fn station_at(control_plane: &ControlPlane, location: Location) -> Result<Option<StationRecord>, StoreError> {
    Ok(stations(control_plane).await?.into_iter().find(|s| s.holds(location)))
}

/// Why a search is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a search needs a valid point and a radius above 0 and at most {MAX_SEARCH_RADIUS_KM} km")]
pub struct BadSearch;

/// Available vehicles within `radius_km` of `near`, nearest first.
pub async fn search(
    control_plane: &ControlPlane,
    near: Location,
    radius_km: f64,
) -> Result<Result<Vec<Vehicle>, BadSearch>, StoreError> {
    if !(near.is_valid() && radius_km > 0.0 && radius_km <= MAX_SEARCH_RADIUS_KM) {
        return Ok(Err(BadSearch));
    }
    let mut found = Vec::new();
    for record in vehicles(control_plane).await? {
        // Settles holds that ran out, so an expired reservation's car shows.
        let Some(record) = super::housekeeping::settle_vehicle(control_plane, &record.vehicle_id).await? else {
            continue;
        };
        let distance = near.distance_km(record.location);
        if record.state == VehicleState::Available && distance <= radius_km {
            found.push(record.view(Some(distance)));
        }
    }
    found.sort_by(|a, b| {
        let distance = |v: &Vehicle| v.distance_km.unwrap_or(f64::MAX);
        distance(a)
            .total_cmp(&distance(b))
            .then(a.vehicle_id.cmp(&b.vehicle_id))
    });
    Ok(Ok(found))
}

fn check_edit(edit: &VehicleEdit) -> Result<(), EditRefused> {
    if edit.location.is_some_and(|l| !l.is_valid()) {
        return Err(EditRefused::Invalid(
            "latitude must be -90 to 90 and longitude -180 to 180",
        ));
    }
    if edit.battery_percent.is_some_and(|b| b > 100) {
        return Err(EditRefused::Invalid("battery is 0 to 100 percent"));
    }
    if edit
        .state
        .is_some_and(|s| !matches!(s, VehicleState::Available | VehicleState::Maintenance))
    {
        return Err(EditRefused::Invalid("QA sets a vehicle available or in maintenance"));
    }
    for text in [&edit.plate, &edit.model].into_iter().flatten() {
        if text.is_empty() || text.len() > 64 {
            return Err(EditRefused::Invalid("plate and model are 1 to 64 bytes"));
        }
    }
    Ok(())
}

/// Adds a vehicle (QA or the demo seed), at its station if it names one.
/// The car is provisioned by the fleet that hosts it, if this process
/// hosts one.
pub async fn add_vehicle(
    control_plane: &ControlPlane,
    vehicle_id: &str,
    edit: VehicleEdit,
) -> Result<Result<VehicleRecord, EditRefused>, StoreError> {
    if let Err(refused) = check_edit(&edit) {
        return Ok(Err(refused));
    }
    if vehicle_id.is_empty()
        || vehicle_id.len() > 64
        || !vehicle_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Ok(Err(EditRefused::Invalid(
            "a vehicle id is 1 to 64 letters, digits or '-'",
        )));
    }
    let station = match &edit.station_id {
        Some(id) => match station(control_plane, id).await? {
            Some(station) => Some(station),
            None => return Ok(Err(EditRefused::NoStation)),
        },
        None => None,
    };
    let Some(location) = edit.location.or(station.as_ref().map(|s| s.location)) else {
        return Ok(Err(EditRefused::Invalid("a new vehicle needs a location or a station")));
    };
    let record = VehicleRecord {
        vehicle_id: vehicle_id.to_owned(),
        plate: edit.plate.unwrap_or_else(|| vehicle_id.to_uppercase()),
        model: edit.model.unwrap_or_else(|| "City EV".to_owned()),
        location,
        battery_percent: edit.battery_percent.unwrap_or(90),
        full_range_km: edit.full_range_km.unwrap_or(300),
        battery_kwh: 50,
        odometer_m: 12_000_000,
        station_id: station.map(|s| s.station_id),
        state: edit.state.unwrap_or(VehicleState::Available),
        rental_id: None,
        vehicle_key: None,
        link: None,
        charging: None,
    };
    let added = update_json::<VehicleRecord, VehicleRecord, EditRefused>(
        control_plane.store(),
        &vehicle_key(vehicle_id),
        |current| match current {
            // Seeding twice (or from two instances) keeps the first.
            Some(existing) => Ok((Some(existing.clone()), existing)),
            None => Ok((Some(record.clone()), record.clone())),
        },
    )
    .await?;
    if let Ok(record) = &added {
        if record.vehicle_key.is_none() {
            if let Some(fleet) = control_plane.fleet() {
                fleet.host(control_plane, &record.vehicle_id).await?;
            }
        }
    }
    Ok(added)
}

/// Changes a vehicle as QA asks. A vehicle held by a rental keeps its
/// state (a rental owns it until its end).
pub async fn edit_vehicle(
    control_plane: &ControlPlane,
    vehicle_id: &str,
    edit: VehicleEdit,
) -> Result<Result<VehicleRecord, EditRefused>, StoreError> {
    if let Err(refused) = check_edit(&edit) {
        return Ok(Err(refused));
    }
    let station = match &edit.station_id {
        Some(id) => match station(control_plane, id).await? {
            Some(station) => Some(station),
            None => return Ok(Err(EditRefused::NoStation)),
        },
        None => None,
    };
    update_json::<VehicleRecord, VehicleRecord, EditRefused>(
        control_plane.store(),
        &vehicle_key(vehicle_id),
        |current| {
            let mut record = current.ok_or(EditRefused::NotFound)?;
            if let Some(state) = edit.state {
                if let Some(rental) = &record.rental_id {
                    return Err(EditRefused::Held(rental.clone()));
                }
                record.state = state;
            }
            if let Some(station) = &station {
                record.station_id = Some(station.station_id.clone());
                record.location = edit.location.unwrap_or(station.location);
            } else if let Some(location) = edit.location {
                record.location = location;
            }
            if let Some(battery) = edit.battery_percent {
                record.battery_percent = battery;
            }
            if let Some(range) = edit.full_range_km {
                record.full_range_km = range;
            }
            if let Some(plate) = &edit.plate {
                record.plate.clone_from(plate);
            }
            if let Some(model) = &edit.model {
                record.model.clone_from(model);
            }
            Ok((Some(record.clone()), record))
        },
    )
    .await
}

/// Records the car's key and link once its simulation is up.
pub(crate) async fn provisioned(
    control_plane: &ControlPlane,
    vehicle_id: &str,
    public_key: String,
    link: String,
) -> Result<(), StoreError> {
    update_json::<VehicleRecord, (), ()>(control_plane.store(), &vehicle_key(vehicle_id), |current| {
        let Some(mut record) = current else {
            return Ok((None, ()));
        };
        record.vehicle_key = Some(public_key.clone());
        record.link = Some(link.clone());
        Ok((Some(record), ()))
    })
    .await?
    .ok();
    Ok(())
}

/// Adds a station (the demo seed, or QA); an existing one is kept.
pub async fn add_station(control_plane: &ControlPlane, station: StationRecord) -> Result<StationRecord, StoreError> {
    let key = station_key(&station.station_id);
    if let Some(existing) = get_json::<StationRecord>(control_plane.store(), &key).await? {
        return Ok(existing);
    }
    put_json(control_plane.store(), &key, &station).await?;
    Ok(station)
}

/// Sets a connector out of order, or back (QA).
pub async fn set_connector_faulted(
    control_plane: &ControlPlane,
    station_id: &str,
    connector_id: &str,
    faulted: bool,
) -> Result<bool, StoreError> {
    Ok(
        update_json::<StationRecord, (), ()>(control_plane.store(), &station_key(station_id), |current| {
            let mut station = current.ok_or(())?;
            let connector = station
                .connectors
                .iter_mut()
                .find(|c| c.connector_id == connector_id)
                .ok_or(())?;
            connector.faulted = faulted;
            Ok((Some(station), ()))
        })
        .await?
        .is_ok(),
    )
}

/// The demo city: three stations, one with a faulted connector, and six cars.
pub async fn seed_demo(control_plane: &ControlPlane) -> Result<(), StoreError> {
    let connector = |id: &str, power_kw, faulted| ConnectorRecord {
        connector_id: id.to_owned(),
        power_kw,
        faulted,
        plugged_vehicle: None,
    };
    let stations = [
        (
            "st-central",
            "Central Station",
            48.1402,
            11.5600,
            vec![connector("c1", 22, false), connector("c2", 50, false)],
        ),
        (
            "st-harbour",
            "Harbour",
            48.1300,
            11.5800,
            vec![connector("c1", 11, false), connector("c2", 11, true)],
        ),
        (
            "st-airport",
            "Airport",
            48.3538,
            11.7861,
            vec![connector("c1", 50, false)],
        ),
    ];
    for (id, name, latitude, longitude, connectors) in stations {
        add_station(
            control_plane,
            StationRecord {
                station_id: id.to_owned(),
                name: name.to_owned(),
                location: Location { latitude, longitude },
                radius_m: 150,
                parking_spaces: 20,
                connectors,
                reservations: Vec::new(),
            },
        )
        .await?;
    }
    let cars = [
        ("ev-101", "st-central", 92),
        ("ev-102", "st-central", 64),
        ("ev-103", "st-central", 18),
        ("ev-201", "st-harbour", 81),
        ("ev-202", "st-harbour", 55),
        ("ev-301", "st-airport", 100),
    ];
    for (id, station, battery) in cars {
        let edit = VehicleEdit {
            plate: Some(format!("M-EP {}", &id[3..])),
            station_id: Some(station.to_owned()),
            battery_percent: Some(battery),
            ..VehicleEdit::default()
        };
        if let Err(refused) = add_vehicle(control_plane, id, edit).await? {
            unreachable!("the demo vehicle {id} is refused: {refused}");
        }
    }
    Ok(())
}
