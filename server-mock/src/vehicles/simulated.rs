//! One simulated car: its endpoint, its checks, its state.
//!
//! - `POST /link`: bytes from the phone (a
//!   [`edgepoints_protocol::rental::command::LinkRequest`]), the signed
//!   answer back. With QA's `drop_answers` set, the car does what it was
//!   asked and the answer is lost (502, no body), as a Bluetooth link
//!   dropping after the write does.
//! - `POST /uplink`: the control plane's signed revocations.
//! - `GET /sim` and `POST /sim/…`: QA drives the car, opens doors, taps
//!   cards, moves its clock and sets faults.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::{SigningKey, VerifyingKey};
use edgepoints_protocol::rental::command::{
    CommandFate, CommandKind, LinkRequest, Outcome, StatusQuery, VehicleAnswer, VehicleCommand, VehicleReading,
    MAX_LINK_BYTES,
};
use edgepoints_protocol::rental::credential::VehicleCredential;
use edgepoints_protocol::rental::vehicle_check::{
    check_card, check_command, check_status_query, VehicleRefusal, VehicleTrust,
};
use edgepoints_protocol::{Location, Purpose, SignedEnvelope};
use serde::{Deserialize, Serialize};

use super::VehicleRevocation;
use crate::rental::VehicleRecord;

/// Fates kept per car for status questions.
const MAX_FATES: usize = 512;

struct CarState {
    locked: bool,
    doors_closed: bool,
    odometer_m: u64,
    battery_percent: u8,
    location: Location,
    clock_offset_s: i64,
    /// The highest counter accepted, per credential serial.
    counters: BTreeMap<String, u64>,
    /// What became of each recent command, with its kind.
    fates: BTreeMap<(String, u64), (CommandKind, CommandFate)>,
    revoked: BTreeSet<String>,
    /// The credential of the rental on the car: the last one a command
    /// was accepted under. Card taps are checked against it.
    active: Option<SignedEnvelope>,
    drop_answers: u32,
    honks: u32,
    accepted: u64,
    refused: BTreeMap<String, u64>,
}

/// A simulated car.
pub struct SimulatedVehicle {
    vehicle_id: String,
    key: SigningKey,
    control_plane_keys: Vec<(String, VerifyingKey)>,
    state: Mutex<CarState>,
}

/// What QA sees of a car.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CarView {
    pub vehicle_id: String,
    pub locked: bool,
    pub doors_closed: bool,
    pub odometer_m: u64,
    #[schema(maximum = 255)]
    pub battery_percent: u8,
    pub location: Location,
    pub clock_offset_s: i64,
    pub counters: BTreeMap<String, u64>,
    pub revoked: Vec<String>,
    pub active_serial: Option<String>,
    pub honks: u32,
    pub accepted: u64,
    /// Refusals by reason.
    pub refused: BTreeMap<String, u64>,
    pub drop_answers: u32,
}

/// A card held to the car's reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardTap {
    pub card_number: String,
}

/// What the reader did with a tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardTapped {
    pub outcome: Outcome,
    pub locked: bool,
}

fn unix_s() -> u64 {
    crate::state::unix_millis() / 1000
}

fn serial_of(credential: &SignedEnvelope) -> Option<String> {
    let payload = credential.unverified_payload().ok()?;
    serde_json::from_slice::<VehicleCredential>(&payload)
        .ok()
        .map(|c| c.serial)
}

