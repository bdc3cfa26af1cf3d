//! Coupons on the control plane: merchants and their enrolled devices
//! ([`merchants`]), activities from templates through the automatic review
//! to live, and the coupons claimed from them ([`activities`]), and the
//! keys that sign coupons ([`issuer`]).

pub mod activities;
pub mod issuer;
pub mod merchants;
pub mod redemptions;
pub mod revocations;
pub mod shares;
