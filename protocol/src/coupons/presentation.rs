//! The presentation: how a customer's phone shows a coupon at the till.
//!
//! The token, a time step (Unix time / 30 s) and the holder device's
//! Ed25519 signature over the coupon's serial and that step, framed as
//! every signed message of ours is (purpose `device.coupon-presentation`).
//! A screenshot goes stale within a step or two, and a phone without the
//! holder's key cannot make one; the merchant's device needs no secret to
//! check it (unlike a TOTP barcode).
//!
//! ```text
//! token (161) | step (4) | holder signature (64)             = 229 bytes
//! ```

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use super::token::{CouponToken, Reader, TokenError, TOKEN_BYTES};
use crate::envelope::{signing_input, Purpose};

/// What presentation text starts with.
pub const PRESENTATION_PREFIX: &str = "EPP1:";
/// Seconds per presentation step.
pub const STEP_S: u64 = 30;
pub const PRESENTATION_BYTES: usize = TOKEN_BYTES + 4 + 64;

/// The step of Unix time `unix_s`.
pub fn step_of(unix_s: u64) -> u32 {
    (unix_s / STEP_S).min(u32::MAX as u64) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presentation {
    pub token: CouponToken,
    pub step: u32,
    pub holder_signature: [u8; 64],
}

fn message(token: &CouponToken, step: u32) -> Vec<u8> {
    let mut payload = [0u8; 20];
    payload[..16].copy_from_slice(&token.claims.serial);
    payload[16..].copy_from_slice(&step.to_be_bytes());
    signing_input(
        Purpose::CouponPresentation.as_str(),
        &hex::encode(token.claims.holder),
        &payload,
    )
}

impl Presentation {
    /// The holder presents `token` at time step `step`.
    pub fn sign(token: CouponToken, step: u32, holder: &SigningKey) -> Presentation {
        let holder_signature = holder.sign(&message(&token, step)).to_bytes();
        Presentation {
            token,
            step,
            holder_signature,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.token.to_bytes();
        bytes.extend_from_slice(&self.step.to_be_bytes());
        bytes.extend_from_slice(&self.holder_signature);
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Presentation, TokenError> {
        if bytes.len() != PRESENTATION_BYTES {
            return Err(TokenError::Malformed("wrong length"));
        }
        let mut reader = Reader(bytes);
        Ok(Presentation {
            token: CouponToken::read(&mut reader)?,
            step: u32::from_be_bytes(reader.take()?),
            holder_signature: reader.take()?,
        })
    }

    pub fn encode(&self) -> String {
        format!("{PRESENTATION_PREFIX}{}", base45::encode(self.to_bytes()))
    }

    pub fn decode(text: &str) -> Result<Presentation, TokenError> {
        let encoded = text
            .strip_prefix(PRESENTATION_PREFIX)
            .ok_or(TokenError::Malformed("no presentation prefix"))?;
        let bytes = base45::decode(encoded).map_err(|_| TokenError::Malformed("not Base45"))?;
        Presentation::from_bytes(&bytes)
    }

    /// Whether the coupon's holder signed this presentation.
    pub fn verify_holder(&self) -> Result<(), TokenError> {
        let holder = VerifyingKey::from_bytes(&self.token.claims.holder).map_err(|_| TokenError::BadSignature)?;
        holder
            .verify(
                &message(&self.token, self.step),
                &Signature::from_bytes(&self.holder_signature),
            )
            .map_err(|_| TokenError::BadSignature)
    }
}
