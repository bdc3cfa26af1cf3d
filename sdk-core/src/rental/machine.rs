//! The rental as a persisted state machine.
//!
//! ```text
//! idle → reserved → starting → running → ending → closed
//!           ↘ cancelled, expired
//! ```
//!
//! The phase, the control plane's last word on the rental, the credential,
//! the next command counter and what is in flight (a step in the outbox, a
//! command on the link) are one row, changed in one transaction before a
//! call and again after it. An app killed anywhere finds the row as it
//! was at restart: the outbox sends the step it left (with the same
//! idempotency key) and applies its answer; a command whose answer was
//! lost is asked about ([`super::Rental::reconcile`]). The control plane is
//! the authority: reconciling takes its state.
//!
//! A step not allowed in the phase is [`Error::RentalState`] and changes
//! nothing.

use edgepoints_protocol::rental::command::CommandKind;
use edgepoints_protocol::rental::{Rental as ServerRental, RentalState, Vehicle};
use edgepoints_protocol::{Problem, ProblemCode, SignedEnvelope};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::events::Event;
use crate::time::unix_millis;
use crate::{Error, StoreError};

/// Where the member's rental stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RentalPhase {
    /// No rental (or a reservation on its way).
    Idle,
    Reserved,
    /// Started: the credential is issued (or on its way), the car has not
    /// confirmed yet.
    Starting,
    Running,
    /// Locked for the end; the control plane has not closed it yet.
    Ending,
    Closed,
    Cancelled,
    Expired,
}

impl RentalPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RentalPhase::Idle => "idle",
            RentalPhase::Reserved => "reserved",
            RentalPhase::Starting => "starting",
            RentalPhase::Running => "running",
            RentalPhase::Ending => "ending",
            RentalPhase::Closed => "closed",
            RentalPhase::Cancelled => "cancelled",
            RentalPhase::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "idle" => RentalPhase::Idle,
            "reserved" => RentalPhase::Reserved,
            "starting" => RentalPhase::Starting,
            "running" => RentalPhase::Running,
            "ending" => RentalPhase::Ending,
            "closed" => RentalPhase::Closed,
            "cancelled" => RentalPhase::Cancelled,
            "expired" => RentalPhase::Expired,
            other => return Err(StoreError::Corrupt(format!("rental phase `{other}`"))),
        })
    }

    /// Closed, cancelled or expired: a new reservation may come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RentalPhase::Closed | RentalPhase::Cancelled | RentalPhase::Expired
        )
    }

    /// The phase the control plane's state means.
    pub(crate) fn of(state: RentalState) -> Self {
        match state {
            RentalState::Reserved => RentalPhase::Reserved,
            RentalState::Starting => RentalPhase::Starting,
            RentalState::Running => RentalPhase::Running,
            RentalState::Ended => RentalPhase::Closed,
            RentalState::Cancelled => RentalPhase::Cancelled,
            RentalState::Expired => RentalPhase::Expired,
        }
    }
}

/// What the SDK sends the control plane for a rental.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Reserve,
    Cancel,
    Start,
    Confirm,
    End,
}

impl Step {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::Cancel => "cancel",
            Step::Start => "start",
            Step::Confirm => "confirm",
            Step::End => "end",
        }
    }

    fn parse(text: &str) -> Option<Step> {
        [Step::Reserve, Step::Cancel, Step::Start, Step::Confirm, Step::End]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// The phases the step may be taken from, and the phase it puts the
    /// rental in while it is on its way.
    fn rule(self) -> (&'static [RentalPhase], RentalPhase) {
        use RentalPhase::*;
        match self {
            Step::Reserve => (&[Idle, Closed, Cancelled, Expired], Idle),
            Step::Cancel => (&[Reserved], Reserved),
            Step::Start => (&[Reserved], Starting),
            Step::Confirm => (&[Starting], Starting),
            Step::End => (&[Running, Ending], Ending),
        }
    }
}

/// A command sent to the car whose answer has not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInFlight {
    pub command: CommandKind,
    pub counter: u64,
}

/// The rental on this device, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RentalStatus {
    pub phase: RentalPhase,
    pub member_id: Option<String>,
    pub vehicle: Option<Vehicle>,
    /// The control plane's last word on it.
    pub rental: Option<ServerRental>,
    /// The step on its way to the control plane (`reserve`, `start`, …).
    pub pending_step: Option<String>,
    pub command_in_flight: Option<CommandInFlight>,
    /// Why the last step or command was refused, if it was.
    pub last_refusal: Option<String>,
}