impl SimulatedVehicle {
    pub(crate) fn new(
        record: &VehicleRecord,
        key: SigningKey,
        control_plane_keys: Vec<(String, VerifyingKey)>,
    ) -> Self {
        SimulatedVehicle {
            vehicle_id: record.vehicle_id.clone(),
            key,
            control_plane_keys,
            state: Mutex::new(CarState {
                locked: true,
                doors_closed: true,
                odometer_m: record.odometer_m,
                battery_percent: record.battery_percent,
                location: record.location,
                clock_offset_s: 0,
                counters: BTreeMap::new(),
                fates: BTreeMap::new(),
                revoked: BTreeSet::new(),
                active: None,
                drop_answers: 0,
                honks: 0,
                accepted: 0,
                refused: BTreeMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CarState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_s(state: &CarState) -> u64 {
        unix_s().saturating_add_signed(state.clock_offset_s)
    }

    fn reading(state: &CarState) -> VehicleReading {
        VehicleReading {
            locked: state.locked,
            doors_closed: state.doors_closed,
            odometer_m: state.odometer_m,
            battery_percent: state.battery_percent,
            location: state.location,
            at_s: Self::now_s(state),
        }
    }

    fn sign(&self, answer: &VehicleAnswer) -> SignedEnvelope {
        SignedEnvelope::sign(Purpose::VehicleAnswer, &self.vehicle_id, &self.key, answer)
    }

    fn count_refusal(state: &mut CarState, reason: VehicleRefusal) {
        *state.refused.entry(reason.as_str().to_owned()).or_default() += 1;
    }

    /// Handles one link request; the signed answer.
    pub fn handle_link(&self, bytes: &[u8]) -> SignedEnvelope {
        let mut state = self.state();
        let refused = |state: &mut CarState, reason, serial, counter, nonce| {
            Self::count_refusal(state, reason);
            VehicleAnswer {
                vehicle_id: self.vehicle_id.clone(),
                serial,
                counter,
                nonce,
                command: None,
                outcome: Outcome::Refused { reason },
                about: None,
                last_counter: 0,
                reading: Self::reading(state),
            }
        };
        let request = match serde_json::from_slice::<LinkRequest>(bytes) {
            Ok(request) if bytes.len() <= MAX_LINK_BYTES => request,
            _ => return self.sign(&refused(&mut state, VehicleRefusal::Malformed, None, None, None)),
        };
        let now_s = Self::now_s(&state);
        let revoked = state.revoked.clone();
        let is_revoked = move |serial: &str| revoked.contains(serial);
        let trust = VehicleTrust {
            vehicle_id: &self.vehicle_id,
            control_plane_keys: &self.control_plane_keys,
            now_s,
            is_revoked: &is_revoked,
        };
        let answer = match request {
            LinkRequest::Command { credential, command } => {
                let claimed: Option<VehicleCommand> = command
                    .unverified_payload()
                    .ok()
                    .and_then(|p| serde_json::from_slice(&p).ok());
                let counters = state.counters.clone();
                match check_command(&trust, &credential, &command, |serial| {
                    counters.get(serial).copied().unwrap_or(0)
                }) {
                    Err(reason) => {
                        let mut answer = refused(
                            &mut state,
                            reason,
                            serial_of(&credential),
                            claimed.as_ref().map(|c| c.counter),
                            None,
                        );
                        answer.command = claimed.as_ref().map(|c| c.command);
                        // A refusal of a well-signed command is its fate too.
                        if !matches!(reason, VehicleRefusal::ReplayedCounter | VehicleRefusal::BadSignature) {
                            if let (Some(serial), Some(claimed)) = (&answer.serial, &claimed) {
                                state.fates.insert(
                                    (serial.clone(), claimed.counter),
                                    (claimed.command, CommandFate::Refused { reason }),
                                );
                            }
                        }
                        answer.last_counter = answer
                            .serial
                            .as_ref()
                            .and_then(|s| state.counters.get(s).copied())
                            .unwrap_or(0);
                        answer
                    }
                    Ok((checked, command)) => self.execute(&mut state, &credential, &checked, &command),
                }
            }
            LinkRequest::Status { credential, query } => {
                let claimed: Option<StatusQuery> = query
                    .unverified_payload()
                    .ok()
                    .and_then(|p| serde_json::from_slice(&p).ok());
                match check_status_query(&trust, &credential, &query) {
                    Err(reason) => refused(
                        &mut state,
                        reason,
                        serial_of(&credential),
                        None,
                        claimed.map(|q| q.nonce),
                    ),
                    Ok((checked, query)) => {
                        let last_counter = state.counters.get(&checked.serial).copied().unwrap_or(0);
                        let known = query
                            .about_counter
                            .and_then(|counter| state.fates.get(&(checked.serial.clone(), counter)).cloned());
                        let about = query.about_counter.map(|_| {
                            known
                                .as_ref()
                                .map_or(CommandFate::NotReceived, |(_, fate)| fate.clone())
                        });
                        VehicleAnswer {
                            vehicle_id: self.vehicle_id.clone(),
                            serial: Some(checked.serial),
                            counter: query.about_counter,
                            nonce: Some(query.nonce),
                            command: known.map(|(kind, _)| kind),
                            outcome: Outcome::Accepted,
                            about,
                            last_counter,
                            reading: Self::reading(&state),
                        }
                    }
                }
            }
        };
        self.sign(&answer)
    }

    fn execute(
        &self,
        state: &mut CarState,
        envelope: &SignedEnvelope,
        credential: &VehicleCredential,
        command: &VehicleCommand,
    ) -> VehicleAnswer {
        // The counter is used whether or not the car can do it: a command
        // that was checked is never taken again.
        state.counters.insert(credential.serial.clone(), command.counter);
        let outcome = match command.command {
            CommandKind::Unlock => {
                state.locked = false;
                Outcome::Accepted
            }
            CommandKind::Lock if !state.doors_closed => Outcome::Refused {
                reason: VehicleRefusal::DoorsOpen,
            },
            CommandKind::Lock => {
                state.locked = true;
                Outcome::Accepted
            }
            CommandKind::Honk => {
                state.honks += 1;
                Outcome::Accepted
            }
            CommandKind::Immobilise => Outcome::Refused {
                reason: VehicleRefusal::CommandNotAllowed,
            },
        };
        match &outcome {
            Outcome::Accepted => {
                state.accepted += 1;
                state.active = Some(envelope.clone());
            }
            Outcome::Refused { reason } => Self::count_refusal(state, *reason),
        }
        let fate = match &outcome {
            Outcome::Accepted => CommandFate::Accepted,
            Outcome::Refused { reason } => CommandFate::Refused { reason: *reason },
        };
        state
            .fates
            .insert((credential.serial.clone(), command.counter), (command.command, fate));
        while state.fates.len() > MAX_FATES {
            let oldest = state.fates.keys().next().cloned().expect("not empty");
            state.fates.remove(&oldest);
        }
        VehicleAnswer {
            vehicle_id: self.vehicle_id.clone(),
            serial: Some(credential.serial.clone()),
            counter: Some(command.counter),
            nonce: None,
            command: Some(command.command),
            outcome,
            about: None,
            last_counter: command.counter,
            reading: Self::reading(state),
        }
    }

    /// The control plane's revocations, checked against its key.
    pub fn revoke(&self, envelope: &SignedEnvelope) -> Result<usize, VehicleRefusal> {
        let key = self
            .control_plane_keys
            .iter()
            .find(|(id, _)| *id == envelope.key_id)
            .map(|(_, key)| key)
            .ok_or(VehicleRefusal::BadSignature)?;
        let revocation: VehicleRevocation = envelope
            .open(Purpose::VehicleRevocation, key)
            .map_err(|_| VehicleRefusal::BadSignature)?;
        if revocation.vehicle_id != self.vehicle_id {
            return Err(VehicleRefusal::WrongVehicle);
        }
        let mut state = self.state();
        let count = revocation.serials.len();
        for serial in revocation.serials {
            if state.active.as_ref().and_then(serial_of).as_deref() == Some(serial.as_str()) {
                state.active = None;
            }
            state.revoked.insert(serial);
        }
        Ok(count)
    }

    /// A card at the reader: opens or locks the car for the bound card of
    /// the rental on it, offline.
    pub fn tap(&self, card_number: &str) -> CardTapped {
        let mut state = self.state();
        let revoked = state.revoked.clone();
        let is_revoked = move |serial: &str| revoked.contains(serial);
        let trust = VehicleTrust {
            vehicle_id: &self.vehicle_id,
            control_plane_keys: &self.control_plane_keys,
            now_s: Self::now_s(&state),
            is_revoked: &is_revoked,
        };
        let outcome = match check_card(&trust, state.active.as_ref(), card_number) {
            Err(reason) => Outcome::Refused { reason },
            Ok(_) if !state.locked => {
                if state.doors_closed {
                    state.locked = true;
                    Outcome::Accepted
                } else {
                    Outcome::Refused {
                        reason: VehicleRefusal::DoorsOpen,
                    }
                }
            }
            Ok(_) => {
                state.locked = false;
                Outcome::Accepted
            }
        };
        match &outcome {
            Outcome::Accepted => state.accepted += 1,
            Outcome::Refused { reason } => Self::count_refusal(&mut state, *reason),
        }
        CardTapped {
            outcome,
            locked: state.locked,
        }
    }

    pub fn view(&self) -> CarView {
        let state = self.state();
        CarView {
            vehicle_id: self.vehicle_id.clone(),
            locked: state.locked,
            doors_closed: state.doors_closed,
            odometer_m: state.odometer_m,
            battery_percent: state.battery_percent,
            location: state.location,
            clock_offset_s: state.clock_offset_s,
            counters: state.counters.clone(),
            revoked: state.revoked.iter().cloned().collect(),
            active_serial: state.active.as_ref().and_then(serial_of),
            honks: state.honks,
            accepted: state.accepted,
            refused: state.refused.clone(),
            drop_answers: state.drop_answers,
        }
    }

    /// Drives to `to`: the odometer grows by the distance (or `km`), the
    /// battery falls by `battery_used_percent` (or 1 per 5 km). A locked
    /// car does not drive.
    pub fn drive(&self, drive: &Drive) -> Result<CarView, &'static str> {
        {
            let mut state = self.state();
            if state.locked {
                return Err("the car is locked");
            }
            if !drive.to.is_valid() {
                return Err("not a place on Earth");
            }
            let km = drive.km.unwrap_or_else(|| state.location.distance_km(drive.to));
            if !(0.0..=2000.0).contains(&km) {
                return Err("a drive is 0 to 2000 km");
            }
            let used = drive.battery_used_percent.unwrap_or((km / 5.0).ceil() as u8);
            state.odometer_m += (km * 1000.0).round() as u64;
            state.battery_percent = state.battery_percent.saturating_sub(used);
            state.location = drive.to;
        }
        Ok(self.view())
    }

    pub fn set_doors(&self, closed: bool) {
        self.state().doors_closed = closed;
    }

    pub fn advance_clock(&self, by_s: i64) {
        let mut state = self.state();
        state.clock_offset_s = state.clock_offset_s.saturating_add(by_s);
    }

    /// The next `count` answers are lost after the car acted.
    pub fn drop_answers(&self, count: u32) {
        self.state().drop_answers = count;
    }

    fn take_drop(&self) -> bool {
        let mut state = self.state();
        if state.drop_answers > 0 {
            state.drop_answers -= 1;
            true
        } else {
            false
        }
    }
}

/// QA drives a car.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drive {
    pub to: Location,
    #[serde(default)]
    pub km: Option<f64>,
    #[serde(default)]
    #[schema(maximum = 255)]
    pub battery_used_percent: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
struct Doors {
    closed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
struct ClockMove {
    advance_s: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
struct Faults {
    drop_answers: u32,
}

fn refusal(status: StatusCode, reason: &str) -> Response {
    (status, Json(serde_json::json!({ "error": reason }))).into_response()
}

async fn link(State(car): State<Arc<SimulatedVehicle>>, body: Bytes) -> Response {
    let answer = car.handle_link(&body);
    if car.take_drop() {
        tracing::info!(vehicle_id = %car.vehicle_id, "vehicle answer lost (QA)");
        return StatusCode::BAD_GATEWAY.into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&answer).expect("answers serialise"),
    )
        .into_response()
}

async fn uplink(State(car): State<Arc<SimulatedVehicle>>, body: Bytes) -> Response {
    let Ok(envelope) = serde_json::from_slice::<SignedEnvelope>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "malformed");
    };
    match car.revoke(&envelope) {
        Ok(count) => Json(serde_json::json!({ "revoked": count })).into_response(),
        Err(reason) => refusal(StatusCode::FORBIDDEN, reason.as_str()),
    }
}

pub(super) fn router(car: Arc<SimulatedVehicle>) -> Router {
    Router::new()
        .route("/link", post(link))
        .route("/uplink", post(uplink))
        .route(
            "/sim",
            get(|State(car): State<Arc<SimulatedVehicle>>| async move { Json(car.view()) }),
        )
        .route(
            "/sim/drive",
            post(
                |State(car): State<Arc<SimulatedVehicle>>, Json(drive): Json<Drive>| async move {
                    match car.drive(&drive) {
                        Ok(view) => Json(view).into_response(),
                        Err(why) => refusal(StatusCode::CONFLICT, why),
                    }
                },
            ),
        )
        .route(
            "/sim/doors",
            post(
                |State(car): State<Arc<SimulatedVehicle>>, Json(doors): Json<Doors>| async move {
                    car.set_doors(doors.closed);
                    Json(car.view())
                },
            ),
        )
        .route(
            "/sim/card-tap",
            post(
                |State(car): State<Arc<SimulatedVehicle>>, Json(tap): Json<CardTap>| async move {
                    Json(car.tap(&tap.card_number))
                },
            ),
        )
        .route(
            "/sim/clock",
            post(
                |State(car): State<Arc<SimulatedVehicle>>, Json(clock): Json<ClockMove>| async move {
                    car.advance_clock(clock.advance_s);
                    Json(car.view())
                },
            ),
        )
        .route(
            "/sim/faults",
            post(
                |State(car): State<Arc<SimulatedVehicle>>, Json(faults): Json<Faults>| async move {
                    car.drop_answers(faults.drop_answers);
                    Json(car.view())
                },
            ),
        )
        .with_state(car)
}
