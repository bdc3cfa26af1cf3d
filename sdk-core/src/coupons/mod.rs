//! Coupons: the customer side ([`customer`]) claims, holds and presents
//! them; the merchant side ([`merchant`]) enrols, writes activities and
//! checks presentations offline against the synced trust list ([`trust`]).
//! The formats and the check itself are in `edgepoints_protocol::coupons`,
//! shared with the control plane.

pub(crate) mod customer;
pub(crate) mod held;
pub(crate) mod merchant;
pub(crate) mod offline;
mod presentation;
mod trust;

pub use customer::Coupons;
pub use held::HeldCoupon;
pub use merchant::{Merchant, MerchantIdentity, Validation};
pub use offline::QueuedRedemption;
pub use presentation::CouponPresentation;
