//! The `Idempotency-Key` header, after the IETF httpapi idempotency-key draft.

/// Carried by every mutating request; chosen by the client before the first send.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Set to `true` on a response that the server replayed from its stored result.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// Why a string is not an acceptable idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("idempotency key is empty")]
    Empty,
    #[error("idempotency key is longer than {max} characters")]
    TooLong { max: usize },
    #[error("idempotency key may hold only visible ASCII characters")]
    BadCharacter,
}

/// Longest key the control plane stores; keys are meant to be UUIDs or similar.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Checks a key as received in the header.
///
/// ```
/// use edgepoints_protocol::idempotency::validate_idempotency_key;
/// assert!(validate_idempotency_key("8e0f6c2a-4d3e-4b7a-9a43-0c9b2d1f2e11").is_ok());
/// assert!(validate_idempotency_key("").is_err());
/// ```
pub fn validate_idempotency_key(key: &str) -> Result<(), IdempotencyKeyError> {
    if key.is_empty() {
        return Err(IdempotencyKeyError::Empty);
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(IdempotencyKeyError::TooLong {
            max: MAX_IDEMPOTENCY_KEY_LEN,
        });
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IdempotencyKeyError::BadCharacter);
    }
    Ok(())
}
