//! Rental of electric cars, for a logged-in member: find cars, reserve
//! one, start (the control plane issues a credential; the car checks it
//! offline), unlock and lock through the host's link to the car, end at a
//! station, bind a member card, reserve a charging connector.
//!
//! - Steps on the control plane (reserve, cancel, start, confirm, end) go
//!   through the outbox, so a lost answer is replayed, never applied
//!   twice, and a step outlives a killed app; the call waits for the
//!   answer as a direct call would.
//! - Commands to the car are signed here with the device key, carry a
//!   counter written to the store before they travel, and are settled by
//!   the car's signed word — asked for when an answer is lost.
//! - The rental's phase is a persisted state machine ([`machine`]); the
//!   control plane is the authority, and [`Rental::reconcile`] takes its
//!   word.

mod commands;
mod link;
pub(crate) mod machine;

use std::sync::Arc;

use edgepoints_protocol::paths::{self, templates};
use edgepoints_protocol::rental::command::CommandKind;
use edgepoints_protocol::rental::{
    ChargingRequest, ChargingReservation, MemberCardBinding, MemberCardBound, Rental as ServerRental, RentalStep,
    ReserveVehicle, Station, StepKind, Vehicle, MAX_SEARCH_RADIUS_KM,
};
use edgepoints_protocol::{Location, ProblemCode, Purpose, SignedEnvelope};
use reqwest::Method;
use serde_json::json;

pub use commands::CommandOutcome;
pub use link::{VehicleLink, VehicleLinkError};
use machine::Step;
pub use machine::{CommandInFlight, RentalPhase, RentalStatus};

use crate::coupons::customer::public_get;
use crate::edgepoints::EdgePoints;
use crate::members::session;
use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
use crate::Error;

/// The typed error for a rental refusal.
fn rental_error(error: Error) -> Error {
    let Error::Rejected { problem, .. } = &error else {
        return error;
    };
    let detail = problem.detail.clone().unwrap_or_default();
    match problem.code {
        ProblemCode::VehicleTaken => Error::VehicleTaken,
        ProblemCode::AlreadyRenting => Error::AlreadyRenting { rental_id: detail },
        ProblemCode::EndRefused => Error::EndRefused { reason: detail },
        ProblemCode::RentalState => Error::RentalState {
            phase: detail.trim_start_matches("the rental is ").to_owned(),
            action: "that step (the control plane refused it)".into(),
        },
        ProblemCode::MalformedRequest => Error::InvalidInput(if detail.is_empty() {
            problem.title.clone()
        } else {
            detail
        }),
        _ => error,
    }
}

/// Renting cars. Obtained from [`EdgePoints::rental`].
#[derive(Clone)]
pub struct Rental {
    sdk: EdgePoints,
}

