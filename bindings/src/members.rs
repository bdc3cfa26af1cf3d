//! Members as Kotlin and Swift see them.

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::EdgePointsError;

/// The session of the member logged in on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberSession {
    pub member_id: String,
    /// The member name, normalised (trimmed, lower case).
    pub member: String,
    pub created_at_ms: i64,
    /// As of the last call the control plane answered; each call renews it.
    pub idle_expires_at_ms: i64,
    pub absolute_expires_at_ms: i64,
}

impl From<core::MemberSession> for MemberSession {
    fn from(s: core::MemberSession) -> Self {
        MemberSession {
            member_id: s.member_id,
            member: s.member,
            created_at_ms: s.created_at_ms.signed(),
            idle_expires_at_ms: s.idle_expires_at_ms.signed(),
            absolute_expires_at_ms: s.absolute_expires_at_ms.signed(),
        }
    }
}

/// Where the member side of this device stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum MemberState {
    /// No member is logged in on this device.
    LoggedOut,
    /// A member is logged in, with a live session.
    LoggedIn { session: MemberSession },
    /// The control plane ended the session; log in again.
    Expired { member_id: String },
}

impl From<core::MemberState> for MemberState {
    fn from(state: core::MemberState) -> Self {
        match state {
            core::MemberState::LoggedOut => MemberState::LoggedOut,
            core::MemberState::LoggedIn { session } => MemberState::LoggedIn {
                session: session.into(),
            },
            core::MemberState::Expired { member_id } => MemberState::Expired { member_id },
        }
    }
}

/// A new account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedUp {
    pub member_id: String,
    pub member: String,
    pub created_at_ms: i64,
}

impl From<core::SignedUp> for SignedUp {
    fn from(s: core::SignedUp) -> Self {
        SignedUp {
            member_id: s.member_id,
            member: s.member,
            created_at_ms: s.created_at_ms.signed(),
        }
    }
}

/// A notice the control plane pushed to the member; each comes once.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberNotice {
    pub notice_id: String,
    pub member_id: String,
    /// `message`, `reservation_expiring`, `rental_billed`, `sms_sent`,
    /// `charging_finished`, `coupon_redeemed`, or a newer kind.
    pub kind: String,
    pub text: String,
    pub posted_at_ms: i64,
    pub received_at_ms: i64,
}

impl From<core::MemberNotice> for MemberNotice {
    fn from(n: core::MemberNotice) -> Self {
        MemberNotice {
            notice_id: n.notice_id,
            member_id: n.member_id,
            kind: n.kind,
            text: n.text,
            posted_at_ms: n.posted_at_ms.signed(),
            received_at_ms: n.received_at_ms.signed(),
        }
    }
}

/// Sign-up, login, logout, the session and the member's notices.
#[derive(uniffi::Object)]
pub struct Members {
    inner: core::Members,
}

impl Members {
    pub(crate) fn new(inner: core::Members) -> Self {
        Members { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Members {
    /// Creates an account (does not log in). A taken name throws
    /// `MemberTaken`.
    pub async fn sign_up(&self, member: String, password: String) -> Result<SignedUp, EdgePointsError> {
        Ok(self.inner.sign_up(&member, &password).await?.into())
    }

    /// Logs in on this device: a new session, kept across restarts. A wrong
    /// name or password throws `LoginFailed`; repeated failures
    /// `TooManyAttempts` with the seconds to wait.
    pub async fn login(&self, member: String, password: String) -> Result<MemberSession, EdgePointsError> {
        Ok(self.inner.login(&member, &password).await?.into())
    }

    /// Logs out at once here; the control plane hears it through the outbox.
    pub fn logout(&self) -> Result<(), EdgePointsError> {
        Ok(self.inner.logout()?)
    }

    /// Closes the account (the password again) and ends all its sessions.
    pub async fn close_account(&self, password: String) -> Result<(), EdgePointsError> {
        Ok(self.inner.close_account(&password).await?)
    }

    /// Where the member side stands (no network).
    pub fn state(&self) -> Result<MemberState, EdgePointsError> {
        Ok(self.inner.state()?.into())
    }

    /// Asks the control plane for the session, which renews it.
    pub async fn check_session(&self) -> Result<MemberSession, EdgePointsError> {
        Ok(self.inner.check_session().await?.into())
    }

    /// A member heartbeat now: the notices it brought that the app had not had.
    pub async fn heartbeat_now(&self) -> Result<Vec<MemberNotice>, EdgePointsError> {
        Ok(self.inner.heartbeat_now().await?.into_iter().map(Into::into).collect())
    }

    /// The member's stored notices, newest first, at most `limit`.
    pub fn notices(&self, limit: i32) -> Result<Vec<MemberNotice>, EdgePointsError> {
        Ok(self
            .inner
            .notices(unsigned("limit", limit)?)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
