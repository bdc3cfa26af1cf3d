//! uniffi bindings of the edgepoints SDK: annotations and wrappers, no logic.
//!
//! Every exported object newtypes an `edgepoints-core` object; every record
//! converts to and from a core type; every error is mapped in [`error`].
//! Kotlin and Swift sources are generated from the built library in library
//! mode (see `bindings/generate.sh`).

mod consent;
mod edgepoints;
mod error;
mod events;
mod host;
mod logging;
mod node;
mod outbox;
mod points;
mod presence;
mod runtime;

pub use consent::{Consent, ConsentPolicy, ConsentState, ConsentStatus};
pub use edgepoints::{EdgePoints, EdgePointsConfig, GeoLocation, Registration};
pub use error::EdgePointsError;
pub use events::{EventListener, SdkEvent};
pub use host::{HostState, NetworkKind};
pub use logging::{set_logger, LogLevel, Logger};
pub use node::{content_hash_of, CacheStats, ContentCache, EdgeNode, NodeHandle, NodeStats, ServingGate};
pub use outbox::{Outbox, OutboxEntry, OutboxEntryState, OutboxStatus};
pub use points::{CreditReason, HeartbeatReport, LedgerEntry, LedgerPage, Points, PointsBalance};

uniffi::setup_scaffolding!();
