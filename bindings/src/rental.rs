//! Rental as Kotlin and Swift see it: records mirroring the core's, the
//! host's link to cars as a foreign trait, and the `Rental` object.

use std::sync::Arc;

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::edgepoints::GeoLocation;
use crate::EdgePointsError;

/// What a car is doing, as the control plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VehicleState {
    /// Free to reserve.
    Available,
    /// Held for a member.
    Reserved,
    /// In a rental.
    Rented,
    /// Charging at a station.
    Charging,
    /// Out of service.
    Maintenance,
}

impl From<core::VehicleState> for VehicleState {
    fn from(s: core::VehicleState) -> Self {
        match s {
            core::VehicleState::Available => VehicleState::Available,
            core::VehicleState::Reserved => VehicleState::Reserved,
            core::VehicleState::Rented => VehicleState::Rented,
            core::VehicleState::Charging => VehicleState::Charging,
            core::VehicleState::Maintenance => VehicleState::Maintenance,
        }
    }
}

/// A car.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Vehicle {
    pub vehicle_id: String,
    pub plate: String,
    pub model: String,
    pub location: GeoLocation,
    pub battery_percent: i32,
    pub range_km: i32,
    pub state: VehicleState,
    pub station_id: Option<String>,
    /// The car's public key (`ed25519:…`): its answers are checked with it.
    pub vehicle_key: String,
    /// How the host's link reaches the car (a Bluetooth identifier; an
    /// HTTP address for the mock's simulated cars).
    pub link: Option<String>,
    pub distance_km: Option<f64>,
}

impl From<core::Vehicle> for Vehicle {
    fn from(v: core::Vehicle) -> Self {
        Vehicle {
            vehicle_id: v.vehicle_id,
            plate: v.plate,
            model: v.model,
            location: v.location.into(),
            battery_percent: v.battery_percent.signed(),
            range_km: v.range_km.signed(),
            state: v.state.into(),
            station_id: v.station_id,
            vehicle_key: v.vehicle_key,
            link: v.link,
            distance_km: v.distance_km,
        }
    }
}

/// What a charging connector is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectorStatus {
    /// Free to use or reserve.
    Available,
    /// A car is charging on it.
    Occupied,
    /// Held by a charging reservation.
    Reserved,
    /// Out of order.
    Faulted,
}

impl From<core::ConnectorStatus> for ConnectorStatus {
    fn from(s: core::ConnectorStatus) -> Self {
        match s {
            core::ConnectorStatus::Available => ConnectorStatus::Available,
            core::ConnectorStatus::Occupied => ConnectorStatus::Occupied,
            core::ConnectorStatus::Reserved => ConnectorStatus::Reserved,
            core::ConnectorStatus::Faulted => ConnectorStatus::Faulted,
        }
    }
}

/// A charging connector at a station.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Connector {
    pub connector_id: String,
    pub power_kw: i32,
    pub status: ConnectorStatus,
}

/// A station: where rentals start and end.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Station {
    pub station_id: String,
    pub name: String,
    pub location: GeoLocation,
    pub radius_m: i32,
    pub parking_spaces: i32,
    pub connectors: Vec<Connector>,
}

impl From<core::Station> for Station {
    fn from(s: core::Station) -> Self {
        Station {
            station_id: s.station_id,
            name: s.name,
            location: s.location.into(),
            radius_m: s.radius_m.signed(),
            parking_spaces: s.parking_spaces.signed(),
            connectors: s
                .connectors
                .into_iter()
                .map(|c| Connector {
                    connector_id: c.connector_id,
                    power_kw: c.power_kw.signed(),
                    status: c.status.into(),
                })
                .collect(),
        }
    }
}

/// Where the rental stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RentalPhase {
    /// No rental on this device.
    Idle,
    /// A car is held for the member until the hold expires.
    Reserved,
    /// The rental is starting: credential issued, the first unlock on its way.
    Starting,
    /// The member has the car.
    Running,
    /// The end is on its way to the control plane.
    Ending,
    /// Ended and billed.
    Closed,
    /// The reservation was cancelled before the start.
    Cancelled,
    /// The hold ran out before the start.
    Expired,
}

impl From<core::RentalPhase> for RentalPhase {
    fn from(p: core::RentalPhase) -> Self {
        match p {
            core::RentalPhase::Idle => RentalPhase::Idle,
            core::RentalPhase::Reserved => RentalPhase::Reserved,
            core::RentalPhase::Starting => RentalPhase::Starting,
            core::RentalPhase::Running => RentalPhase::Running,
            core::RentalPhase::Ending => RentalPhase::Ending,
            core::RentalPhase::Closed => RentalPhase::Closed,
            core::RentalPhase::Cancelled => RentalPhase::Cancelled,
            core::RentalPhase::Expired => RentalPhase::Expired,
        }
    }
}

