//! Wire types and signed formats shared by the edgepoints SDK and its control plane.
//!
//! This crate does no I/O: it defines what travels (serde types), how a device
//! signs it ([`SignedEnvelope`]) and how errors look on the wire ([`Problem`]).
//! Both `edgepoints-core` and `edgepoints-mock-server` depend on it, so the two
//! sides cannot drift apart.

pub mod consent;
pub mod content;
pub mod coupons;
pub mod device;
pub mod envelope;
pub mod idempotency;
pub mod loyalty;
pub mod manifest;
pub mod members;
pub mod operations;
pub mod paths;
pub mod points;
pub mod problem;
pub mod receipts;
pub mod rental;
pub mod request_auth;
pub mod review;
pub mod sources;
pub mod ticket;

pub use consent::{ConsentDecision, ConsentPolicy, ConsentRecorded, ConsentReport, PolicyError};
pub use content::{ContentHash, ContentHashError};
pub use device::{DeviceId, DeviceIdError, DeviceRegistered, DeviceRegistration};
pub use envelope::{EnvelopeError, Purpose, SignedEnvelope};
pub use idempotency::{IdempotencyKeyError, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
pub use manifest::{Manifest, ManifestItem};
pub use members::{
    MemberHeartbeat, MemberHeartbeatAccepted, MemberLogin, MemberSession, MemberSignUp, MemberSignedUp, Notice,
    NoticePost, SessionEnd, SessionEnded, SessionTimeouts, SESSION_HEADER,
};
pub use operations::{OperationState, OperationStatus};
pub use points::{
    Heartbeat, HeartbeatAccepted, LedgerCoupon, LedgerEntry, LedgerPage, LedgerReason, PointsBalance, PointsRules,
};
pub use problem::{PointsShortfall, Problem, ProblemCode, PROBLEM_CONTENT_TYPE};
pub use receipts::{DeliveryStatement, Receipt, ReceiptAccepted, DELIVERY_HEADER, RECEIPT_NONCE_HEADER};
pub use sources::{
    ContentSources, FailedSource, HashFailureRecorded, HashFailureReport, Location, NodeAnnounced, NodeAnnouncement,
    NodeSource, ProbeAnswer, ReportVerdict, LOCATION_HEADER,
};
pub use ticket::{AccessTicket, TicketError, TICKET_HEADER};
