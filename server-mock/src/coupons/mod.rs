//! Coupons on the control plane: merchants and their enrolled devices
//! ([`merchants`]), activities from templates through the automatic review
//! to live, and the coupons claimed from them ([`activities`]), and the
//! keys that sign coupons ([`issuer`]); claims given back
//! ([`claim_rollbacks`]) and bought coupons expired unused ([`expiry`]),
//! and what an activity did ([`funnel`]).

pub mod activities;
pub mod claim_rollbacks;
pub mod expiry;
pub mod funnel;
pub mod issuer;
pub mod merchants;
pub mod redemptions;
pub mod revocations;
pub mod shares;