impl Rental {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Rental { sdk }
    }

    fn shared(&self) -> &Shared {
        self.sdk.shared()
    }

    /// The host's link to cars (Bluetooth on a phone); needed to start,
    /// unlock, lock and end. Replaces the one set before.
    pub fn set_vehicle_link(&self, link: Option<Arc<dyn VehicleLink>>) {
        *self.shared().vehicle_link().lock().unwrap_or_else(|p| p.into_inner()) = link;
    }

    fn link(&self) -> Result<Arc<dyn VehicleLink>, Error> {
        self.shared()
            .vehicle_link()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(Error::NoVehicleLink)
    }

    /// Available cars within `radius_km` of `near`, nearest first.
    pub async fn vehicles_near(&self, near: Location, radius_km: f64) -> Result<Vec<Vehicle>, Error> {
        if !(near.is_valid() && radius_km > 0.0 && radius_km <= MAX_SEARCH_RADIUS_KM) {
            return Err(Error::InvalidInput(format!(
                "a search needs a valid point and a radius above 0 and at most {MAX_SEARCH_RADIUS_KM} km"
            )));
        }
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), paths::vehicles_near(near, radius_km)).await })
            .await
    }

    /// One car, whatever its state.
    pub async fn vehicle(&self, vehicle_id: &str) -> Result<Vehicle, Error> {
        let sdk = self.sdk.clone();
        let path = paths::vehicle(vehicle_id);
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), path).await })
            .await
    }

    /// Every station, with its connectors.
    pub async fn stations(&self) -> Result<Vec<Station>, Error> {
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), paths::STATIONS.to_owned()).await })
            .await
    }

    pub async fn station(&self, station_id: &str) -> Result<Station, Error> {
        let sdk = self.sdk.clone();
        let path = paths::station(station_id);
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), path).await })
            .await
    }

    /// The rental on this device, from the store (no network).
    pub fn status(&self) -> Result<RentalStatus, Error> {
        self.shared().ensure_open()?;
        Ok(self.shared().store().with(|c| machine::status(c))?)
    }

    /// Reserves `vehicle_id` for the logged-in member (held 15 minutes
    /// unless started). [`Error::VehicleTaken`] if another member has it,
    /// [`Error::AlreadyRenting`] if this member has a rental in progress.
    pub async fn reserve(&self, vehicle_id: &str) -> Result<RentalStatus, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let stored = session::live(shared)?;
        let vehicle = self.vehicle(vehicle_id).await?;
        let payload = ReserveVehicle {
            device_id: shared.identity().device_id().clone(),
            session_key: stored.key.clone(),
            vehicle_id: vehicle_id.to_owned(),
        };
        let envelope = shared.identity().sign(Purpose::RentalReserve, &payload);
        let id = shared.store().with(|c| {
            let tx = c.transaction()?;
            if let Err(refused) = machine::check(&tx, Step::Reserve)? {
                return Ok(Err(refused));
            }
            let (id, _) = outbox::enqueue(
                &tx,
                NewEntry {
                    kind: EntryKind::RentalStep,
                    method: Method::POST,
                    path: paths::device_reservations(shared.identity().device_id().as_str()),
                    body: serde_json::to_vec(&envelope).expect("envelopes serialise"),
                    context: json!({ "step": Step::Reserve.as_str() }),
                    idempotency_key: None,
                },
            )?;
            machine::begin_reserve(&tx, &stored.session.member_id, &vehicle, id)?;
            tx.commit()?;
            Ok(Ok(id))
        })??;
        self.wait_step(id).await
    }

    /// Sends `step` for the rental (through the outbox) and waits for it.
    async fn step(&self, step: Step, vehicle_answer: Option<SignedEnvelope>) -> Result<RentalStatus, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let stored = session::live(shared)?;
        let device_id = shared.identity().device_id().as_str().to_owned();
        let id = shared.store().with(|c| {
            let tx = c.transaction()?;
            let row = match machine::check(&tx, step)? {
                Ok(row) => row,
                Err(refused) => return Ok(Err(refused)),
            };
            let Some(rental_id) = row.and_then(|r| r.status.rental.map(|r| r.rental_id)) else {
                return Ok(Err(Error::RentalState {
                    phase: "idle".into(),
                    action: step.as_str().into(),
                }));
            };
            let (kind, template) = match step {
                Step::Cancel => (StepKind::Cancel, templates::DEVICE_RENTAL_CANCEL),
                Step::Start => (StepKind::Start, templates::DEVICE_RENTAL_START),
                Step::Confirm => (StepKind::Confirm, templates::DEVICE_RENTAL_CONFIRM),
                Step::End => (StepKind::End, templates::DEVICE_RENTAL_END),
                Step::Reserve => unreachable!("reservations have their own call"),
            };
            let payload = RentalStep {
                device_id: shared.identity().device_id().clone(),
                session_key: stored.key.clone(),
                rental_id: rental_id.clone(),
                step: kind,
                vehicle_answer: vehicle_answer.clone(),
            };
            let envelope = shared.identity().sign(Purpose::RentalStep, &payload);
            let (id, _) = outbox::enqueue(
                &tx,
                NewEntry {
                    kind: EntryKind::RentalStep,
                    method: Method::POST,
                    path: paths::device_rental_step(template, &device_id, &rental_id),
                    body: serde_json::to_vec(&envelope).expect("envelopes serialise"),
                    context: json!({ "step": step.as_str(), "rental_id": rental_id }),
                    idempotency_key: None,
                },
            )?;
            machine::begin_step(&tx, step, id)?;
            tx.commit()?;
            Ok(Ok(id))
        })??;
        self.wait_step(id).await
    }

    async fn wait_step(&self, id: i64) -> Result<RentalStatus, Error> {
        self.shared().outbox_wake().notify_one();
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                match outbox::wait(shared, id).await {
                    Ok(_) => Ok(shared.store().with(|c| machine::status(c))?),
                    Err(error) if session::is_session_expired(&error) => {
                        let stored = session::live(shared)?;
                        Err(session::expired(shared, &stored)?)
                    }
                    Err(error) => Err(rental_error(error)),
                }
            })
            .await
    }

    /// Cancels the reservation.
    pub async fn cancel(&self) -> Result<RentalStatus, Error> {
        self.step(Step::Cancel, None).await
    }

    /// Starts the reserved rental: the control plane issues the credential
    /// for this device, the car is unlocked through the link, and the car's
    /// answer confirms the start (running). Picks up where it stopped: a
    /// rental starting already goes on to the unlock.
    pub async fn start(&self) -> Result<RentalStatus, Error> {
        let phase = self.status()?.phase;
        if !matches!(phase, RentalPhase::Reserved | RentalPhase::Starting) {
            return Err(Error::RentalState {
                phase: phase.as_str().into(),
                action: "start".into(),
            });
        }
        let link = self.link()?;
        if phase == RentalPhase::Reserved {
            self.step(Step::Start, None).await?;
        }
        self.unlock_with(link).await?;
        self.status()
    }

    /// Unlocks the car (while starting, this also confirms the start).
    pub async fn unlock(&self) -> Result<CommandOutcome, Error> {
        let link = self.link()?;
        self.unlock_with(link).await
    }

    async fn unlock_with(&self, link: Arc<dyn VehicleLink>) -> Result<CommandOutcome, Error> {
        let outcome = self.command_with(link, CommandKind::Unlock).await?;
        if let Some(reason) = outcome.refusal {
            return Err(Error::VehicleRefused { reason });
        }
        if self.status()?.phase == RentalPhase::Starting {
            self.step(Step::Confirm, Some(outcome.answer.clone())).await?;
        }
        Ok(outcome)
    }

    /// Locks the car (without ending the rental).
    pub async fn lock(&self) -> Result<CommandOutcome, Error> {
        let outcome = self.command(CommandKind::Lock).await?;
        match outcome.refusal {
            Some(reason) => Err(Error::VehicleRefused { reason }),
            None => Ok(outcome),
        }
    }

    /// Sounds the horn, to find the car.
    pub async fn honk(&self) -> Result<CommandOutcome, Error> {
        let outcome = self.command(CommandKind::Honk).await?;
        match outcome.refusal {
            Some(reason) => Err(Error::VehicleRefused { reason }),
            None => Ok(outcome),
        }
    }

    /// Sends one command to the car as it is: the outcome, refusals
    /// included (a refused command is the car's answer, not an error).
    pub async fn command(&self, command: CommandKind) -> Result<CommandOutcome, Error> {
        let link = self.link()?;
        self.command_with(link, command).await
    }

    async fn command_with(&self, link: Arc<dyn VehicleLink>, command: CommandKind) -> Result<CommandOutcome, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let row = shared.store().with(|c| machine::load(c))?;
        let Some(row) = row else {
            return Err(Error::RentalState {
                phase: "idle".into(),
                action: command.as_str().into(),
            });
        };
        let allowed = matches!(
            (row.status.phase, command),
            (RentalPhase::Starting, CommandKind::Unlock)
                | (RentalPhase::Running, _)
                | (RentalPhase::Ending, CommandKind::Lock)
        );
        let (Some(credential), Some(vehicle), true) = (row.credential, row.status.vehicle, allowed) else {
            return Err(Error::RentalState {
                phase: row.status.phase.as_str().into(),
                action: command.as_str().into(),
            });
        };
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { commands::send(sdk.shared(), link, &vehicle, &credential, command).await })
            .await
    }

    /// Ends the rental: locks the car through the link, and the control
    /// plane checks the car's signed reading (locked, doors closed, at a
    /// station) and closes and bills it. [`Error::EndRefused`] says which
    /// criterion failed; the rental keeps running.
    pub async fn end(&self) -> Result<RentalStatus, Error> {
        let phase = self.status()?.phase;
        if !matches!(phase, RentalPhase::Running | RentalPhase::Ending) {
            return Err(Error::RentalState {
                phase: phase.as_str().into(),
                action: "end".into(),
            });
        }
        let link = self.link()?;
        let outcome = self.command_with(link, CommandKind::Lock).await?;
        if let Some(reason) = outcome.refusal {
            return Err(Error::VehicleRefused { reason });
        }
        self.step(Step::End, Some(outcome.answer)).await
    }

    /// Takes the control plane's word on the rental (it is the
    /// authority), after settling a command whose answer was lost by
    /// asking the car, if a link is set. What the SDK does after a restart.
    pub async fn reconcile(&self) -> Result<RentalStatus, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let Some(row) = shared.store().with(|c| machine::load(c))? else {
            return self.status();
        };
        let link = self.link().ok();
        if let (Some(flight), Some(credential), Some(vehicle), Some(link)) = (
            row.status.command_in_flight,
            row.credential.clone(),
            row.status.vehicle.clone(),
            link,
        ) {
            let sdk = self.sdk.clone();
            let asked = self
                .sdk
                .on_runtime({
                    let (vehicle, credential) = (vehicle.clone(), credential.clone());
                    async move {
                        commands::ask(
                            sdk.shared(),
                            link,
                            &vehicle,
                            &credential,
                            flight.command,
                            flight.counter,
                        )
                        .await
                    }
                })
                .await?;
            let refusal = asked.as_ref().and_then(|o| o.refusal.map(|r| r.as_str()));
            shared
                .store()
                .with(|c| machine::end_command(c, flight.counter, refusal))?;
            if let Some(done) = asked {
                if done.accepted() && flight.command == CommandKind::Unlock && row.status.phase == RentalPhase::Starting
                {
                    self.step(Step::Confirm, Some(done.answer)).await?;
                }
            }
        }
        if let Some(rental_id) = row.status.rental.as_ref().map(|r| r.rental_id.clone()) {
            let sdk = self.sdk.clone();
            self.sdk
                .on_runtime(async move {
                    let shared = sdk.shared();
                    let path = paths::device_rental_step(
                        templates::DEVICE_RENTAL,
                        shared.identity().device_id().as_str(),
                        &rental_id,
                    );
                    let rental: ServerRental = session::member_get(shared, path).await.map_err(rental_error)?;
                    let event = shared.store().with(|c| {
                        let tx = c.transaction()?;
                        let event = machine::adopt(&tx, &rental)?;
                        tx.commit()?;
                        Ok(event)
                    })?;
                    if let Some(event) = event {
                        shared.events().emit(event);
                    }
                    Ok(())
                })
                .await?;
        }
        self.status()
    }

    /// Binds a member card to the account: the next credential carries its
    /// hash, so the car opens for it during the rental, offline.
    pub async fn bind_card(&self, card_number: &str) -> Result<MemberCardBound, Error> {
        edgepoints_protocol::rental::card::normalise_card_number(card_number)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let sdk = self.sdk.clone();
        let card_number = card_number.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let stored = session::live(shared)?;
                let payload = MemberCardBinding {
                    device_id: shared.identity().device_id().clone(),
                    session_key: stored.key.clone(),
                    card_number,
                };
                let body = member_post(
                    shared,
                    &stored,
                    Method::PUT,
                    Purpose::MemberCard,
                    paths::device_member_card(shared.identity().device_id().as_str()),
                    &payload,
                )
                .await?;
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("card answer: {e}")))
            })
            .await
    }

    /// Reserves a charging connector at `station_id` (any free one when
    /// `connector_id` is `None`) from `from_ms` to `until_ms`. The answer's
    /// status says how the charge point took it: `accepted`, `occupied`,
    /// `faulted` or `rejected` (with a reason); only a failure to ask is an
    /// error.
    pub async fn reserve_charging(
        &self,
        station_id: &str,
        connector_id: Option<String>,
        from_ms: u64,
        until_ms: u64,
    ) -> Result<ChargingReservation, Error> {
        let sdk = self.sdk.clone();
        let station_id = station_id.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let stored = session::live(shared)?;
                let payload = ChargingRequest {
                    device_id: shared.identity().device_id().clone(),
                    session_key: stored.key.clone(),
                    station_id,
                    connector_id,
                    from_ms,
                    until_ms,
                };
                let body = member_post(
                    shared,
                    &stored,
                    Method::POST,
                    Purpose::ChargingReservation,
                    paths::device_charging_reservations(shared.identity().device_id().as_str()),
                    &payload,
                )
                .await?;
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("charging answer: {e}")))
            })
            .await
    }
}

