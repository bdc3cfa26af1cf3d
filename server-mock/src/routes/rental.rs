//! Rental over HTTP: the public catalogue, the member's rental calls
//! (device-signed, carrying the session), and the admin side for QA —
//! vehicles, stations, tariffs, the queue and its workers, and the cars'
//! own view of themselves.

use std::collections::HashMap;
use std::sync::Arc;

use super::extract::Json;
use super::extract::{Path, Query};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use edgepoints_protocol::paths::{self, templates};
use edgepoints_protocol::rental::{
    ChargingRequest, ChargingReservation, ChargingReservationStatus, MemberCardBinding, MemberCardBound, Rental,
    RentalStep, ReserveVehicle, Station, StepKind, Vehicle,
};
use edgepoints_protocol::{DeviceId, Location, ProblemCode, Purpose};
use serde::{Deserialize, Serialize};

use super::auth::{DevicePayload, DeviceSigned};
use super::devices::parse_device_id;
use super::members::{live_session as session, member_read};
use crate::points::now;
use crate::problem::ApiError;
use crate::rental::catalogue::{self, EditRefused, StationRecord, VehicleEdit, VehicleRecord};
use crate::rental::charging::{self, ChargingTariff};
use crate::rental::fees::{self, RentalTariff};
use crate::rental::rentals::{self, StepRefused};
use crate::rental::reservations::{self, ReserveRefused};
use crate::rental::workers::{self, CrashPoint, QueueView, Worker, WorkerSettings};
use crate::rental::{cards, RentalRecord};
use crate::ControlPlane;

impl DevicePayload for ReserveVehicle {
    const PURPOSE: Purpose = Purpose::RentalReserve;
    const MISMATCH: &'static str = "the reservation names another device";
    const FIELD: &'static str = "reservation.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for RentalStep {
    const PURPOSE: Purpose = Purpose::RentalStep;
    const MISMATCH: &'static str = "the rental step names another device";
    const FIELD: &'static str = "step.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for MemberCardBinding {
    const PURPOSE: Purpose = Purpose::MemberCard;
    const MISMATCH: &'static str = "the card binding names another device";
    const FIELD: &'static str = "binding.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for ChargingRequest {
    const PURPOSE: Purpose = Purpose::ChargingReservation;
    const MISMATCH: &'static str = "the charging reservation names another device";
    const FIELD: &'static str = "request.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, &format!("no such {what}"))
}

fn invalid(why: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ProblemCode::MalformedRequest,
        "request refused",
    )
    .detail(why)
}
fn step_refused(refused: StepRefused) -> ApiError {
    match refused {
        StepRefused::NotFound => not_found("rental"),
        StepRefused::State(state) => ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::RentalState,
            "not possible in the rental's state",
        )
        .detail(format!("the rental is {}", state.as_str())),
        StepRefused::Proof(why) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::VehicleProofInvalid,
            "the vehicle's answer does not prove the step",
        )
        .detail(why),
        StepRefused::EndCriteria(why) => ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::EndRefused,
            "the vehicle's reading fails the end criteria",
        )
        .detail(why),
    }
}

/// `GET /v1/vehicles?lat=&lon=&radius_km=`: available vehicles, nearest first.
#[utoipa::path(
    get,
    path = templates::VEHICLES,
    tag = "rental",
    params(
        ("lat" = f64, Query, description = "Latitude of the point to search near"),
        ("lon" = f64, Query, description = "Longitude of the point to search near"),
        ("radius_km" = f64, Query, description = "How far to look"),
    ),
    responses((status = 200, body = Vec<Vehicle>), crate::openapi::Problems),
)]
pub(super) async fn search(
    State(control_plane): State<Arc<ControlPlane>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Vehicle>>, ApiError> {
    let number = |name: &str| -> Result<f64, ApiError> {
        query
            .get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| ApiError::bad_request(format!("`{name}` must be a number")))
    };
    let near = Location {
        latitude: number("lat")?,
        longitude: number("lon")?,
    };
    let radius_km = number("radius_km")?;
    catalogue::search(&control_plane, near, radius_km)
        .await?
        .map(Json)
        .map_err(|e| invalid(e.to_string()))
}

