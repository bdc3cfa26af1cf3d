//! Rental of electric cars: stations and vehicles, reservations, the rental
//! itself, member cards and charging reservations — what travels between
//! the SDK and the control plane — and, in [`credential`], [`command`] and
//! [`vehicle_check`], what travels between the phone and the car.
//!
//! Member calls are device-signed envelopes carrying the member's session
//! key, so a signature binds them to the device and the session to the
//! member. Reads are signed reads with the session in
//! [`crate::SESSION_HEADER`].
//!
//! A rental moves `reserved → starting → running → ended` on the control
//! plane (or `reserved → cancelled | expired`); the SDK adds `ending`, the
//! time between the lock and the control plane's answer. The control plane
//! is the authority: the SDK reconciles with it.

pub mod card;
pub mod command;
pub mod credential;
pub mod vehicle_check;

use serde::{Deserialize, Serialize};

use crate::{DeviceId, Location, SignedEnvelope};

/// How long a reservation holds a vehicle unless the member starts.
pub const DEFAULT_HOLD_MS: u64 = 15 * 60 * 1000;
/// Widest search radius for vehicles.
pub const MAX_SEARCH_RADIUS_KM: f64 = 100.0;

/// A charging connector at a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Connector {
    pub connector_id: String,
    pub power_kw: u32,
    pub status: ConnectorStatus,
}

/// A connector's state, as a charge point reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Available,
    Occupied,
    Reserved,
    Faulted,
}

/// A station: where rentals start and end, with parking and connectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Station {
    pub station_id: String,
    pub name: String,
    pub location: Location,
    /// A car within this distance of `location` is at the station.
    pub radius_m: u32,
    pub parking_spaces: u32,
    pub connectors: Vec<Connector>,
}

/// What a vehicle is doing, as the control plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VehicleState {
    Available,
    Reserved,
    Rented,
    Charging,
    /// Out of service (QA or an operator says so).
    Maintenance,
}

/// A vehicle, as the control plane last knew it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vehicle {
    pub vehicle_id: String,
    pub plate: String,
    pub model: String,
    pub location: Location,
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub battery_percent: u8,
    pub range_km: u32,
    pub state: VehicleState,
    /// The station it stands at, if any.
    pub station_id: Option<String>,
    /// The vehicle's own public key (`ed25519:…`): its answers are signed
    /// with it.
    pub vehicle_key: String,
    /// How the phone reaches the car: for a real car the host's Bluetooth
    /// identifier, for the mock's simulated ones an HTTP address. Passed
    /// to the host's link as it is.
    pub link: Option<String>,
    /// From the search point, when the vehicle came from a search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// Payload of a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReserveVehicle {
    pub device_id: DeviceId,
    pub session_key: String,
    pub vehicle_id: String,
}

/// Which step a [`RentalStep`] asks for; must match its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Cancel,
    Start,
    /// The vehicle accepted the first command under the credential.
    Confirm,
    /// The vehicle locked at the end.
    End,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Cancel => "cancel",
            StepKind::Start => "start",
            StepKind::Confirm => "confirm",
            StepKind::End => "end",
        }
    }
}

/// Payload of a rental step. `vehicle_answer` is the vehicle's signed
/// [`command::VehicleAnswer`] for a confirm or an end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RentalStep {
    pub device_id: DeviceId,
    pub session_key: String,
    pub rental_id: String,
    pub step: StepKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_answer: Option<SignedEnvelope>,
}

/// A rental's state on the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RentalState {
    Reserved,
    /// The credential is issued; the vehicle has not confirmed yet.
    Starting,
    Running,
    Ended,
    Cancelled,
    /// The hold ran out before the member started.
    Expired,
}

impl RentalState {
    pub fn is_final(self) -> bool {
        matches!(self, RentalState::Ended | RentalState::Cancelled | RentalState::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RentalState::Reserved => "reserved",
            RentalState::Starting => "starting",
            RentalState::Running => "running",
            RentalState::Ended => "ended",
            RentalState::Cancelled => "cancelled",
            RentalState::Expired => "expired",
        }
    }
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeeLine {
    /// `time`, `distance`, `one_way`, `low_battery`.
    pub item: String,
    pub cents: u64,
    pub detail: String,
}

/// What a rental costs, computed by the control plane at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fee {
    /// What the member pays: the lines, less the credits.
    pub total_cents: u64,
    pub currency: String,
    pub lines: Vec<FeeLine>,
    /// Amounts taken off (`points_reward`: a rental credit redeemed for
    /// points), each at most what the lines leave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credits: Vec<FeeLine>,
}

/// A rental as the control plane holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rental {
    pub rental_id: String,
    pub member_id: String,
    pub device_id: DeviceId,
    pub vehicle_id: String,
    pub state: RentalState,
    pub reserved_at_ms: u64,
    pub hold_expires_at_ms: u64,
    pub origin_station_id: Option<String>,
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    #[serde(default)]
    pub running_at_ms: Option<u64>,
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
    #[serde(default)]
    pub end_station_id: Option<String>,
    /// The credential the vehicle checks, once started.
    #[serde(default)]
    pub credential: Option<SignedEnvelope>,
    #[serde(default)]
    pub start_odometer_m: Option<u64>,
    #[serde(default)]
    pub end_odometer_m: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub end_battery_percent: Option<u8>,
    #[serde(default)]
    pub fee: Option<Fee>,
    /// When the vehicle's charging at the end station will be done, if it
    /// was plugged in.
    #[serde(default)]
    pub charging_until_ms: Option<u64>,
}

/// Payload binding a card to the member (a card number as printed; only
/// its hash is kept, see [`card`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberCardBinding {
    pub device_id: DeviceId,
    pub session_key: String,
    pub card_number: String,
}

/// The answer to a card binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberCardBound {
    pub member_id: String,
    /// The last four characters, to show.
    pub card_hint: String,
    pub bound_at_ms: u64,
}

/// Payload of a charging reservation, modelled on OCPP's ReserveNow: a
/// connector (any free one when `None`) for a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChargingRequest {
    pub device_id: DeviceId,
    pub session_key: String,
    pub station_id: String,
    #[serde(default)]
    pub connector_id: Option<String>,
    pub from_ms: u64,
    pub until_ms: u64,
}

/// How a charge point answered a reservation, as OCPP's ReserveNow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChargingReservationStatus {
    Accepted,
    /// Every fitting connector is in use or reserved for the window.
    Occupied,
    /// The asked connector is out of order.
    Faulted,
    /// The window or the connector is not acceptable (`reason` says why).
    Rejected,
}

/// The answer to a charging reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChargingReservation {
    /// Set when accepted.
    pub reservation_id: Option<String>,
    pub status: ChargingReservationStatus,
    pub station_id: String,
    pub connector_id: Option<String>,
    pub from_ms: u64,
    pub until_ms: u64,
    /// An accepted reservation not used by then lapses.
    pub expires_at_ms: Option<u64>,
    pub reason: Option<String>,
}

/// Longest charging reservation.
pub const MAX_CHARGING_WINDOW_MS: u64 = 12 * 3600 * 1000;
