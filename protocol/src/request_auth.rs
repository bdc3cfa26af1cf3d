//! Signed reads: a device proves who asks for a `GET` without a body.
//!
//! The `Edgepoints-Signature` header carries `key_id;timestamp_ms;envelope
//! signature`, where the envelope (purpose `device.request`) signs
//! `METHOD path timestamp_ms`. The server checks the signature with the
//! device's registered key and refuses timestamps outside a skew window, so
//! a captured header is useless after a few minutes and on any other path.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{EnvelopeError, Purpose, SignedEnvelope};

pub const DEVICE_SIGNATURE_HEADER: &str = "Edgepoints-Signature";

/// How far a request's timestamp may be from the server's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    #[error("signature header is malformed")]
    Malformed,
    #[error("request timestamp is outside the allowed clock skew")]
    Stale,
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

fn message(method: &str, path: &str, timestamp_ms: u64) -> Vec<u8> {
    format!("{method} {path} {timestamp_ms}").into_bytes()
}

/// The header value for a request.
pub fn sign_request(key: &SigningKey, key_id: &str, method: &str, path: &str, timestamp_ms: u64) -> String {
    let envelope = SignedEnvelope::sign_bytes(Purpose::RequestAuth, key_id, key, &message(method, path, timestamp_ms));
    format!("{key_id};{timestamp_ms};{}", envelope.signature)
}

/// The signer's key id as the header claims it, before verification.
pub fn claimed_key_id(header: &str) -> Result<&str, RequestAuthError> {
    header
        .split(';')
        .next()
        .filter(|k| !k.is_empty())
        .ok_or(RequestAuthError::Malformed)
}

/// Verifies a header for `method` and `path` at the server's `now_ms`.
pub fn verify_request(
    header: &str,
    key: &VerifyingKey,
    method: &str,
    path: &str,
    now_ms: u64,
) -> Result<(), RequestAuthError> {
    let mut fields = header.split(';');
    let (Some(key_id), Some(timestamp), Some(signature), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(RequestAuthError::Malformed);
    };
    let timestamp_ms: u64 = timestamp.parse().map_err(|_| RequestAuthError::Malformed)?;
    if now_ms.abs_diff(timestamp_ms) > MAX_SKEW_MS {
        return Err(RequestAuthError::Stale);
    }
    let envelope = SignedEnvelope {
        purpose: Purpose::RequestAuth.as_str().to_owned(),
        key_id: key_id.to_owned(),
        payload: URL_SAFE_NO_PAD.encode(message(method, path, timestamp_ms)),
        signature: signature.to_owned(),
    };
    envelope.verify(Purpose::RequestAuth, key)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_requests_verify_only_as_signed() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let header = sign_request(&key, "dev_x", "GET", "/v1/a", 1_000_000);
        let vk = key.verifying_key();
        assert_eq!(claimed_key_id(&header).unwrap(), "dev_x");
        assert!(verify_request(&header, &vk, "GET", "/v1/a", 1_000_500).is_ok());
        assert!(verify_request(&header, &vk, "GET", "/v1/b", 1_000_500).is_err());
        assert!(verify_request(&header, &vk, "DELETE", "/v1/a", 1_000_500).is_err());
        assert_eq!(
            verify_request(&header, &vk, "GET", "/v1/a", 1_000_000 + MAX_SKEW_MS + 1),
            Err(RequestAuthError::Stale)
        );
        let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert!(verify_request(&header, &other, "GET", "/v1/a", 1_000_500).is_err());
        assert_eq!(
            verify_request("garbage", &vk, "GET", "/v1/a", 0),
            Err(RequestAuthError::Malformed)
        );
    }
}