/// `GET /v1/vehicles/{vehicle_id}`.
#[utoipa::path(
    get,
    path = templates::VEHICLE,
    tag = "rental",
    params(("vehicle_id" = String, Path)),
    responses((status = 200, body = Vehicle), crate::openapi::Problems),
)]
pub(super) async fn vehicle(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(vehicle_id): Path<String>,
) -> Result<Json<Vehicle>, ApiError> {
    catalogue::vehicle(&control_plane, &vehicle_id)
        .await?
        .map(|v| Json(v.view(None)))
        .ok_or_else(|| not_found("vehicle"))
}

/// `GET /v1/stations`.
#[utoipa::path(
    get,
    path = templates::STATIONS,
    tag = "rental",
    responses((status = 200, body = Vec<Station>), crate::openapi::Problems),
)]
pub(super) async fn stations(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<Station>>, ApiError> {
    let clock = now(&control_plane).await?;
    Ok(Json(
        catalogue::stations(&control_plane)
            .await?
            .iter()
            .map(|s| s.view(clock))
            .collect(),
    ))
}

/// `GET /v1/stations/{station_id}`.
#[utoipa::path(
    get,
    path = templates::STATION,
    tag = "rental",
    params(("station_id" = String, Path)),
    responses((status = 200, body = Station), crate::openapi::Problems),
)]
pub(super) async fn station(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(station_id): Path<String>,
) -> Result<Json<Station>, ApiError> {
    let clock = now(&control_plane).await?;
    catalogue::station(&control_plane, &station_id)
        .await?
        .map(|s| Json(s.view(clock)))
        .ok_or_else(|| not_found("station"))
}

/// `POST /v1/devices/{device_id}/reservations`.
#[utoipa::path(
    post,
    path = templates::DEVICE_RESERVATIONS,
    tag = "rental",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ReserveVehicle>, description = "Signed by the device of the path"),
    responses((status = 201, body = Rental), crate::openapi::Problems),
)]
pub(super) async fn reserve(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ReserveVehicle>,
) -> Result<(StatusCode, Json<Rental>), ApiError> {
    let session = session(&control_plane, &headers, &payload.session_key, &device_id).await?;
    match reservations::reserve(&control_plane, &session.member_id, &device_id, &payload.vehicle_id).await? {
        Ok(rental) => Ok((StatusCode::CREATED, Json(rental))),
        Err(ReserveRefused::NoSuchVehicle) => Err(not_found("vehicle")),
        Err(ReserveRefused::VehicleTaken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::VehicleTaken,
            "the vehicle is taken",
        )),
        Err(ReserveRefused::AlreadyRenting(rental_id)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::AlreadyRenting,
            "the member has a rental in progress",
        )
        .detail(rental_id)),
    }
}

/// `POST /v1/devices/{device_id}/rentals/{rental_id}/{step}`: one handler
/// for the four steps, each on its own route (so QA can fault one).
async fn rental_step(
    control_plane: &ControlPlane,
    headers: &HeaderMap,
    (device_id, rental_id): (&DeviceId, String),
    payload: RentalStep,
    route_step: StepKind,
) -> Result<Json<Rental>, ApiError> {
    if payload.step != route_step {
        return Err(ApiError::bad_request(format!(
            "the payload asks to {}, the route to {}",
            payload.step.as_str(),
            route_step.as_str()
        )));
    }
    if payload.rental_id != rental_id {
        return Err(ApiError::bad_request("the payload names another rental"));
    }
    let session = session(control_plane, headers, &payload.session_key, device_id).await?;
    let answer = || {
        payload
            .vehicle_answer
            .clone()
            .ok_or_else(|| ApiError::bad_request("this step needs the vehicle's answer"))
    };
    let outcome = match route_step {
        StepKind::Cancel => rentals::cancel(control_plane, &session.member_id, &rental_id).await?,
        StepKind::Start => rentals::start(control_plane, &session, &rental_id).await?,
        StepKind::Confirm => rentals::confirm(control_plane, &session.member_id, &rental_id, &answer()?).await?,
        StepKind::End => rentals::end(control_plane, &session, &rental_id, &answer()?).await?,
    };
    outcome.map(Json).map_err(step_refused)
}

