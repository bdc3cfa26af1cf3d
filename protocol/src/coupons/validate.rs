//! Checking a presentation at the till, without the network: every check
//! a merchant's device makes, in order, each refusal with one reason.

use serde::{Deserialize, Serialize};

use super::presentation::{step_of, Presentation};
use super::token::{CouponClaims, Id128, TokenError};
use super::trust::TrustedKeys;

/// Why a presentation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("not a coupon presentation")]
    Malformed,
    #[error("signed by a key this device does not trust (sync the trust list)")]
    UnknownKey,
    #[error("the coupon's signature does not verify")]
    BadSignature,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon is not valid yet")]
    NotYetValid,
    #[error("the coupon is for another merchant")]
    WrongMerchant,
    #[error("the presentation is stale: ask the customer to show the live code")]
    StalePresentation,
    #[error("the coupon is presented by a phone that does not hold it")]
    WrongHolder,
    #[error("the coupon was revoked")]
    Revoked,
    #[error("the coupon was redeemed already")]
    AlreadyRedeemed,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::WrongMerchant => "wrong_merchant",
            Refusal::StalePresentation => "stale_presentation",
            Refusal::WrongHolder => "wrong_holder",
            Refusal::Revoked => "revoked",
            Refusal::AlreadyRedeemed => "already_redeemed",
        }
    }
}

/// How far a device's clock may be from the customer's and the issuer's:
/// validity bounds are stretched by this, and a presentation's step may be
/// one step off the till's.
pub const CLOCK_TOLERANCE_S: u64 = 60;
/// Steps a presentation may be behind or ahead of the till's own step.
pub const STEP_TOLERANCE: u32 = 1;

/// What a check knows besides the presentation.
pub struct Till<'a> {
    pub trusted: &'a TrustedKeys,
    /// The merchant this device acts for.
    pub merchant: Id128,
    pub now_s: u64,
    /// Whether a serial is on the synced revocation list.
    pub revoked: &'a dyn Fn(&Id128) -> bool,
    /// Whether a serial was redeemed (known to this device).
    pub redeemed: &'a dyn Fn(&Id128) -> bool,
}

/// A presentation that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub claims: CouponClaims,
    pub step: u32,
}

/// Checks `text` at `till`: the coupon's signature against the trusted
/// keys with its key id (a key that was valid when the coupon was dated),
/// its validity window, its merchant, the holder's signature, the step,
/// and the local lists.
pub fn validate(text: &str, till: &Till<'_>) -> Result<Accepted, Refusal> {
    let presentation = Presentation::decode(text.trim()).map_err(|e| match e {
        TokenError::Malformed(_) | TokenError::UnknownVersion(_) | TokenError::BadSignature => Refusal::Malformed,
    })?;
    let claims = presentation.token.claims;
    let issued_s = u64::from(claims.not_before_s);
    let mut candidates = till
        .trusted
        .with_id(claims.key_id)
        .filter(|(_, entry)| entry.covers(issued_s))
        .peekable();
    if candidates.peek().is_none() {
        return Err(Refusal::UnknownKey);
    }
    if !candidates.any(|(key, _)| presentation.token.verify(key).is_ok()) {
        return Err(Refusal::BadSignature);
    }
    if till.now_s > u64::from(claims.expires_s) + CLOCK_TOLERANCE_S {
        return Err(Refusal::Expired);
    }
    if till.now_s + CLOCK_TOLERANCE_S < issued_s {
        return Err(Refusal::NotYetValid);
    }
    if claims.merchant != till.merchant {
        return Err(Refusal::WrongMerchant);
    }
    if presentation.verify_holder().is_err() {
        return Err(Refusal::WrongHolder);
    }
    if step_of(till.now_s).abs_diff(presentation.step) > STEP_TOLERANCE {
        return Err(Refusal::StalePresentation);
    }
    if (till.revoked)(&claims.serial) {
        return Err(Refusal::Revoked);
    }
    if (till.redeemed)(&claims.serial) {
        return Err(Refusal::AlreadyRedeemed);
    }
    Ok(Accepted {
        claims,
        step: presentation.step,
    })
}

/// A revocation list entry: the first 8 bytes of the BLAKE3 hash of a
/// serial (the list never names serials; a false match among millions is
/// a 1-in-2^40 chance).
pub fn revocation_tag(serial: &Id128) -> [u8; 8] {
    blake3::hash(serial).as_bytes()[..8].try_into().expect("8 bytes")
}