/// One line of a rental's fee.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FeeLine {
    /// `time`, `distance`, `one_way`, `low_battery`; for a credit,
    /// `points_reward`.
    pub item: String,
    pub cents: i64,
    pub detail: String,
}

impl From<core::FeeLine> for FeeLine {
    fn from(l: core::FeeLine) -> Self {
        FeeLine {
            item: l.item,
            cents: l.cents.signed(),
            detail: l.detail,
        }
    }
}

/// A rental's fee, line by line.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Fee {
    /// What the member pays: the lines less the credits.
    pub total_cents: i64,
    pub currency: String,
    pub lines: Vec<FeeLine>,
    /// Amounts taken off (a rental credit redeemed for points).
    pub credits: Vec<FeeLine>,
}

impl From<core::Fee> for Fee {
    fn from(f: core::Fee) -> Self {
        Fee {
            total_cents: f.total_cents.signed(),
            currency: f.currency,
            lines: f.lines.into_iter().map(Into::into).collect(),
            credits: f.credits.into_iter().map(Into::into).collect(),
        }
    }
}

/// The control plane's word on a rental.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RentalRecord {
    pub rental_id: String,
    pub vehicle_id: String,
    /// `reserved`, `starting`, `running`, `ended`, `cancelled`, `expired`.
    pub state: String,
    pub reserved_at_ms: i64,
    pub hold_expires_at_ms: i64,
    pub origin_station_id: Option<String>,
    pub end_station_id: Option<String>,
    pub fee: Option<Fee>,
    pub charging_until_ms: Option<i64>,
}

impl From<core::RentalRecord> for RentalRecord {
    fn from(r: core::RentalRecord) -> Self {
        RentalRecord {
            rental_id: r.rental_id,
            vehicle_id: r.vehicle_id,
            state: r.state.as_str().to_owned(),
            reserved_at_ms: r.reserved_at_ms.signed(),
            hold_expires_at_ms: r.hold_expires_at_ms.signed(),
            origin_station_id: r.origin_station_id,
            end_station_id: r.end_station_id,
            fee: r.fee.map(Into::into),
            charging_until_ms: r.charging_until_ms.signed(),
        }
    }
}

/// A command to a car.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VehicleCommand {
    /// Open the doors.
    Unlock,
    /// Close and lock the doors.
    Lock,
    /// Sound the horn and flash the lights, to find the car.
    Honk,
}

impl From<VehicleCommand> for core::CommandKind {
    fn from(c: VehicleCommand) -> Self {
        match c {
            VehicleCommand::Unlock => core::CommandKind::Unlock,
            VehicleCommand::Lock => core::CommandKind::Lock,
            VehicleCommand::Honk => core::CommandKind::Honk,
        }
    }
}

/// Why a car refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VehicleRefusal {
    /// The credential is for another car.
    WrongVehicle,
    /// The credential or the command has expired.
    Expired,
    /// The credential's window has not begun.
    NotYetValid,
    /// A signature does not verify.
    BadSignature,
    /// The command's counter was used before: a replay.
    ReplayedCounter,
    /// The credential does not allow this command.
    CommandNotAllowed,
    /// The credential was revoked (the rental ended).
    Revoked,
    /// The command does not belong to the credential.
    CredentialMismatch,
    /// The car could not read the request.
    Malformed,
    /// The card is not the member's bound card.
    WrongCard,
    /// The car holds no credential for this rental.
    NoCredential,
    /// The car cannot lock with a door open.
    DoorsOpen,
}

impl From<core::VehicleRefusal> for VehicleRefusal {
    fn from(r: core::VehicleRefusal) -> Self {
        match r {
            core::VehicleRefusal::WrongVehicle => VehicleRefusal::WrongVehicle,
            core::VehicleRefusal::Expired => VehicleRefusal::Expired,
            core::VehicleRefusal::NotYetValid => VehicleRefusal::NotYetValid,
            core::VehicleRefusal::BadSignature => VehicleRefusal::BadSignature,
            core::VehicleRefusal::ReplayedCounter => VehicleRefusal::ReplayedCounter,
            core::VehicleRefusal::CommandNotAllowed => VehicleRefusal::CommandNotAllowed,
            core::VehicleRefusal::Revoked => VehicleRefusal::Revoked,
            core::VehicleRefusal::CredentialMismatch => VehicleRefusal::CredentialMismatch,
            core::VehicleRefusal::Malformed => VehicleRefusal::Malformed,
            core::VehicleRefusal::WrongCard => VehicleRefusal::WrongCard,
            core::VehicleRefusal::NoCredential => VehicleRefusal::NoCredential,
            core::VehicleRefusal::DoorsOpen => VehicleRefusal::DoorsOpen,
        }
    }
}

