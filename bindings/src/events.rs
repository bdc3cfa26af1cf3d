//! Events to the host, through a foreign trait.

use std::sync::Arc;

use edgepoints_core as core;

use crate::number::Signed;

use crate::consent::ConsentState;
use crate::host::HostState;
use crate::host_callback::HostCallbackError;
use crate::node::NodeStats;

/// Something the app may want to show or act on.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum SdkEvent {
    /// The control plane registered this device (once, on the first call that needs it).
    Registered { device_id: String },
    /// The user's consent changed here (granted, revoked, or a new policy).
    ConsentChanged { state: ConsentState },
    /// A consent decision could not be reported yet; it goes later, by itself.
    ConsentReportPending { revision: i64, reason: String },
    /// The control plane holds the consent decision `revision`.
    ConsentReported { revision: i64 },
    /// A manifest sync fetched `done` of `total` items (`bytes` so far).
    SyncProgress { done: i64, total: i64, bytes: i64 },
    /// The host state changed (network, battery, charging, foreground).
    HostStateChanged { state: HostState },
    /// The control plane probed the node's addresses: these answered.
    AddressesProbed {
        reachable: Vec<String>,
        seen_from: Option<String>,
    },
    /// The control plane credited points.
    PointsCredited {
        points: i64,
        balance: i64,
        reason: crate::points::LedgerReason,
    },
    /// The running node's counters changed (at most once a second).
    NodeStats { stats: NodeStats },
    /// A member logged in on this device.
    LoggedIn { member_id: String, member: String },
    /// The member logged out here (or closed the account).
    LoggedOut { member_id: String },
    /// The control plane ended the session: log in again. Once per session.
    SessionExpired { member_id: String },
    /// A notice pushed to the member; each comes once.
    NoticeReceived { notice: crate::members::MemberNotice },
    /// A coupon was redeemed twice; both tills hear it once.
    RedemptionConflict {
        conflict: crate::coupons::RedemptionConflict,
    },
    /// A coupon claim was answered: the coupon is held.
    CouponClaimed { coupon: crate::coupons::HeldCoupon },
    /// A held coupon was given back, with the points refunded for it.
    CouponGivenBack { serial: String, refunded_points: i64 },
    /// The member spent points on a coupon or a reward (`what` names it).
    PointsSpent {
        points: i64,
        reason: crate::points::LedgerReason,
        what: String,
    },
    /// The rental moved to another phase, or the control plane's word on
    /// it changed.
    RentalChanged {
        rental_id: String,
        phase: crate::rental::RentalPhase,
    },
    /// The control plane answered an outbox entry: it was applied, once.
    OutboxEntryCompleted {
        id: i64,
        kind: String,
        idempotency_key: String,
    },
    /// The control plane refused an outbox entry for good; nothing of it was applied.
    OutboxEntryFailed {
        id: i64,
        kind: String,
        status: i32,
        code: String,
        reason: String,
    },
}

impl From<core::Event> for SdkEvent {
    fn from(event: core::Event) -> Self {
        match event {
            core::Event::Registered { device_id } => SdkEvent::Registered { device_id },
            core::Event::ConsentChanged { state } => SdkEvent::ConsentChanged { state: state.into() },
            core::Event::ConsentReportPending { revision, reason } => SdkEvent::ConsentReportPending {
                revision: revision.signed(),
                reason,
            },
            core::Event::ConsentReported { revision } => SdkEvent::ConsentReported {
                revision: revision.signed(),
            },
            core::Event::HostStateChanged { state } => SdkEvent::HostStateChanged { state: state.into() },
            core::Event::SyncProgress { done, total, bytes } => SdkEvent::SyncProgress {
                done: done.signed(),
                total: total.signed(),
                bytes: bytes.signed(),
            },
            core::Event::AddressesProbed { reachable, seen_from } => SdkEvent::AddressesProbed { reachable, seen_from },
            core::Event::PointsCredited {
                points,
                balance,
                reason,
            } => SdkEvent::PointsCredited {
                points: points.signed(),
                balance: balance.signed(),
                reason: reason.into(),
            },
            core::Event::NodeStats { stats } => SdkEvent::NodeStats { stats: stats.into() },
            core::Event::LoggedIn { member_id, member } => SdkEvent::LoggedIn { member_id, member },
            core::Event::LoggedOut { member_id } => SdkEvent::LoggedOut { member_id },
            core::Event::SessionExpired { member_id } => SdkEvent::SessionExpired { member_id },
            core::Event::NoticeReceived { notice } => SdkEvent::NoticeReceived { notice: notice.into() },
            core::Event::CouponClaimed { coupon } => SdkEvent::CouponClaimed { coupon: coupon.into() },
            core::Event::CouponGivenBack {
                serial,
                refunded_points,
            } => SdkEvent::CouponGivenBack {
                serial,
                refunded_points: refunded_points.signed(),
            },
            core::Event::PointsSpent { points, reason, what } => SdkEvent::PointsSpent {
                points: points.signed(),
                reason: reason.into(),
                what,
            },
            core::Event::RedemptionConflict { conflict } => SdkEvent::RedemptionConflict {
                conflict: conflict.into(),
            },
            core::Event::RentalChanged { rental_id, phase } => SdkEvent::RentalChanged {
                rental_id,
                phase: phase.into(),
            },
            core::Event::OutboxEntryCompleted {
                id,
                kind,
                idempotency_key,
            } => SdkEvent::OutboxEntryCompleted {
                id,
                kind,
                idempotency_key,
            },
            core::Event::OutboxEntryFailed {
                id,
                kind,
                status,
                code,
                reason,
            } => SdkEvent::OutboxEntryFailed {
                id,
                kind,
                status: status.signed(),
                code,
                reason,
            },
        }
    }
}

/// Implemented by the app. Called on an SDK thread; return quickly and hop
/// to the main thread for UI work. If it throws, the SDK counts the failure,
/// logs the first one, and carries on: the call that sent the event is not
/// affected.
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// Receives one event.
    fn on_event(&self, event: SdkEvent) -> Result<(), HostCallbackError>;
}

pub(crate) struct ListenerBridge(pub Arc<dyn EventListener>);

impl core::EventListener for ListenerBridge {
    fn on_event(&self, event: core::Event) -> Result<(), core::HostCallbackError> {
        Ok(self.0.on_event(event.into())?)
    }
}