macro_rules! step_handler {
    ($name:ident, $step:expr, $path:expr, $what:literal) => {
        #[doc = concat!("`POST ", $what, "`: this step of the rental, signed, carrying the member's session.")]
        #[utoipa::path(
            post,
            path = $path,
            tag = "rental",
            params(
                ("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"),
                ("rental_id" = String, Path),
                crate::openapi::IdempotencyKey
            ),
            request_body(content = crate::openapi::Signed<RentalStep>, description = "Signed by the device of the path"),
            responses((status = 200, body = Rental), crate::openapi::Problems),
        )]
        pub(super) async fn $name(
            State(control_plane): State<Arc<ControlPlane>>,
            Path((_, rental_id)): Path<(String, String)>,
            headers: HeaderMap,
            DeviceSigned { device_id, payload, .. }: DeviceSigned<RentalStep>,
        ) -> Result<Json<Rental>, ApiError> {
            rental_step(&control_plane, &headers, (&device_id, rental_id), payload, $step).await
        }
    };
}

step_handler!(
    cancel,
    StepKind::Cancel,
    templates::DEVICE_RENTAL_CANCEL,
    "/v1/devices/{device_id}/rentals/{rental_id}/cancel"
);
step_handler!(
    start,
    StepKind::Start,
    templates::DEVICE_RENTAL_START,
    "/v1/devices/{device_id}/rentals/{rental_id}/start"
);
step_handler!(
    confirm,
    StepKind::Confirm,
    templates::DEVICE_RENTAL_CONFIRM,
    "/v1/devices/{device_id}/rentals/{rental_id}/confirm"
);
step_handler!(
    end,
    StepKind::End,
    templates::DEVICE_RENTAL_END,
    "/v1/devices/{device_id}/rentals/{rental_id}/end"
);

/// `GET /v1/devices/{device_id}/rentals/{rental_id}`.
#[utoipa::path(
    get,
    path = templates::DEVICE_RENTAL,
    tag = "rental",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("rental_id" = String, Path), crate::openapi::MemberRead),
    responses((status = 200, body = Rental), crate::openapi::Problems),
)]
pub(super) async fn rental(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, rental_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Rental>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_rental_step(templates::DEVICE_RENTAL, device_id.as_str(), &rental_id);
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    rentals::member_rental(&control_plane, &session.member_id, &rental_id)
        .await?
        .map(Json)
        .map_err(step_refused)
}

/// `GET /v1/devices/{device_id}/current-rental`.
#[utoipa::path(
    get,
    path = templates::DEVICE_CURRENT_RENTAL,
    tag = "rental",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::MemberRead),
    responses((status = 200, body = Rental), crate::openapi::Problems),
)]
pub(super) async fn current_rental(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Rental>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_current_rental(device_id.as_str());
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    rentals::current(&control_plane, &session.member_id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found("rental in progress"))
}

/// `PUT /v1/devices/{device_id}/member-card`.
#[utoipa::path(
    put,
    path = templates::DEVICE_MEMBER_CARD,
    tag = "rental",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<MemberCardBinding>, description = "Signed by the device of the path"),
    responses((status = 200, body = MemberCardBound), crate::openapi::Problems),
)]
pub(super) async fn bind_card(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<MemberCardBinding>,
) -> Result<Json<MemberCardBound>, ApiError> {
    let session = session(&control_plane, &headers, &payload.session_key, &device_id).await?;
    cards::bind(&control_plane, &session.member_id, &payload.card_number)
        .await?
        .map(Json)
        .map_err(|e| invalid(e.to_string()))
}

