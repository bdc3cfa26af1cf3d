//! The outbox: every mutating call the SDK accepts is first written here,
//! in the same SQLite transaction as the local change it reports, and then
//! sent by a worker ([`worker`]) until the control plane has answered it.
//!
//! - An entry is sent with the idempotency key chosen when it was written,
//!   on every attempt, across restarts: the control plane applies it once.
//! - A lost answer (timeout, dropped connection, killed app) is never taken
//!   for a failure: the entry is sent again, or after a restart its status is
//!   asked first, until the stored result comes back.
//! - Entries of one stream go in order; an entry that can never succeed
//!   (a 4xx other than 408/409/429) ends as `failed` with its problem and an
//!   event, and the entries behind it go on.
//! - When the control plane answers, the entry's local effect (say, "the
//!   consent of revision 3 is reported") is applied in the same transaction
//!   that marks it done.

mod queue;
mod wait;
pub(crate) mod worker;

pub(crate) use queue::{
    defer, enqueue, make_due_now, mark_done, mark_failed, pending_of_kind, prune, queue_signed_post, record_transient,
    stream_heads, Sendable,
};
pub(crate) use wait::wait;

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::edgepoints::EdgePoints;
use crate::{Error, StoreError};

/// What an entry does; decides how its answer is applied locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Registration,
    ConsentReport,
    NodeAnnouncement,
    HashFailureReport,
    Receipt,
    Logout,
    CouponClaim,
    ClaimRollback,
    RewardRedemption,
    Redemption,
    Rollback,
    OfflineRedemption,
    RentalStep,
}

impl EntryKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EntryKind::Registration => "device.register",
            EntryKind::ConsentReport => "device.consent",
            EntryKind::NodeAnnouncement => "device.node",
            EntryKind::HashFailureReport => "device.hash-failure",
            EntryKind::Receipt => "device.receipt",
            EntryKind::Logout => "member.logout",
            EntryKind::CouponClaim => "customer.claim",
            EntryKind::ClaimRollback => "customer.claim-rollback",
            EntryKind::RewardRedemption => "member.reward-redemption",
            EntryKind::Redemption => "merchant.redeem",
            EntryKind::Rollback => "merchant.rollback",
            EntryKind::OfflineRedemption => "merchant.offline-redeem",
            EntryKind::RentalStep => "member.rental-step",
        }
    }

    /// Entries of one stream are sent in order. The device's own calls
    /// share one: its registration goes before its consent reports and node
    /// announcements, and the control plane sees them in the order made.
    pub(crate) fn stream(self) -> &'static str {
        match self {
            EntryKind::Registration
            | EntryKind::ConsentReport
            | EntryKind::NodeAnnouncement
            | EntryKind::HashFailureReport
            | EntryKind::Receipt => DEVICE_STREAM,
            // A logout does not wait behind the node's receipts.
            EntryKind::Logout => MEMBER_STREAM,
            // Claims do not wait behind the node's receipts either.
            // A coupon given back goes after its claim.
            EntryKind::CouponClaim | EntryKind::ClaimRollback => CUSTOMER_STREAM,
            // A reward redeemed before a logout goes before it.
            EntryKind::RewardRedemption => MEMBER_STREAM,
            // A till's redemptions and rollbacks in the order it made them.
            EntryKind::Redemption | EntryKind::Rollback | EntryKind::OfflineRedemption => MERCHANT_STREAM,
            // A rental's steps in the order taken, apart from the rest.
            EntryKind::RentalStep => RENTAL_STREAM,
        }
    }

    /// Whether this refusal means the entry's goal is reached anyway: a
    /// logout of a session that has ended already.
    pub(crate) fn refusal_is_done(self, code: edgepoints_protocol::ProblemCode) -> bool {
        self == EntryKind::Logout && code == edgepoints_protocol::ProblemCode::SessionExpired
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "device.register" => Some(EntryKind::Registration),
            "device.consent" => Some(EntryKind::ConsentReport),
            "device.node" => Some(EntryKind::NodeAnnouncement),
            "device.hash-failure" => Some(EntryKind::HashFailureReport),
            "device.receipt" => Some(EntryKind::Receipt),
            "member.logout" => Some(EntryKind::Logout),
            "customer.claim" => Some(EntryKind::CouponClaim),
            "customer.claim-rollback" => Some(EntryKind::ClaimRollback),
            "member.reward-redemption" => Some(EntryKind::RewardRedemption),
            "merchant.redeem" => Some(EntryKind::Redemption),
            "merchant.rollback" => Some(EntryKind::Rollback),
            "merchant.offline-redeem" => Some(EntryKind::OfflineRedemption),
            "member.rental-step" => Some(EntryKind::RentalStep),
            _ => None,
        }
    }
}