/// What the car measures.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VehicleReading {
    pub locked: bool,
    pub doors_closed: bool,
    pub odometer_m: i64,
    pub battery_percent: i32,
    pub location: GeoLocation,
    pub at_s: i64,
}

/// What the car did with a command.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CommandOutcome {
    pub counter: i64,
    /// `None` when the car did it.
    pub refusal: Option<VehicleRefusal>,
    pub reading: VehicleReading,
    /// Settled by asking the car after the answer was lost.
    pub settled_by_status: bool,
}

impl From<core::CommandOutcome> for CommandOutcome {
    fn from(o: core::CommandOutcome) -> Self {
        CommandOutcome {
            counter: o.counter.signed(),
            refusal: o.refusal.map(Into::into),
            reading: VehicleReading {
                locked: o.reading.locked,
                doors_closed: o.reading.doors_closed,
                odometer_m: o.reading.odometer_m.signed(),
                battery_percent: o.reading.battery_percent.signed(),
                location: o.reading.location.into(),
                at_s: o.reading.at_s.signed(),
            },
            settled_by_status: o.settled_by_status,
        }
    }
}

/// The rental on this device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RentalStatus {
    pub phase: RentalPhase,
    pub member_id: Option<String>,
    pub vehicle: Option<Vehicle>,
    pub rental: Option<RentalRecord>,
    /// The step on its way to the control plane.
    pub pending_step: Option<String>,
    /// The counter of a command whose answer is awaited.
    pub command_in_flight: Option<i64>,
    pub last_refusal: Option<String>,
}

impl From<core::RentalStatus> for RentalStatus {
    fn from(s: core::RentalStatus) -> Self {
        RentalStatus {
            phase: s.phase.into(),
            member_id: s.member_id,
            vehicle: s.vehicle.map(Into::into),
            rental: s.rental.map(Into::into),
            pending_step: s.pending_step,
            command_in_flight: s.command_in_flight.map(|c| c.counter.signed()),
            last_refusal: s.last_refusal,
        }
    }
}

/// A member card bound to the account: the car accepts it during the member's rentals.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberCardBound {
    pub member_id: String,
    pub card_hint: String,
    pub bound_at_ms: i64,
}

/// How a charge point took a reservation (OCPP ReserveNow's answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChargingReservationStatus {
    /// The connector is held for the member.
    Accepted,
    /// Another car is on it.
    Occupied,
    /// The connector is out of order.
    Faulted,
    /// The station refused (e.g. no such connector, or outside its hours).
    Rejected,
}

/// A charging reservation and how the charge point took it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChargingReservation {
    pub reservation_id: Option<String>,
    pub status: ChargingReservationStatus,
    pub station_id: String,
    pub connector_id: Option<String>,
    pub from_ms: i64,
    pub until_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub reason: Option<String>,
}

impl From<core::ChargingReservation> for ChargingReservation {
    fn from(r: core::ChargingReservation) -> Self {
        ChargingReservation {
            reservation_id: r.reservation_id,
            status: match r.status {
                core::ChargingReservationStatus::Accepted => ChargingReservationStatus::Accepted,
                core::ChargingReservationStatus::Occupied => ChargingReservationStatus::Occupied,
                core::ChargingReservationStatus::Faulted => ChargingReservationStatus::Faulted,
                core::ChargingReservationStatus::Rejected => ChargingReservationStatus::Rejected,
            },
            station_id: r.station_id,
            connector_id: r.connector_id,
            from_ms: r.from_ms.signed(),
            until_ms: r.until_ms.signed(),
            expires_at_ms: r.expires_at_ms.signed(),
            reason: r.reason,
        }
    }
}

/// Why the host's link failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum VehicleLinkError {
    /// The link could not carry the exchange; `reason` says why.
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for VehicleLinkError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        VehicleLinkError::Failed { reason: e.reason }
    }
}