/// `POST /v1/devices/{device_id}/charging-reservations`: 201 when
/// accepted; the other answers of a charge point are 200 with their status.
#[utoipa::path(
    post,
    path = templates::DEVICE_CHARGING_RESERVATIONS,
    tag = "rental",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ChargingRequest>, description = "Signed by the device of the path"),
    responses((status = 201, body = ChargingReservation), crate::openapi::Problems),
)]
pub(super) async fn reserve_charging(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ChargingRequest>,
) -> Result<(StatusCode, Json<ChargingReservation>), ApiError> {
    let session = session(&control_plane, &headers, &payload.session_key, &device_id).await?;
    let answer = charging::reserve(&control_plane, &session.member_id, &payload).await?;
    let status = if answer.status == ChargingReservationStatus::Accepted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

fn edit_refused(refused: EditRefused) -> ApiError {
    match refused {
        EditRefused::NotFound => not_found("vehicle"),
        EditRefused::NoStation => not_found("station"),
        EditRefused::Held(_) => ApiError::new(StatusCode::CONFLICT, ProblemCode::VehicleTaken, "the vehicle is held")
            .detail(refused.to_string()),
        EditRefused::Invalid(why) => invalid(why),
    }
}

/// A vehicle as QA adds it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NewVehicle {
    vehicle_id: String,
    #[serde(flatten)]
    edit: VehicleEdit,
}

/// `GET /admin/vehicles`: every vehicle record, held or not.
#[utoipa::path(
    get,
    path = "/admin/vehicles",
    tag = "admin",
    responses((status = 200, body = Vec<VehicleRecord>), crate::openapi::Problems),
)]
pub(super) async fn admin_vehicles(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<VehicleRecord>>, ApiError> {
    Ok(Json(catalogue::vehicles(&control_plane).await?))
}

/// `POST /admin/vehicles`.
#[utoipa::path(
    post,
    path = "/admin/vehicles",
    tag = "admin",
    request_body = NewVehicle,
    responses((status = 201, body = VehicleRecord), crate::openapi::Problems),
)]
pub(super) async fn add_vehicle(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(new): Json<NewVehicle>,
) -> Result<(StatusCode, Json<VehicleRecord>), ApiError> {
    catalogue::add_vehicle(&control_plane, &new.vehicle_id, new.edit)
        .await?
        .map(|v| (StatusCode::CREATED, Json(v)))
        .map_err(edit_refused)
}

/// `PUT /admin/vehicles/{vehicle_id}`.
#[utoipa::path(
    put,
    path = "/admin/vehicles/{vehicle_id}",
    tag = "admin",
    params(("vehicle_id" = String, Path)),
    request_body = VehicleEdit,
    responses((status = 200, body = VehicleRecord), crate::openapi::Problems),
)]
pub(super) async fn edit_vehicle(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(vehicle_id): Path<String>,
    Json(edit): Json<VehicleEdit>,
) -> Result<Json<VehicleRecord>, ApiError> {
    catalogue::edit_vehicle(&control_plane, &vehicle_id, edit)
        .await?
        .map(Json)
        .map_err(edit_refused)
}

/// `GET /admin/vehicles/{vehicle_id}/car`: the car's own view of itself,
/// when this process hosts it.
#[utoipa::path(
    get,
    path = "/admin/vehicles/{vehicle_id}/car",
    tag = "admin",
    params(("vehicle_id" = String, Path)),
    responses((status = 200, body = crate::vehicles::CarView), crate::openapi::Problems),
)]
pub(super) async fn car(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(vehicle_id): Path<String>,
) -> Result<Json<crate::vehicles::CarView>, ApiError> {
    control_plane
        .fleet()
        .and_then(|f| f.car(&vehicle_id))
        .map(|car| Json(car.view()))
        .ok_or_else(|| not_found("vehicle hosted by this process"))
}

