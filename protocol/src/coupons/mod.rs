//! Coupons as they travel and as a till checks them offline: the signed
//! token ([`token`]), the holder's presentation that a screenshot cannot
//! replay ([`presentation`]), the trust list of issuing keys ([`trust`])
//! and the offline check ([`validate`]).

pub mod activities;
pub mod funnel;
pub mod presentation;
pub mod redemption;
pub mod token;
pub mod trust;
pub mod validate;

pub use presentation::{step_of, Presentation, PRESENTATION_PREFIX, STEP_S};
pub use token::{CouponClaims, CouponToken, Id128, KeyId, TokenError, TOKEN_PREFIX};
pub use trust::{IssuerKey, TrustList, TrustedKeys};
pub use validate::{revocation_tag, validate, Accepted, Refusal, Till, CLOCK_TOLERANCE_S};
