//! The serving gate: whether the node may serve now, and why not.

use edgepoints_core as core;

/// Whether the node may serve now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServingGate {
    Serving,
    Paused { reason: String },
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