/// Implemented by the app: carries bytes to a car (over Bluetooth on a
/// phone) and the car's answer back. It only carries: the SDK builds,
/// signs and checks everything. Called on an SDK worker thread; blocking
/// is fine (the SDK gives up after 15 s). A failure or a throw is a lost
/// answer, which the SDK settles by asking the car.
#[uniffi::export(with_foreign)]
pub trait VehicleLink: Send + Sync {
    /// Sends `request` to the car `vehicle_id` at `address` and returns its
    /// answer, or fails.
    fn exchange(&self, vehicle_id: String, address: String, request: Vec<u8>) -> Result<Vec<u8>, VehicleLinkError>;
}

struct LinkBridge(Arc<dyn VehicleLink>);

impl core::VehicleLink for LinkBridge {
    fn exchange(
        &self,
        vehicle_id: String,
        address: String,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, core::VehicleLinkError> {
        self.0
            .exchange(vehicle_id, address, request)
            .map_err(|e| core::VehicleLinkError::new(e.to_string()))
    }
}

/// Renting cars: find, reserve, start, unlock, lock, end, charge.
#[derive(uniffi::Object)]
pub struct Rental {
    inner: core::Rental,
}

impl Rental {
    pub(crate) fn new(inner: core::Rental) -> Self {
        Rental { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Rental {
    /// Sets the host's link to cars (needed to start, unlock, lock, end).
    pub fn set_vehicle_link(&self, link: Option<Arc<dyn VehicleLink>>) {
        self.inner
            .set_vehicle_link(link.map(|l| Arc::new(LinkBridge(l)) as Arc<dyn core::VehicleLink>));
    }

    /// Available cars within `radius_km` of `near`, nearest first.
    pub async fn vehicles_near(&self, near: GeoLocation, radius_km: f64) -> Result<Vec<Vehicle>, EdgePointsError> {
        Ok(self
            .inner
            .vehicles_near(near.into(), radius_km)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One car, as the control plane knows it now.
    pub async fn vehicle(&self, vehicle_id: String) -> Result<Vehicle, EdgePointsError> {
        Ok(self.inner.vehicle(&vehicle_id).await?.into())
    }

    /// Every station, with its connectors.
    pub async fn stations(&self) -> Result<Vec<Station>, EdgePointsError> {
        Ok(self.inner.stations().await?.into_iter().map(Into::into).collect())
    }

    /// The rental on this device, from the store (no network).
    pub fn status(&self) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.status()?.into())
    }

    /// Reserves a car; `VehicleTaken` if another member has it.
    pub async fn reserve(&self, vehicle_id: String) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.reserve(&vehicle_id).await?.into())
    }

    /// Cancels the reservation before the start; the car is free again.
    pub async fn cancel(&self) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.cancel().await?.into())
    }

    /// Starts the reserved rental and unlocks the car through the link.
    pub async fn start(&self) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.start().await?.into())
    }

    /// Sends one command; a refusal is in the outcome, not thrown.
    pub async fn command(&self, command: VehicleCommand) -> Result<CommandOutcome, EdgePointsError> {
        Ok(self.inner.command(command.into()).await?.into())
    }

    /// Unlocks; a refusal throws `VehicleRefused`.
    pub async fn unlock(&self) -> Result<CommandOutcome, EdgePointsError> {
        Ok(self.inner.unlock().await?.into())
    }

    /// Locks (the rental goes on); a refusal throws `VehicleRefused`.
    pub async fn lock(&self) -> Result<CommandOutcome, EdgePointsError> {
        Ok(self.inner.lock().await?.into())
    }

    /// Locks and ends the rental at a station; `EndRefused` says why not.
    pub async fn end(&self) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.end().await?.into())
    }

    /// Takes the control plane's word (after a restart, say).
    pub async fn reconcile(&self) -> Result<RentalStatus, EdgePointsError> {
        Ok(self.inner.reconcile().await?.into())
    }

    /// Binds a member card: the car opens for it during the rental.
    pub async fn bind_card(&self, card_number: String) -> Result<MemberCardBound, EdgePointsError> {
        let bound = self.inner.bind_card(&card_number).await?;
        Ok(MemberCardBound {
            member_id: bound.member_id,
            card_hint: bound.card_hint,
            bound_at_ms: bound.bound_at_ms.signed(),
        })
    }

    /// Reserves a charging connector (any free one without `connector_id`).
    pub async fn reserve_charging(
        &self,
        station_id: String,
        connector_id: Option<String>,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<ChargingReservation, EdgePointsError> {
        Ok(self
            .inner
            .reserve_charging(
                &station_id,
                connector_id,
                unsigned("from_ms", from_ms)?,
                unsigned("until_ms", until_ms)?,
            )
            .await?
            .into())
    }
}
