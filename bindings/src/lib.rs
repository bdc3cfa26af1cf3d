//! uniffi bindings of the edgepoints SDK: annotations and wrappers, no logic.
//!
//! Every exported object newtypes an `edgepoints-core` object; every record
//! converts to and from a core type; every error is mapped in [`error`].
//! Kotlin and Swift sources are generated from the built library in library
//! mode (see `bindings/generate.sh`).

mod background;
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
mod members;
mod node;
mod number;
mod outbox;
mod parse;
mod points;
mod policy;
mod presence;
mod rental;
mod runtime;
mod secrets;

pub use background::BackgroundRun;
pub use consent::{Consent, ConsentPolicy, ConsentState, ConsentStatus};
pub use content::{content_hash_of, CacheStats, ContentCache};
pub use coupons::{
    Activity, ActivityDraft, ActivityFunnel, ActivityState, ChannelFunnel, CouponPresentation, CouponRefusal,
    CouponStanding, CouponValidation, Coupons, FunnelCounts, HeldCoupon, Merchant, MerchantIdentity, OnlineValidation,
    PointsPrice, QueuedRedemption, Redemption, RedemptionConflict, RedemptionSide, ReviewFinding, Share, TemplateKind,
};
pub use edgepoints::{EdgePoints, EdgePointsConfig, GeoLocation, Registration};
pub use error::EdgePointsError;
pub use events::{EventListener, SdkEvent};
pub use fetch::{AttemptOutcome, FetchAttempt, FetchReport, FetchSource};
pub use host::{HostState, NetworkKind};
pub use host_callback::{host_callback_failures, HostCallbackError, HostCallbackFailures};
pub use host_log::{set_logger, LogLevel, Logger};
pub use members::{MemberNotice, MemberSession, MemberState, Members, SignedUp};
pub use node::{EdgeNode, NodeHandle, NodeStats, SyncReport};
pub use outbox::{Outbox, OutboxEntry, OutboxEntryState, OutboxStatus};
pub use points::{
    HeartbeatReport, LedgerEntry, LedgerPage, LedgerReason, Points, PointsBalance, Reward, RewardGrant, RewardKind,
};
pub use policy::ServingGate;
pub use rental::{
    ChargingReservation, ChargingReservationStatus, CommandOutcome, Connector, ConnectorStatus, Fee, FeeLine,
    MemberCardBound, Rental, RentalPhase, RentalRecord, RentalStatus, Station, Vehicle, VehicleCommand, VehicleLink,
    VehicleLinkError, VehicleReading, VehicleRefusal, VehicleState,
};
pub use secrets::{SecretStore, SecretStoreError};

uniffi::setup_scaffolding!();
