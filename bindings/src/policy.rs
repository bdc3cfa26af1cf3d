//! The serving gate: whether the node may serve now, and why not.

use edgepoints_core as core;

/// Whether the node may serve now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServingGate {
    /// The node may serve.
    Serving,
    /// Consent is given, but the policy does not allow serving now (`reason`: network, battery, charging).
    Paused { reason: String },
    /// The user has not consented (or revoked it).
    NoConsent,
}

impl From<core::ServingGate> for ServingGate {
    fn from(gate: core::ServingGate) -> Self {
        match gate {
            core::ServingGate::Serving => ServingGate::Serving,
            core::ServingGate::Paused { reason } => ServingGate::Paused { reason },
            core::ServingGate::NoConsent => ServingGate::NoConsent,
        }
    }
}