impl RentalStatus {
    fn idle() -> Self {
        RentalStatus {
            phase: RentalPhase::Idle,
            member_id: None,
            vehicle: None,
            rental: None,
            pending_step: None,
            command_in_flight: None,
            last_refusal: None,
        }
    }
}

/// The stored row, with what the SDK keeps to itself.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub status: RentalStatus,
    pub credential: Option<SignedEnvelope>,
}

fn command_kind(text: &str) -> Option<CommandKind> {
    serde_json::from_value(Value::String(text.to_owned())).ok()
}

pub(crate) fn load(c: &rusqlite::Connection) -> Result<Option<Row>, StoreError> {
    let row = c
        .query_row(
            "SELECT phase, member_id, vehicle_json, rental_json, credential_json, next_counter,
                    command_kind, command_counter, pending_step, last_refusal
             FROM rental",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            },
        )
        .optional()?;
    let Some((phase, member_id, vehicle, rental, credential, _next_counter, kind, counter, pending, refusal)) = row
    else {
        return Ok(None);
    };
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("stored rental {what}: {e}"));
    Ok(Some(Row {
        status: RentalStatus {
            phase: RentalPhase::parse(&phase)?,
            member_id: Some(member_id),
            vehicle: Some(serde_json::from_str(&vehicle).map_err(|e| corrupt("vehicle", e))?),
            rental: rental
                .map(|r| serde_json::from_str(&r).map_err(|e| corrupt("record", e)))
                .transpose()?,
            pending_step: pending,
            command_in_flight: match (kind.as_deref().and_then(command_kind), counter) {
                (Some(command), Some(counter)) => Some(CommandInFlight {
                    command,
                    counter: counter as u64,
                }),
                _ => None,
            },
            last_refusal: refusal,
        },
        credential: credential
            .map(|c| serde_json::from_str(&c).map_err(|e| corrupt("credential", e)))
            .transpose()?,
    }))
}

pub(crate) fn status(c: &rusqlite::Connection) -> Result<RentalStatus, StoreError> {
    Ok(load(c)?.map(|r| r.status).unwrap_or_else(RentalStatus::idle))
}

/// Checks that `step` may be taken now: the row, if any, or the refusal.
pub(crate) fn check(c: &rusqlite::Connection, step: Step) -> Result<Result<Option<Row>, Error>, StoreError> {
    let row = load(c)?;
    let phase = row.as_ref().map_or(RentalPhase::Idle, |r| r.status.phase);
    let (from, _) = step.rule();
    let busy = row.as_ref().and_then(|r| r.status.pending_step.clone());
    if !from.contains(&phase) || busy.is_some() {
        return Ok(Err(Error::RentalState {
            phase: phase.as_str().to_owned(),
            action: match busy {
                Some(busy) => format!("{} while {busy} is on its way", step.as_str()),
                None => step.as_str().to_owned(),
            },
        }));
    }
    Ok(Ok(row))
}

/// Before a reservation is sent: a new row for `vehicle`, idle with the
/// reservation on its way.
pub(crate) fn begin_reserve(
    tx: &rusqlite::Transaction<'_>,
    member_id: &str,
    vehicle: &Vehicle,
    entry: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM rental", [])?;
    tx.execute(
        "INSERT INTO rental (singleton, phase, member_id, vehicle_id, vehicle_json, pending_step, pending_entry,
                             updated_at_ms)
         VALUES (1, 'idle', ?1, ?2, ?3, 'reserve', ?4, ?5)",
        params![
            member_id,
            vehicle.vehicle_id,
            serde_json::to_string(vehicle).expect("vehicles serialise"),
            entry,
            unix_millis() as i64
        ],
    )?;
    Ok(())
}

/// Before any other step is sent: the phase it puts the rental in, and
/// the step on its way.
pub(crate) fn begin_step(tx: &rusqlite::Transaction<'_>, step: Step, entry: i64) -> Result<(), StoreError> {
    let (_, during) = step.rule();
    tx.execute(
        "UPDATE rental SET phase = ?1, pending_step = ?2, pending_entry = ?3, last_refusal = NULL,
                           updated_at_ms = ?4",
        params![during.as_str(), step.as_str(), entry, unix_millis() as i64],
    )?;
    Ok(())
}