/// A direct signed member call (one idempotency key for its attempts), an
/// expired session noted as such.
async fn member_post<T: serde::Serialize>(
    shared: &Shared,
    stored: &session::StoredSession,
    method: Method,
    purpose: Purpose,
    path: String,
    payload: &T,
) -> Result<Vec<u8>, Error> {
    let envelope = shared.identity().sign(purpose, payload);
    let body = serde_json::to_vec(&envelope).expect("envelope serialises");
    let key = crate::identity::new_idempotency_key()?;
    let sent = crate::transport::retrying(shared, || crate::transport::Outgoing {
        method: method.clone(),
        path: path.clone(),
        body: Some(body.clone()),
        idempotency_key: Some(key.clone()),
        headers: Vec::new(),
    })
    .await;
    match sent {
        Err(error) if session::is_session_expired(&error) => Err(session::expired(shared, stored)?),
        other => other.map_err(rental_error),
    }
}

/// At open: takes the control plane's word on a rental in progress, in
/// the background (a command in flight waits for the host's link and an
/// explicit [`Rental::reconcile`]).
pub(crate) async fn resume(sdk: EdgePoints) {
    let in_progress = sdk
        .shared()
        .store()
        .with(|c| machine::status(c))
        .map(|s| s.rental.is_some() && !s.phase.is_final())
        .unwrap_or(false);
    if !in_progress {
        return;
    }
    if let Err(error) = Rental::new(sdk).reconcile().await {
        tracing::info!(%error, "rental not reconciled at open; the next call will");
    }
}
