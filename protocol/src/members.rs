//! Members: accounts a person signs up for and logs in to from a device,
//! and the server sessions a login opens.
//!
//! Sign-up, login, logout and account closing are device-signed envelopes
//! (so they go through the idempotency layer like every mutating call, and
//! only a registered device can ask). A session is a 128-bit random key,
//! new at every login; member calls carry it in [`SESSION_HEADER`]. An
//! expired or revoked session is a 401 with the code `session_expired`.
//!
//! A wrong password and an unknown member get the same answer
//! (`login_failed`), and repeated failures for one member name are slowed
//! down with a 429 whose `Retry-After` grows.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// The header that carries a member's session key.
pub const SESSION_HEADER: &str = "edgepoints-session";

/// Longest member name, in bytes.
pub const MAX_MEMBER_NAME: usize = 64;
/// Shortest and longest password, in bytes.
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// Why a member name or password is refused at sign-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberInputError {
    #[error("a member name is 3 to {MAX_MEMBER_NAME} characters of letters, digits, '.', '_', '-' or '@'")]
    BadName,
    #[error("a password is {MIN_PASSWORD} to {MAX_PASSWORD} bytes")]
    BadPassword,
}

/// The member name as accounts are keyed: trimmed and lower-cased, so
/// `Alice@Example.com` and `alice@example.com` are one account.
pub fn normalise_member_name(name: &str) -> Result<String, MemberInputError> {
    let name = name.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.len() < 3 || name.len() > MAX_MEMBER_NAME || !name.chars().all(allowed) {
        return Err(MemberInputError::BadName);
    }
    Ok(name)
}

pub fn validate_password(password: &str) -> Result<(), MemberInputError> {
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&password.len()) {
        Ok(())
    } else {
        Err(MemberInputError::BadPassword)
    }
}

/// Payload of a sign-up, signed by the device it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberSignUp {
    pub device_id: DeviceId,
    pub member: String,
    pub password: String,
}

/// The control plane's answer to a sign-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberSignedUp {
    /// The member's stable id (not the name, which the member typed).
    pub member_id: String,
    pub member: String,
    pub created_at_ms: u64,
}

/// Payload of a login, signed by the device the session will belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberLogin {
    pub device_id: DeviceId,
    pub member: String,
    pub password: String,
}

/// A session the control plane opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberSession {
    pub member_id: String,
    pub member: String,
    /// 128 random bits, hex; the member's calls carry it.
    pub session_key: String,
    pub created_at_ms: u64,
    /// When the session ends if no call comes before.
    pub idle_expires_at_ms: u64,
    /// When it ends whatever happens.
    pub absolute_expires_at_ms: u64,
}

/// Payload of a logout (ends the session) or of an account closing (ends
/// the account and every session of it; it asks for the password again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionEnd {
    pub device_id: DeviceId,
    pub session_key: String,
    /// Only for closing the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The answer to a logout or an account closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionEnded {
    pub member_id: String,
    /// Sessions ended: 1 for a logout, every open one for a closing.
    pub sessions_ended: u32,
}

/// Idle and absolute session timeouts, and the session heartbeat interval
/// the control plane asks for, in ms (QA sets them on the mock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionTimeouts {
    pub idle_ms: u64,
    pub absolute_ms: u64,
    /// Well under the idle timeout, so a live app keeps its session.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
}

fn default_heartbeat_interval_ms() -> u64 {
    60_000
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        SessionTimeouts {
            idle_ms: 15 * 60 * 1000,
            absolute_ms: 8 * 3600 * 1000,
            heartbeat_interval_ms: default_heartbeat_interval_ms(),
        }
    }
}

impl SessionTimeouts {
    /// Why these timeouts make no sense, if they do not: an idle timeout
    /// of 0, an absolute one under the idle one, or a heartbeat interval
    /// not under half the idle timeout (one lost beat must not end a
    /// session).
    pub fn problem(&self) -> Option<&'static str> {
        if self.idle_ms == 0 || self.absolute_ms < self.idle_ms {
            Some("the idle timeout must be above 0 and at most the absolute one")
        } else if self.heartbeat_interval_ms == 0 || self.heartbeat_interval_ms > self.idle_ms / 2 {
            Some("the heartbeat interval must be above 0 and at most half the idle timeout")
        } else {
            None
        }
    }
}

/// A member's session heartbeat, signed by the session's device. It keeps
/// the session alive and acknowledges the notices the app has stored, so
/// the control plane drops them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberHeartbeat {
    pub device_id: DeviceId,
    pub session_key: String,
    /// Notices received (from earlier answers) and stored by the device.
    #[serde(default)]
    pub acked: Vec<String>,
    pub sent_at_ms: u64,
}

/// The answer to a member heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberHeartbeatAccepted {
    /// The session, its idle expiry renewed.
    pub session: MemberSession,
    /// When to send the next one (the device adds jitter).
    pub next_interval_ms: u64,
    /// Every notice for the member not yet acknowledged, oldest first: a
    /// notice whose answer was lost comes again until it is acknowledged.
    pub notices: Vec<Notice>,
}

/// Most notices one heartbeat answer carries; the rest come with the next.
pub const MAX_NOTICES_PER_ANSWER: usize = 50;

/// A message the control plane pushes to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    /// Unique; the device stores it so each notice reaches the app once.
    pub notice_id: String,
    /// What it is about; see [`notice_kinds`] (an app shows unknown kinds
    /// by their text).
    pub kind: String,
    /// For people.
    pub text: String,
    pub posted_at_ms: u64,
}

/// The kinds of notice the control plane sends.
pub mod notice_kinds {
    /// A message QA or an operator posted.
    pub const MESSAGE: &str = "message";
    pub const RESERVATION_EXPIRING: &str = "reservation_expiring";
    pub const RENTAL_BILLED: &str = "rental_billed";
    pub const SMS_SENT: &str = "sms_sent";
    pub const CHARGING_FINISHED: &str = "charging_finished";
    pub const COUPON_REDEEMED: &str = "coupon_redeemed";
}

/// QA posts a notice to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticePost {
    #[serde(default = "default_notice_kind")]
    pub kind: String,
    pub text: String,
}

fn default_notice_kind() -> String {
    notice_kinds::MESSAGE.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_account_whatever_their_case_and_bad_ones_are_refused() {
        assert_eq!(
            normalise_member_name(" Alice@Example.com ").unwrap(),
            "alice@example.com"
        );
        assert_eq!(normalise_member_name("ab"), Err(MemberInputError::BadName));
        assert_eq!(normalise_member_name("a b c"), Err(MemberInputError::BadName));
        assert_eq!(normalise_member_name(&"x".repeat(65)), Err(MemberInputError::BadName));
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"p".repeat(129)).is_err());
    }

    #[test]
    fn timeouts_keep_the_heartbeat_under_half_the_idle_timeout() {
        assert_eq!(SessionTimeouts::default().problem(), None);
        let mut t = SessionTimeouts::default();
        t.heartbeat_interval_ms = t.idle_ms;
        assert!(t.problem().is_some());
        t.heartbeat_interval_ms = 1;
        t.absolute_ms = t.idle_ms - 1;
        assert!(t.problem().is_some());
        // Timeouts stored before the heartbeat interval existed still read.
        let old: SessionTimeouts = serde_json::from_str(r#"{"idle_ms":1000,"absolute_ms":2000}"#).unwrap();
        assert_eq!(old.heartbeat_interval_ms, 60_000);
    }
}