/// The stream of the device's own calls: registration before consent.
pub(crate) const DEVICE_STREAM: &str = "device";
/// The stream of member calls (reward redemptions, logouts).
pub(crate) const MEMBER_STREAM: &str = "member";
/// The stream of a customer's coupon claims.
pub(crate) const CUSTOMER_STREAM: &str = "customer";
/// The stream of a merchant device's redemptions and rollbacks.
pub(crate) const MERCHANT_STREAM: &str = "merchant";
/// The stream of the member's rental steps.
pub(crate) const RENTAL_STREAM: &str = "rental";

/// A call to write to the outbox.
pub(crate) struct NewEntry {
    pub kind: EntryKind,
    pub method: Method,
    pub path: String,
    pub body: Vec<u8>,
    /// What the local side needs when the answer comes (e.g. the revision).
    pub context: Value,
    /// The key, when the caller chose and stored it already.
    pub idempotency_key: Option<String>,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    Pending,
    Done,
    Failed,
}

impl EntryState {
    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(EntryState::Pending),
            "done" => Ok(EntryState::Done),
            "failed" => Ok(EntryState::Failed),
            other => Err(StoreError::Corrupt(format!("outbox state `{other}`"))),
        }
    }
}

/// One entry, as the app can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub stream: String,
    pub kind: String,
    pub idempotency_key: String,
    pub state: EntryState,
    /// Attempts made: sent, or held back by the retry budget.
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
    pub last_error: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: Option<u64>,
}

/// The outbox at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxStatus {
    pub pending: u64,
    pub failed: u64,
    pub done: u64,
    /// Age of the oldest pending entry.
    pub oldest_pending_age_ms: Option<u64>,
    /// The last error of any pending or failed entry, newest first.
    pub last_error: Option<String>,
}

/// The outbox as the app sees it. Obtained from [`EdgePoints::outbox`].
#[derive(Clone)]
pub struct Outbox {
    sdk: EdgePoints,
}

impl Outbox {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Outbox { sdk }
    }

    pub fn status(&self) -> Result<OutboxStatus, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(self.sdk.shared().store().with(|c| queue::status(c))?)
    }

    /// The newest `limit` entries, newest first.
    pub fn entries(&self, limit: u32) -> Result<Vec<OutboxEntry>, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(self.sdk.shared().store().with(|c| queue::newest(c, limit))?)
    }

    /// Sends every pending entry now instead of at its scheduled time.
    pub fn retry_now(&self) -> Result<(), Error> {
        self.sdk.shared().ensure_open()?;
        self.sdk.shared().store().with(|c| make_due_now(c))?;
        self.sdk.shared().outbox_wake().notify_one();
        Ok(())
    }

    /// Sends now and waits until nothing is pending or `timeout` passes;
    /// returns the status then (pending may be above 0 after a timeout).
    pub async fn drain(&self, timeout: Duration) -> Result<OutboxStatus, Error> {
        let mut changes = self.sdk.shared().outbox_changed().subscribe();
        self.retry_now()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status()?;
            let announcing = !self
                .sdk
                .shared()
                .announcing()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty();
            if status.pending == 0 && !announcing {
                return Ok(status);
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(Error::ShutDown);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return self.status(),
                () = self.sdk.stopped() => return Err(Error::ShutDown),
            }
        }
    }
}
