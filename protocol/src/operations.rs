//! Sync status: what became of a mutating request, asked by its idempotency
//! key. A client that lost an answer (or its whole process) asks before it
//! sends again, so it never has to guess whether the server committed.

use serde::{Deserialize, Serialize};

/// Where the request stands on the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationState {
    /// Never seen, or released after a failure that did not commit: safe to send.
    Unknown,
    /// Running now: ask again later.
    InProgress,
    /// Done: `status` and `body` are the stored answer.
    Completed,
}

/// The answer of the sync-status route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationStatus {
    pub idempotency_key: String,
    pub state: OperationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub status: Option<u16>,
    /// The stored answer's body, as it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}
