//! Events the SDK sends to the host app through one listener.

use crate::host_callback::{call_host, HostCallback};
use crate::{ConsentState, HostCallbackError, HostState};

/// Something the host app may want to show or act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The control plane registered this device (once per device).
    Registered { device_id: String },
    /// The user's consent changed on this device (before it was reported).
    ConsentChanged { state: ConsentState },
    /// A consent decision could not be reported yet; it is kept and sent later.
    ConsentReportPending { revision: u64, reason: String },
    /// The control plane holds the consent decision of this revision.
    ConsentReported { revision: u64 },
    /// Manifest sync progress: `done` of `total` items fetched so far.
    SyncProgress { done: u64, total: u64, bytes: u64 },
    /// The control plane probed the node's reported addresses: these
    /// answered (consumers are routed only to them). `seen_from` is the
    /// address the announcement came from, as the control plane saw it.
    AddressesProbed {
        reachable: Vec<String>,
        seen_from: Option<String>,
    },
    /// The control plane credited points.
    PointsCredited {
        points: u64,
        balance: u64,
        reason: edgepoints_protocol::LedgerReason,
    },
    /// The running edge node's counters changed (at most once a second).
    NodeStats { stats: crate::NodeStats },
    /// The host reported a new network, battery or foreground state.
    HostStateChanged { state: HostState },
    /// A member logged in on this device.
    LoggedIn { member_id: String, member: String },
    /// The member logged out here (or closed the account).
    LoggedOut { member_id: String },
    /// The control plane ended the member's session (timeout, QA, the
    /// account closed elsewhere): log in again. Sent once per session.
    SessionExpired { member_id: String },
    /// The control plane pushed a notice to the member; each notice comes
    /// once.
    NoticeReceived { notice: crate::MemberNotice },
    /// A coupon claim was answered: the coupon is held on this device.
    CouponClaimed { coupon: crate::HeldCoupon },
    /// A held coupon was given back (its claim rolled back), with the
    /// points refunded for it.
    CouponGivenBack { serial: String, refunded_points: u64 },
    /// The member's points were spent: on a coupon (`coupon_purchase`) or
    /// a reward (`reward_redemption`); `what` names it.
    PointsSpent {
        points: u64,
        reason: edgepoints_protocol::LedgerReason,
        what: String,
    },
    /// A coupon was redeemed twice (at least once offline): the first
    /// redemption stands; both tills get this once, with both records.
    RedemptionConflict {
        conflict: edgepoints_protocol::coupons::redemption::RedemptionConflict,
    },
    /// The rental moved to another phase, or the control plane's word on
    /// it changed.
    RentalChanged {
        rental_id: String,
        phase: crate::RentalPhase,
    },
    /// The control plane answered an outbox entry; its effect is applied.
    OutboxEntryCompleted {
        id: i64,
        kind: String,
        idempotency_key: String,
    },
    /// An outbox entry can never succeed (a final 4xx); it is ended.
    OutboxEntryFailed {
        id: i64,
        kind: String,
        status: u16,
        code: String,
        reason: String,
    },
}

/// Receives [`Event`]s. Called on the SDK's task right after the change is
/// durable and no lock is held, so a listener may call back into the SDK; it
/// should return quickly. An error (or a panic) is the listener's own: it
/// is counted and logged once, and the SDK call that sent the event goes
/// on as if the listener had returned `Ok`.
pub trait EventListener: Send + Sync + 'static {
    fn on_event(&self, event: Event) -> Result<(), HostCallbackError>;
}

/// Sends to the listener, if the host gave one.
#[derive(Clone, Default)]
pub(crate) struct EventSink {
    listener: Option<std::sync::Arc<dyn EventListener>>,
}

impl EventSink {
    pub(crate) fn new(listener: Option<std::sync::Arc<dyn EventListener>>) -> Self {
        EventSink { listener }
    }

    pub(crate) fn emit(&self, event: Event) {
        tracing::debug!(?event, "event");
        if let Some(listener) = &self.listener {
            call_host(HostCallback::EventListener, || listener.on_event(event));
        }
    }
}