/// `GET /admin/stations`: stations with their reservations and plugs.
#[utoipa::path(
    get,
    path = "/admin/stations",
    tag = "admin",
    responses((status = 200, body = Vec<StationRecord>), crate::openapi::Problems),
)]
pub(super) async fn admin_stations(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<StationRecord>>, ApiError> {
    Ok(Json(catalogue::stations(&control_plane).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ConnectorFault {
    faulted: bool,
}

/// `PUT /admin/stations/{station_id}/connectors/{connector_id}`.
#[utoipa::path(
    put,
    path = "/admin/stations/{station_id}/connectors/{connector_id}",
    tag = "admin",
    params(("station_id" = String, Path), ("connector_id" = String, Path)),
    request_body = ConnectorFault,
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn set_connector(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((station_id, connector_id)): Path<(String, String)>,
    Json(fault): Json<ConnectorFault>,
) -> Result<StatusCode, ApiError> {
    if catalogue::set_connector_faulted(&control_plane, &station_id, &connector_id, fault.faulted).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("connector"))
    }
}

/// `GET /admin/rentals`: every rental, newest first.
#[utoipa::path(
    get,
    path = "/admin/rentals",
    tag = "admin",
    responses((status = 200, body = Vec<RentalRecord>), crate::openapi::Problems),
)]
pub(super) async fn admin_rentals(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<RentalRecord>>, ApiError> {
    Ok(Json(rentals::all(&control_plane).await?))
}

#[utoipa::path(
    get,
    path = "/admin/rental-tariff",
    tag = "admin",
    responses((status = 200, body = RentalTariff), crate::openapi::Problems),
)]
pub(super) async fn rental_tariff(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<RentalTariff>, ApiError> {
    Ok(Json(fees::tariff(&control_plane).await?))
}

#[utoipa::path(
    put,
    path = "/admin/rental-tariff",
    tag = "admin",
    request_body = RentalTariff,
    responses((status = 200, body = RentalTariff), crate::openapi::Problems),
)]
pub(super) async fn set_rental_tariff(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(tariff): Json<RentalTariff>,
) -> Result<Json<RentalTariff>, ApiError> {
    if let Some(problem) = tariff.problem() {
        return Err(invalid(problem));
    }
    fees::set_tariff(&control_plane, &tariff).await?;
    Ok(Json(tariff))
}

#[utoipa::path(
    get,
    path = "/admin/charging-tariff",
    tag = "admin",
    responses((status = 200, body = ChargingTariff), crate::openapi::Problems),
)]
pub(super) async fn charging_tariff(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<ChargingTariff>, ApiError> {
    Ok(Json(charging::tariff(&control_plane).await?))
}

#[utoipa::path(
    put,
    path = "/admin/charging-tariff",
    tag = "admin",
    request_body = ChargingTariff,
    responses((status = 200, body = ChargingTariff), crate::openapi::Problems),
)]
pub(super) async fn set_charging_tariff(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(tariff): Json<ChargingTariff>,
) -> Result<Json<ChargingTariff>, ApiError> {
    if let Some(problem) = tariff.problem() {
        return Err(invalid(problem));
    }
    charging::set_tariff(&control_plane, &tariff).await?;
    Ok(Json(tariff))
}

/// `GET /admin/queues`: both streams, their pending entries, what the
/// workers did.
#[utoipa::path(
    get,
    path = "/admin/queues",
    tag = "admin",
    responses((status = 200, body = QueueView), crate::openapi::Problems),
)]
pub(super) async fn queues(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<QueueView>, ApiError> {
    Ok(Json(workers::view(&control_plane).await?))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(super) struct Crash {
    at: CrashPoint,
}

/// `POST /admin/queues/{stream}/crash`: the next consumer of the stream
/// to take a message dies there.
#[utoipa::path(
    post,
    path = "/admin/queues/{stream}/crash",
    tag = "admin",
    params(("stream" = String, Path)),
    request_body = Crash,
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn crash_worker(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(stream): Path<String>,
    Json(crash): Json<Crash>,
) -> Result<StatusCode, ApiError> {
    let worker = Worker::parse(&stream).ok_or_else(|| not_found("stream"))?;
    workers::crash_next(&control_plane, worker, crash.at).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /admin/queues/settings`.
#[utoipa::path(
    put,
    path = "/admin/queues/settings",
    tag = "admin",
    request_body = WorkerSettings,
    responses((status = 200, body = WorkerSettings), crate::openapi::Problems),
)]
pub(super) async fn set_worker_settings(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(settings): Json<WorkerSettings>,
) -> Result<Json<WorkerSettings>, ApiError> {
    if settings.claim_idle_ms == 0 {
        return Err(invalid("claim_idle_ms must be above 0"));
    }
    workers::set_settings(&control_plane, settings).await?;
    Ok(Json(settings))
}
