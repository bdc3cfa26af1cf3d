//! The unlock credential: the control plane's signed statement that one
//! member device may command one vehicle for one rental, for a time, with
//! some commands. The car checks it offline against the control-plane key
//! it was provisioned with; the phone carries it with every command.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::command::CommandKind;
use crate::{EnvelopeError, Purpose, SignedEnvelope};

/// How long a credential is good for from its start: a rental longer than
/// this gets a new one at the next start.
pub const CREDENTIAL_LIFETIME_S: u64 = 24 * 3600;

/// What a credential says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VehicleCredential {
    pub vehicle_id: String,
    pub rental_id: String,
    pub member_id: String,
    /// The member device's public key (`ed25519:…`): commands must be
    /// signed with it.
    pub device_key: String,
    /// Unix seconds, by the control plane's clock.
    pub not_before_s: u64,
    pub expires_s: u64,
    pub commands: Vec<CommandKind>,
    /// 128 random bits, hex: what the car counts commands under and what
    /// a revocation names.
    pub serial: String,
    /// The [`super::card::card_hash`] of the member's bound card, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_hash: Option<String>,
}

impl VehicleCredential {
    /// Signs it with the control-plane key `key_id`.
    pub fn sign(&self, key_id: &str, key: &SigningKey) -> SignedEnvelope {
        SignedEnvelope::sign(Purpose::VehicleCredential, key_id, key, self)
    }

    /// Opens `envelope` with the provisioned key it names.
    pub fn open(envelope: &SignedEnvelope, trusted: &[(String, VerifyingKey)]) -> Result<Self, EnvelopeError> {
        let (_, key) = trusted
            .iter()
            .find(|(id, _)| *id == envelope.key_id)
            .ok_or(EnvelopeError::BadSignature)?;
        envelope.open(Purpose::VehicleCredential, key)
    }

    pub fn allows(&self, command: CommandKind) -> bool {
        self.commands.contains(&command)
    }
}
