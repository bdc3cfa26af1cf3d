//! What a car checks before it obeys, with no network: the credential
//! against the control-plane keys it was provisioned with, then the command
//! against the credential. Kept here, beside the formats, so the mock's
//! simulated cars and any real car firmware check the same way.
//!
//! The order of the checks is part of the protocol (a forged credential is
//! `bad_signature` whatever else is wrong with it):
//!
//! 1. the credential's signature, 2. its vehicle, 3. its serial against the
//!    revocation list, 4. its window (`not_yet_valid`, `expired`), 5. the
//!    command's signature by the credential's device key, 6. the command's
//!    vehicle and serial, 7. its own expiry, 8. whether the credential
//!    allows it, 9. its counter above the last the car accepted.
//!
//! The window allows [`CLOCK_TOLERANCE_S`] either way: a car's clock drifts.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::card::card_hash;
use super::command::{StatusQuery, VehicleCommand};
use super::credential::VehicleCredential;
use crate::envelope::decode_public_key;
use crate::{EnvelopeError, Purpose, SignedEnvelope};

/// How far the car's clock may be from the control plane's.
pub const CLOCK_TOLERANCE_S: u64 = 60;

/// Why a car refused, modelled on a vehicle access protocol's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VehicleRefusal {
    #[error("the credential or command is for another vehicle")]
    WrongVehicle,
    #[error("the credential or command has expired")]
    Expired,
    #[error("the credential is not valid yet")]
    NotYetValid,
    #[error("a signature does not verify")]
    BadSignature,
    #[error("the command's counter is not above the last one accepted")]
    ReplayedCounter,
    #[error("the credential does not allow this command")]
    CommandNotAllowed,
    #[error("the credential was revoked")]
    Revoked,
    #[error("the command names another credential")]
    CredentialMismatch,
    #[error("the request is not one the vehicle reads")]
    Malformed,
    #[error("the card is not the member's bound card")]
    WrongCard,
    #[error("no rental is active on this vehicle")]
    NoCredential,
    #[error("a door is open: the vehicle does not lock")]
    DoorsOpen,
}

impl VehicleRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleRefusal::WrongVehicle => "wrong_vehicle",
            VehicleRefusal::Expired => "expired",
            VehicleRefusal::NotYetValid => "not_yet_valid",
            VehicleRefusal::BadSignature => "bad_signature",
            VehicleRefusal::ReplayedCounter => "replayed_counter",
            VehicleRefusal::CommandNotAllowed => "command_not_allowed",
            VehicleRefusal::Revoked => "revoked",
            VehicleRefusal::CredentialMismatch => "credential_mismatch",
            VehicleRefusal::Malformed => "malformed",
            VehicleRefusal::WrongCard => "wrong_card",
            VehicleRefusal::NoCredential => "no_credential",
            VehicleRefusal::DoorsOpen => "doors_open",
        }
    }
}

/// What the car knows without the network.
pub struct VehicleTrust<'a> {
    pub vehicle_id: &'a str,
    /// The control-plane keys it was provisioned with, by key id.
    pub control_plane_keys: &'a [(String, VerifyingKey)],
    /// Unix seconds by the car's clock.
    pub now_s: u64,
    /// Whether a serial is on the car's revocation list.
    pub is_revoked: &'a dyn Fn(&str) -> bool,
}

fn signature_refusal(_: EnvelopeError) -> VehicleRefusal {
    VehicleRefusal::BadSignature
}

/// Checks 1–4: the credential, as the car would before anything else.
pub fn check_credential(
    trust: &VehicleTrust<'_>,
    credential: &SignedEnvelope,
) -> Result<VehicleCredential, VehicleRefusal> {
    let credential = VehicleCredential::open(credential, trust.control_plane_keys).map_err(signature_refusal)?;
    if credential.vehicle_id != trust.vehicle_id {
        return Err(VehicleRefusal::WrongVehicle);
    }
    if (trust.is_revoked)(&credential.serial) {
        return Err(VehicleRefusal::Revoked);
    }
    if trust.now_s + CLOCK_TOLERANCE_S < credential.not_before_s {
        return Err(VehicleRefusal::NotYetValid);
    }
    if trust.now_s > credential.expires_s + CLOCK_TOLERANCE_S {
        return Err(VehicleRefusal::Expired);
    }
    Ok(credential)
}

fn device_key(credential: &VehicleCredential) -> Result<VerifyingKey, VehicleRefusal> {
    decode_public_key(&credential.device_key).map_err(|_| VehicleRefusal::Malformed)
}

/// Checks 1–9 for a command; `last_counter` is the highest the car
/// accepted under the credential's serial (0 for none).
pub fn check_command(
    trust: &VehicleTrust<'_>,
    credential: &SignedEnvelope,
    command: &SignedEnvelope,
    last_counter: impl FnOnce(&str) -> u64,
) -> Result<(VehicleCredential, VehicleCommand), VehicleRefusal> {
    let credential = check_credential(trust, credential)?;
    let command: VehicleCommand = command
        .open(Purpose::VehicleCommand, &device_key(&credential)?)
        .map_err(signature_refusal)?;
    if command.vehicle_id != trust.vehicle_id {
        return Err(VehicleRefusal::WrongVehicle);
    }
    if command.serial != credential.serial {
        return Err(VehicleRefusal::CredentialMismatch);
    }
    if trust.now_s > command.expires_s + CLOCK_TOLERANCE_S {
        return Err(VehicleRefusal::Expired);
    }
    if !credential.allows(command.command) {
        return Err(VehicleRefusal::CommandNotAllowed);
    }
    if command.counter <= last_counter(&credential.serial) {
        return Err(VehicleRefusal::ReplayedCounter);
    }
    Ok((credential, command))
}

/// Checks a status query: the credential (1–4), the query's signature by
/// its device key, its vehicle, serial and expiry. No counter: a query
/// changes nothing, and its nonce keeps old answers from passing.
pub fn check_status_query(
    trust: &VehicleTrust<'_>,
    credential: &SignedEnvelope,
    query: &SignedEnvelope,
) -> Result<(VehicleCredential, StatusQuery), VehicleRefusal> {
    let credential = check_credential(trust, credential)?;
    let query: StatusQuery = query
        .open(Purpose::VehicleStatusQuery, &device_key(&credential)?)
        .map_err(signature_refusal)?;
    if query.vehicle_id != trust.vehicle_id {
        return Err(VehicleRefusal::WrongVehicle);
    }
    if query.serial != credential.serial {
        return Err(VehicleRefusal::CredentialMismatch);
    }
    if trust.now_s > query.expires_s + CLOCK_TOLERANCE_S {
        return Err(VehicleRefusal::Expired);
    }
    Ok((credential, query))
}

/// Checks a card tap against the credential of the rental active on the
/// car (which the car keeps from the first command it accepted under it).
pub fn check_card(
    trust: &VehicleTrust<'_>,
    active: Option<&SignedEnvelope>,
    card_number: &str,
) -> Result<VehicleCredential, VehicleRefusal> {
    let active = active.ok_or(VehicleRefusal::NoCredential)?;
    let credential = check_credential(trust, active)?;
    let bound = credential.card_hash.as_deref().ok_or(VehicleRefusal::WrongCard)?;
    match card_hash(&credential.member_id, card_number) {
        Ok(tapped) if tapped == bound => Ok(credential),
        _ => Err(VehicleRefusal::WrongCard),
    }
}
