//! Commands to the car: built and signed here with the device key, sent
//! through the host's link, and the car's signed answer checked against
//! the vehicle's key before anything is believed.
//!
//! A lost answer (the link failed, or what came back is not the car's
//! signed word on this command) is never a guess: the SDK asks the car, in
//! a signed status query, what became of the command's counter. Accepted
//! or refused, the car's word settles it; never received, the command is
//! sent again under a new counter (the old one can then never be taken).

use std::sync::Arc;

use edgepoints_protocol::envelope::decode_public_key;
use edgepoints_protocol::rental::command::{
    CommandFate, CommandKind, LinkRequest, Outcome, StatusQuery, VehicleAnswer, VehicleCommand, VehicleReading,
    COMMAND_LIFETIME_S,
};
use edgepoints_protocol::rental::credential::VehicleCredential;
use edgepoints_protocol::rental::vehicle_check::VehicleRefusal;
use edgepoints_protocol::rental::Vehicle;
use edgepoints_protocol::{Purpose, SignedEnvelope};

use super::link::{exchange, VehicleLink};
use super::machine;
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::Error;

/// What the car did with a command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub command: CommandKind,
    pub counter: u64,
    pub refusal: Option<VehicleRefusal>,
    pub reading: VehicleReading,
    /// The answer came from a status question after a lost answer.
    pub settled_by_status: bool,
    /// The car's signed answer, which the control plane checks.
    pub(crate) answer: SignedEnvelope,
}

impl CommandOutcome {
    pub fn accepted(&self) -> bool {
        self.refusal.is_none()
    }
}

/// Checks bytes from the link: the car's signature over an answer about
/// this vehicle and credential.
fn open_answer(vehicle: &Vehicle, serial: &str, bytes: &[u8]) -> Option<(SignedEnvelope, VehicleAnswer)> {
    let key = decode_public_key(&vehicle.vehicle_key).ok()?;
    let envelope: SignedEnvelope = serde_json::from_slice(bytes).ok()?;
    let answer: VehicleAnswer = envelope.open(Purpose::VehicleAnswer, &key).ok()?;
    (answer.vehicle_id == vehicle.vehicle_id && answer.serial.as_deref() == Some(serial)).then_some((envelope, answer))
}

fn address(vehicle: &Vehicle) -> Result<&str, Error> {
    vehicle
        .link
        .as_deref()
        .ok_or_else(|| Error::VehicleUnreachable(format!("the control plane gives no link for {}", vehicle.vehicle_id)))
}

pub(crate) fn serial(credential: &SignedEnvelope) -> Result<String, Error> {
    let payload = credential
        .unverified_payload()
        .map_err(|e| Error::Protocol(format!("credential: {e}")))?;
    serde_json::from_slice::<VehicleCredential>(&payload)
        .map(|c| c.serial)
        .map_err(|e| Error::Protocol(format!("credential: {e}")))
}

fn outcome(
    command: CommandKind,
    counter: u64,
    envelope: SignedEnvelope,
    answer: VehicleAnswer,
    by_status: bool,
) -> CommandOutcome {
    let refusal = match (&answer.about, &answer.outcome) {
        (Some(CommandFate::Refused { reason }), _) => Some(*reason),
        (_, Outcome::Refused { reason }) => Some(*reason),
        _ => None,
    };
    CommandOutcome {
        command,
        counter,
        refusal,
        reading: answer.reading,
        settled_by_status: by_status,
        answer: envelope,
    }
}

