//! edgepoints-core: the edgepoints SDK in async Rust.
//!
//! Everything is reached from one handle, [`EdgePoints`], opened from a
//! [`Config`]. State lives in one SQLite file in the data directory; every
//! mutating call to the control plane carries an idempotency key chosen and
//! stored before the first send.
//!
//! ```no_run
//! # async fn demo() -> Result<(), edgepoints_core::Error> {
//! use edgepoints_core::{Config, ConsentPolicy, EdgePoints};
//!
//! let config = Config::new(vec!["https://cp.example.com".parse().unwrap()], "/data/edgepoints");
//! let sdk = EdgePoints::open(config, None)?;
//! sdk.register().await?;
//! sdk.consent().grant("2026-11", ConsentPolicy::default()).await?;
//! # Ok(()) }
//! ```
//!
//! This crate knows nothing of FFI: the `edgepoints-ffi` crate wraps it for
//! Kotlin and Swift.

mod background;
mod config;
mod consent;
mod content;
mod coupons;
mod edgepoints;
mod error;
mod events;
mod fetch;
mod host;
mod host_callback;
mod host_log;
mod identity;
mod members;
mod node;
mod outbox;
mod points;
mod policy;
mod presence;
mod registration;
mod rental;
mod secrets;
mod shared;
mod store;
mod time;
pub mod transport;

pub use background::BackgroundRun;
pub use config::{Config, NodeLimits};
pub use consent::{Consent, ConsentState, ConsentStatus};
pub use content::{CacheStats, ContentCache};
pub use coupons::{CouponPresentation, Coupons, HeldCoupon, Merchant, MerchantIdentity, QueuedRedemption, Validation};
pub use edgepoints::{EdgePoints, HostServices};
pub use edgepoints_protocol::coupons::activities::{
    Activity, ActivityDraft, ActivityState, FieldFinding, Share, StateChange, Template, TemplateKind, TemplateLimits,
};
pub use edgepoints_protocol::coupons::funnel::{
    ActivityFunnel, ChannelFunnel, CouponStanding, FunnelCounts, OnlineValidation,
};
pub use edgepoints_protocol::coupons::redemption::{Redemption, RedemptionConflict, RedemptionSide, RolledBack};
pub use edgepoints_protocol::coupons::Refusal;
pub use edgepoints_protocol::loyalty::{PointsPrice, Reward, RewardGrant, RewardKind};
pub use edgepoints_protocol::rental::command::{CommandKind, VehicleReading};
pub use edgepoints_protocol::rental::vehicle_check::VehicleRefusal;
pub use edgepoints_protocol::rental::{
    ChargingReservation, ChargingReservationStatus, Connector, ConnectorStatus, Fee, FeeLine, MemberCardBound,
    Rental as RentalRecord, RentalState, Station, Vehicle, VehicleState,
};
pub use edgepoints_protocol::review::Finding;
pub use edgepoints_protocol::ContentHash;
pub use edgepoints_protocol::{
    ConsentPolicy, LedgerCoupon, LedgerEntry, LedgerPage, LedgerReason, Location, PointsBalance, Problem, ProblemCode,
};
pub use error::{error_chain, Error, StoreError, TransportFailure};
pub use events::{Event, EventListener};
pub use fetch::{AttemptOutcome, FetchAttempt, FetchReport, FetchSource};
pub use host::{HostState, NetworkKind};
pub use host_callback::{host_callback_failures, HostCallbackError, HostCallbackFailures};
pub use host_log::{set_host_logger, HostLogger, LogLevel};
pub use members::{MemberNotice, MemberSession, MemberState, Members, SignedUp};
pub use node::{EdgeNode, HeartbeatReport, NodeHandle, NodeStats, SyncReport};
pub use outbox::{EntryState, Outbox, OutboxEntry, OutboxStatus};
pub use points::Points;
pub use policy::ServingGate;
pub use presence::{HeartbeatState, Presence, PresenceStatus};
pub use registration::Registration;
pub use rental::{CommandInFlight, CommandOutcome, Rental, RentalPhase, RentalStatus, VehicleLink, VehicleLinkError};
pub use secrets::{SecretStore, SecretStoreError, DEVICE_KEY, MEMBER_SESSION};
pub use store::DATABASE_FILE;
pub use transport::{OutlierPolicy, RetryBudgetPolicy, RetryPolicy};
