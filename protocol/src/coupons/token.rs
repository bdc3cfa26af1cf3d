//! The coupon token: what a customer holds, small enough for a QR code a
//! till scans from a phone screen.
//!
//! A fixed binary layout, no field names and no compression:
//!
//! ```text
//! version (1) | key id (8) | activity (16) | merchant (16) | serial (16)
//! | holder key (32) | not before (4, Unix s) | expires (4, Unix s)
//! | signature (64)                                          = 161 bytes
//! ```
//!
//! The signature is Ed25519 by the issuing control-plane key over the 97
//! bytes before it, framed as every signed message of ours is (purpose
//! `cp.coupon`, the key id in hex; see [`crate::envelope`]), so a coupon
//! signature can never pass for any other message. As text it is Base45
//! (RFC 9285, the QR alphanumeric alphabet) behind [`TOKEN_PREFIX`].

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::envelope::{signing_input, Purpose};

/// What coupon text starts with; part of the QR alphanumeric alphabet.
pub const TOKEN_PREFIX: &str = "EPC1:";
/// The layout version this code reads and writes.
pub const TOKEN_VERSION: u8 = 1;
/// Bytes of a token's body (everything the signature covers).
pub const BODY_BYTES: usize = 1 + 8 + 16 + 16 + 16 + 32 + 4 + 4;
/// Bytes of a whole token.
pub const TOKEN_BYTES: usize = BODY_BYTES + 64;

/// A key id: the first 8 bytes of the BLAKE3 hash of the public key. Not
/// unique by construction: a verifier tries every key with the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    pub fn of(key: &VerifyingKey) -> KeyId {
        let hash = blake3::hash(key.as_bytes());
        KeyId(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A 128-bit id (activity, merchant, serial).
pub type Id128 = [u8; 16];

/// What a coupon says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CouponClaims {
    pub key_id: KeyId,
    pub activity: Id128,
    pub merchant: Id128,
    pub serial: Id128,
    /// The public key of the device the coupon was issued to: only it can
    /// present it.
    pub holder: [u8; 32],
    pub not_before_s: u32,
    pub expires_s: u32,
}

/// Why a coupon (or presentation) text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a coupon: {0}")]
    Malformed(&'static str),
    #[error("coupon layout version {0} is not known to this verifier")]
    UnknownVersion(u8),
    #[error("the signature does not verify")]
    BadSignature,
}

/// A signed coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CouponToken {
    pub claims: CouponClaims,
    pub signature: [u8; 64],
}

fn body(claims: &CouponClaims) -> [u8; BODY_BYTES] {
    let mut out = [0u8; BODY_BYTES];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&[TOKEN_VERSION]);
    put(&claims.key_id.0);
    put(&claims.activity);
    put(&claims.merchant);
    put(&claims.serial);
    put(&claims.holder);
    put(&claims.not_before_s.to_be_bytes());
    put(&claims.expires_s.to_be_bytes());
    out
}

fn message(key_id: &KeyId, body: &[u8]) -> Vec<u8> {
    signing_input(Purpose::Coupon.as_str(), &key_id.to_hex(), body)
}

/// Reads fixed-size fields off the front of a byte slice.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], TokenError> {
        if self.0.len() < N {
            return Err(TokenError::Malformed("too short"));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("N bytes"))
    }
}

impl CouponToken {
    /// Signs `claims` (their key id must be `key`'s).
    pub fn sign(claims: CouponClaims, key: &SigningKey) -> CouponToken {
        debug_assert_eq!(claims.key_id, KeyId::of(&key.verifying_key()));
        let signature = key.sign(&message(&claims.key_id, &body(&claims))).to_bytes();
        CouponToken { claims, signature }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(&body(&self.claims));
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Parses the layout (no signature check).
    pub fn from_bytes(bytes: &[u8]) -> Result<CouponToken, TokenError> {
        let token = Self::read(&mut Reader(bytes))?;
        if bytes.len() != TOKEN_BYTES {
            return Err(TokenError::Malformed("wrong length"));
        }
        Ok(token)
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<CouponToken, TokenError> {
        let [version] = reader.take::<1>()?;
        if version != TOKEN_VERSION {
            return Err(TokenError::UnknownVersion(version));
        }
        let claims = CouponClaims {
            key_id: KeyId(reader.take()?),
            activity: reader.take()?,
            merchant: reader.take()?,
            serial: reader.take()?,
            holder: reader.take()?,
            not_before_s: u32::from_be_bytes(reader.take()?),
            expires_s: u32::from_be_bytes(reader.take()?),
        };
        if claims.expires_s <= claims.not_before_s {
            return Err(TokenError::Malformed("expires before it is valid"));
        }
        Ok(CouponToken {
            claims,
            signature: reader.take()?,
        })
    }

    /// The text form: [`TOKEN_PREFIX`] and Base45.
    pub fn encode(&self) -> String {
        format!("{TOKEN_PREFIX}{}", base45::encode(self.to_bytes()))
    }

    pub fn decode(text: &str) -> Result<CouponToken, TokenError> {
        let encoded = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed("no coupon prefix"))?;
        let bytes = base45::decode(encoded).map_err(|_| TokenError::Malformed("not Base45"))?;
        CouponToken::from_bytes(&bytes)
    }

    /// Whether `key` signed this coupon.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), TokenError> {
        key.verify(
            &message(&self.claims.key_id, &body(&self.claims)),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| TokenError::BadSignature)
    }
}