/// Asks the car what became of `counter` under `credential`: the car's
/// word on it, or `None` if it never received it.
pub(crate) async fn ask(
    shared: &Shared,
    link: Arc<dyn VehicleLink>,
    vehicle: &Vehicle,
    credential: &SignedEnvelope,
    command: CommandKind,
    counter: u64,
) -> Result<Option<CommandOutcome>, Error> {
    let serial = serial(credential)?;
    let nonce = crate::identity::new_nonce()?;
    let query = StatusQuery {
        vehicle_id: vehicle.vehicle_id.clone(),
        serial: serial.clone(),
        nonce: nonce.clone(),
        about_counter: Some(counter),
        expires_s: unix_millis() / 1000 + COMMAND_LIFETIME_S,
    };
    let request = LinkRequest::Status {
        credential: credential.clone(),
        query: shared.identity().sign(Purpose::VehicleStatusQuery, &query),
    };
    let bytes = exchange(link, &vehicle.vehicle_id, address(vehicle)?, request.to_bytes()).await?;
    let (envelope, answer) = open_answer(vehicle, &serial, &bytes)
        .filter(|(_, a)| a.nonce.as_deref() == Some(nonce.as_str()))
        .ok_or_else(|| Error::VehicleUnreachable("the car's status answer does not verify".into()))?;
    if let Outcome::Refused { reason } = answer.outcome {
        // The car will not talk under this credential at all (revoked,
        // expired): that is its word on every command.
        return Ok(Some(CommandOutcome {
            command,
            counter,
            refusal: Some(reason),
            reading: answer.reading,
            settled_by_status: true,
            answer: envelope,
        }));
    }
    match answer.about {
        Some(CommandFate::NotReceived) | None => Ok(None),
        Some(_) => Ok(Some(outcome(command, counter, envelope, answer, true))),
    }
}

/// Sends `command` under a new counter and settles its fate.
async fn send_once(
    shared: &Shared,
    link: Arc<dyn VehicleLink>,
    vehicle: &Vehicle,
    credential: &SignedEnvelope,
    command: CommandKind,
) -> Result<Option<CommandOutcome>, Error> {
    let serial = serial(credential)?;
    // Written before it travels: a counter is never used twice.
    let counter = shared.store().with(|c| {
        let tx = c.transaction()?;
        let counter = machine::begin_command(&tx, command)?;
        tx.commit()?;
        Ok(counter)
    })?;
    let signed = shared.identity().sign(
        Purpose::VehicleCommand,
        &VehicleCommand {
            vehicle_id: vehicle.vehicle_id.clone(),
            serial: serial.clone(),
            counter,
            command,
            expires_s: unix_millis() / 1000 + COMMAND_LIFETIME_S,
        },
    );
    let request = LinkRequest::Command {
        credential: credential.clone(),
        command: signed,
    };
    let sent = exchange(link.clone(), &vehicle.vehicle_id, address(vehicle)?, request.to_bytes()).await;
    let direct = sent
        .ok()
        .and_then(|bytes| open_answer(vehicle, &serial, &bytes))
        .filter(|(_, a)| a.counter == Some(counter) && (a.command == Some(command) || a.command.is_none()));
    let settled = match direct {
        Some((envelope, answer)) => Some(outcome(command, counter, envelope, answer, false)),
        None => {
            tracing::info!(vehicle_id = %vehicle.vehicle_id, counter, "command answer lost; asking the car");
            ask(shared, link, vehicle, credential, command, counter).await?
        }
    };
    if let Some(done) = &settled {
        let refusal = done.refusal.map(|r| r.as_str());
        shared.store().with(|c| machine::end_command(c, counter, refusal))?;
    } else {
        shared.store().with(|c| machine::end_command(c, counter, None))?;
    }
    Ok(settled)
}

/// Sends `command` until the car has its word on it: at most twice (a
/// second time only when the car said it never received the first).
pub(crate) async fn send(
    shared: &Shared,
    link: Arc<dyn VehicleLink>,
    vehicle: &Vehicle,
    credential: &SignedEnvelope,
    command: CommandKind,
) -> Result<CommandOutcome, Error> {
    for _ in 0..2 {
        if let Some(done) = send_once(shared, link.clone(), vehicle, credential, command).await? {
            return Ok(done);
        }
    }
    Err(Error::VehicleUnreachable(
        "the car received neither attempt of the command".into(),
    ))
}
