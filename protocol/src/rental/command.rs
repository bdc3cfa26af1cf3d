//! What travels between the phone and the car, over a link only the host
//! has (Bluetooth on a phone, HTTP to the mock's simulated cars): a
//! [`LinkRequest`] of bytes one way, the car's signed [`VehicleAnswer`]
//! back.
//!
//! A command is signed by the member device's key and names the
//! credential's serial, a counter strictly increasing per credential and
//! an expiry a few seconds ahead, so a recorded command is worthless soon
//! and a replayed one is refused at once. A status query asks the car what
//! it is (and what became of one command) without moving the counter: the
//! SDK asks it when a command's answer was lost, instead of guessing.

use serde::{Deserialize, Serialize};

use super::vehicle_check::VehicleRefusal;
use crate::{Location, SignedEnvelope};

/// A command's lifetime from signing.
pub const COMMAND_LIFETIME_S: u64 = 30;
/// Largest link request or answer a car reads, in bytes.
pub const MAX_LINK_BYTES: usize = 16 * 1024;

/// What a member may ask the car.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Unlock,
    Lock,
    Honk,
    /// Not granted to members: a fleet operator's.
    Immobilise,
}

impl CommandKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Unlock => "unlock",
            CommandKind::Lock => "lock",
            CommandKind::Honk => "honk",
            CommandKind::Immobilise => "immobilise",
        }
    }
}

/// A command, signed by the member device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VehicleCommand {
    pub vehicle_id: String,
    pub serial: String,
    pub counter: u64,
    pub command: CommandKind,
    /// Unix seconds.
    pub expires_s: u64,
}

/// A question about the car's state, signed by the member device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusQuery {
    pub vehicle_id: String,
    pub serial: String,
    /// Echoed in the answer, so an old answer cannot pass for this one.
    pub nonce: String,
    /// The counter of the command whose fate the SDK asks about.
    #[serde(default)]
    pub about_counter: Option<u64>,
    pub expires_s: u64,
}

/// What the phone sends the car.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LinkRequest {
    Command {
        credential: SignedEnvelope,
        command: SignedEnvelope,
    },
    Status {
        credential: SignedEnvelope,
        query: SignedEnvelope,
    },
}

impl LinkRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("link requests serialise")
    }
}

/// What the car measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VehicleReading {
    pub locked: bool,
    pub doors_closed: bool,
    pub odometer_m: u64,
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub battery_percent: u8,
    pub location: Location,
    /// Unix seconds, by the car's clock.
    pub at_s: u64,
}

/// How the car took a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Refused { reason: VehicleRefusal },
}

/// What became of a command the car was asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum CommandFate {
    Accepted,
    Refused {
        reason: VehicleRefusal,
    },
    /// The car never had a command with that counter.
    NotReceived,
}

/// The car's answer, signed with its own key (key id: the vehicle id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VehicleAnswer {
    pub vehicle_id: String,
    /// The credential the request came under, when it could be read.
    pub serial: Option<String>,
    /// The command's counter, for a command; for a status query, the
    /// counter it asked about.
    #[serde(default)]
    pub counter: Option<u64>,
    /// The query's nonce, for a status query.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The command answered, or (for a status query) the one asked about,
    /// when the car knows it.
    #[serde(default)]
    pub command: Option<CommandKind>,
    /// For a command: whether the car did it. For a status query: whether
    /// the query was taken (then `about` says what became of the command).
    pub outcome: Outcome,
    /// For a status query that asked about a command.
    #[serde(default)]
    pub about: Option<CommandFate>,
    /// The highest counter the car accepted under `serial`.
    pub last_counter: u64,
    pub reading: VehicleReading,
}

impl VehicleAnswer {
    /// Whether this answer shows the car did `command`: its own answer
    /// accepting it, or a status answer saying it was accepted.
    pub fn shows_accepted(&self, command: CommandKind) -> bool {
        self.outcome == Outcome::Accepted
            && self.command == Some(command)
            && self.about.as_ref().is_none_or(|fate| *fate == CommandFate::Accepted)
    }
}