/// Takes the control plane's word on the rental: its state decides the
/// phase (an end on its way keeps `ending` until it is answered).
pub(crate) fn adopt(tx: &rusqlite::Transaction<'_>, rental: &ServerRental) -> Result<Option<Event>, StoreError> {
    let before = load(tx)?;
    let Some(before) = before else {
        return Ok(None);
    };
    let mut phase = RentalPhase::of(rental.state);
    if before.status.pending_step.as_deref() == Some(Step::End.as_str()) && phase == RentalPhase::Running {
        phase = RentalPhase::Ending;
    }
    let credential = rental
        .credential
        .as_ref()
        .map(|c| serde_json::to_string(c).expect("envelopes serialise"));
    tx.execute(
        "UPDATE rental SET phase = ?1, rental_id = ?2, rental_json = ?3,
                           credential_json = coalesce(?4, credential_json), updated_at_ms = ?5",
        params![
            phase.as_str(),
            rental.rental_id,
            serde_json::to_string(rental).expect("rentals serialise"),
            credential,
            unix_millis() as i64
        ],
    )?;
    Ok(
        (phase != before.status.phase || before.status.rental.as_ref() != Some(rental)).then(|| Event::RentalChanged {
            rental_id: rental.rental_id.clone(),
            phase,
        }),
    )
}

/// Applies a step's answer (outbox worker, in the transaction that marks
/// the entry done).
pub(crate) fn apply_answer(tx: &rusqlite::Transaction<'_>, context: &Value, body: &[u8]) -> Result<Vec<Event>, Error> {
    let rental: ServerRental =
        serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("rental answer: {e}")))?;
    tx.execute(
        "UPDATE rental SET pending_step = NULL, pending_entry = NULL WHERE pending_step = ?1",
        [context["step"].as_str().unwrap_or_default()],
    )
    .map_err(StoreError::from)?;
    Ok(adopt(tx, &rental)?.into_iter().collect())
}

/// A step refused for good (outbox worker): nothing is on its way any
/// more, the phase goes back to what the step left, and the reason is kept.
pub(crate) fn refused(tx: &rusqlite::Transaction<'_>, context: &Value, problem: &Problem) -> Result<(), StoreError> {
    let Some(step) = context["step"].as_str().and_then(Step::parse) else {
        return Ok(());
    };
    let back = match step {
        Step::Reserve => RentalPhase::Idle,
        Step::Cancel | Step::Start => RentalPhase::Reserved,
        Step::Confirm => RentalPhase::Starting,
        Step::End => RentalPhase::Running,
    };
    // A rental the control plane says is over is over here too; the next
    // reconcile brings its final state.
    let reason = problem
        .detail
        .clone()
        .unwrap_or_else(|| problem.code.as_str().to_owned());
    tx.execute(
        "UPDATE rental SET phase = ?1, pending_step = NULL, pending_entry = NULL, last_refusal = ?2,
                           updated_at_ms = ?3
         WHERE pending_step = ?4",
        params![back.as_str(), reason, unix_millis() as i64, step.as_str()],
    )?;
    if step == Step::Reserve && problem.code != ProblemCode::Unknown {
        tracing::info!(code = problem.code.as_str(), "reservation refused");
    }
    Ok(())
}

/// Before a command is sent: its counter, taken from the row, and the
/// command marked in flight. Counters are never used twice, even across a
/// crash: the next one is written before this one travels.
pub(crate) fn begin_command(tx: &rusqlite::Transaction<'_>, command: CommandKind) -> Result<u64, StoreError> {
    let counter: i64 = tx.query_row("SELECT next_counter FROM rental", [], |r| r.get(0))?;
    tx.execute(
        "UPDATE rental SET next_counter = ?1, command_kind = ?2, command_counter = ?3, updated_at_ms = ?4",
        params![counter + 1, command.as_str(), counter, unix_millis() as i64],
    )?;
    Ok(counter as u64)
}

/// The car answered the command (or a status question settled it).
pub(crate) fn end_command(c: &rusqlite::Connection, counter: u64, refusal: Option<&str>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE rental SET command_kind = NULL, command_counter = NULL, last_refusal = ?2, updated_at_ms = ?3
         WHERE command_counter = ?1",
        params![counter as i64, refusal, unix_millis() as i64],
    )?;
    Ok(())
}
