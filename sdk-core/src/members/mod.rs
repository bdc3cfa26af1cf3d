//! Members: a person's account, logged in on this device.
//!
//! - Sign-up and login are direct calls (their password is never written
//!   to the store, so they cannot wait in the outbox): retried with one
//!   idempotency key, so a lost answer never makes two accounts or two
//!   sessions.
//! - The session is stored and resumed after a restart; every member call
//!   carries it. When the control plane says it expired, member calls fail
//!   with [`Error::SessionExpired`] and the app gets one
//!   [`Event::SessionExpired`], until the next login.
//! - Logging out ends the session here at once and on the control plane
//!   through the outbox, so it happens even if the network is down now.
//! - After login the transport sticks to the member's endpoint (by member
//!   id, not device id), and the member heartbeat ([`heartbeat`]) keeps the
//!   session and brings pushed notices ([`notices`]).

pub(crate) mod heartbeat;
mod notices;
pub(crate) mod session;

use edgepoints_protocol::members::{normalise_member_name, validate_password};
use edgepoints_protocol::{
    paths, MemberLogin, MemberSignUp, MemberSignedUp, ProblemCode, Purpose, SessionEnd, SessionEnded,
};
use reqwest::Method;
use serde_json::json;

use crate::edgepoints::EdgePoints;
use crate::events::Event;
use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
use crate::{Error, StoreError};

/// A session of the member logged in on this device (its key stays inside
/// the SDK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSession {
    pub member_id: String,
    /// The member name, normalised (trimmed, lower case).
    pub member: String,
    pub created_at_ms: u64,
    /// As of the last call the control plane answered: each call renews it.
    pub idle_expires_at_ms: u64,
    pub absolute_expires_at_ms: u64,
}

impl From<&edgepoints_protocol::MemberSession> for MemberSession {
    fn from(session: &edgepoints_protocol::MemberSession) -> Self {
        MemberSession {
            member_id: session.member_id.clone(),
            member: session.member.clone(),
            created_at_ms: session.created_at_ms,
            idle_expires_at_ms: session.idle_expires_at_ms,
            absolute_expires_at_ms: session.absolute_expires_at_ms,
        }
    }
}

/// Where the member side of this device stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberState {
    LoggedOut,
    LoggedIn {
        session: MemberSession,
    },
    /// The control plane ended the session (timeout, QA, account closed
    /// elsewhere); member calls fail until the next login.
    Expired {
        member_id: String,
    },
}

/// A new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUp {
    pub member_id: String,
    pub member: String,
    pub created_at_ms: u64,
}

/// A notice the control plane pushed to the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberNotice {
    pub notice_id: String,
    pub member_id: String,
    /// See `edgepoints_protocol::members::notice_kinds`.
    pub kind: String,
    pub text: String,
    pub posted_at_ms: u64,
    pub received_at_ms: u64,
}

/// Sign-up, login, logout and the member's session and notices. Obtained
/// from [`EdgePoints::members`].
#[derive(Clone)]
pub struct Members {
    sdk: EdgePoints,
}

/// The typed error for a refusal a member call can get.
fn member_error(error: Error) -> Error {
    match &error {
        Error::Rejected { problem, .. } => match problem.code {
            ProblemCode::LoginFailed => Error::LoginFailed,
            ProblemCode::MemberTaken => Error::MemberTaken,
            ProblemCode::MalformedRequest => {
                Error::InvalidInput(problem.detail.clone().unwrap_or_else(|| problem.title.clone()))
            }
            _ => error,
        },
        _ => error,
    }
}

/// A direct signed call of a member flow, its refusals typed.
async fn signed_post<T: serde::Serialize>(
    shared: &Shared,
    purpose: Purpose,
    path: String,
    payload: &T,
) -> Result<Vec<u8>, Error> {
    crate::transport::signed_post(shared, purpose, path, payload)
        .await
        .map_err(member_error)
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("{what}: {e}")))
}

/// Writes the logout of `stored` to the outbox in the caller's
/// transaction: the control plane ends it when it can be reached.
fn queue_logout(
    shared: &Shared,
    tx: &rusqlite::Transaction<'_>,
    stored: &session::StoredSession,
) -> Result<i64, StoreError> {
    let payload = SessionEnd {
        device_id: shared.identity().device_id().clone(),
        session_key: stored.key.clone(),
        password: None,
    };
    let envelope = shared.identity().sign(Purpose::SessionEnd, &payload);
    let (id, _) = outbox::enqueue(
        tx,
        NewEntry {
            kind: EntryKind::Logout,
            method: Method::POST,
            path: paths::device_logout(shared.identity().device_id().as_str()),
            body: serde_json::to_vec(&envelope).expect("envelope serialises"),
            context: json!({ "member_id": stored.session.member_id }),
            idempotency_key: None,
        },
    )?;
    Ok(id)
}

impl Members {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Members { sdk }
    }

    fn shared(&self) -> &Shared {
        self.sdk.shared()
    }

    /// Creates an account. Names are 3 to 64 letters, digits and `.`, `_`,
    /// `-`, `@` (case does not matter); passwords 8 to 128 bytes. A taken
    /// name is [`Error::MemberTaken`]. Does not log in.
    pub async fn sign_up(&self, member: &str, password: &str) -> Result<SignedUp, Error> {
        self.shared().ensure_open()?;
        let name = normalise_member_name(member).map_err(|e| Error::InvalidInput(e.to_string()))?;
        validate_password(password).map_err(|e| Error::InvalidInput(e.to_string()))?;
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let password = password.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let payload = MemberSignUp {
                    device_id: shared.identity().device_id().clone(),
                    member: name,
                    password,
                };
                let body = signed_post(
                    shared,
                    Purpose::MemberSignUp,
                    paths::device_members(shared.identity().device_id().as_str()),
                    &payload,
                )
                .await?;
                let signed_up: MemberSignedUp = parse("sign-up answer", &body)?;
                Ok(SignedUp {
                    member_id: signed_up.member_id,
                    member: signed_up.member,
                    created_at_ms: signed_up.created_at_ms,
                })
            })
            .await
    }

    /// Logs `member` in on this device: a new session, stored, and from
    /// now on carried by member calls. A wrong name or password is
    /// [`Error::LoginFailed`] (alike, as the control plane does not say
    /// which); after repeated failures, [`Error::TooManyAttempts`] says how
    /// long to wait. A member logged in before is logged out.
    pub async fn login(&self, member: &str, password: &str) -> Result<MemberSession, Error> {
        self.shared().ensure_open()?;
        if member.trim().is_empty() || password.is_empty() {
            return Err(Error::InvalidInput("a login needs a member name and a password".into()));
        }
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let (member, password) = (member.to_owned(), password.to_owned());
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let payload = MemberLogin {
                    device_id: shared.identity().device_id().clone(),
                    member,
                    password,
                };
                let body = signed_post(
                    shared,
                    Purpose::MemberLogin,
                    paths::device_login(shared.identity().device_id().as_str()),
                    &payload,
                )
                .await?;
                let opened: edgepoints_protocol::MemberSession = parse("login answer", &body)?;
                // A session whose key is lost cannot be ended on the
                // control plane (its idle timeout ends it); the new one
                // replaces it here all the same.
                let before = match session::load(shared) {
                    Err(Error::SecretLost { .. }) => None,
                    other => other?.filter(|s| s.live),
                };
                session::keep_key(shared, &opened)?;
                shared.store().with(|c| {
                    let tx = c.transaction()?;
                    if let Some(before) = &before {
                        queue_logout(shared, &tx, before)?;
                    }
                    session::store(&tx, &opened)?;
                    tx.commit()?;
                    Ok(())
                })?;
                if before.is_some() {
                    shared.outbox_wake().notify_one();
                }
                session::follow(shared, Some(&opened.member_id));
                tracing::info!(member_id = %opened.member_id, "member logged in");
                shared.events().emit(Event::LoggedIn {
                    member_id: opened.member_id.clone(),
                    member: opened.member.clone(),
                });
                Ok(MemberSession::from(&opened))
            })
            .await
    }

    /// Logs the member out: at once on this device (member calls fail with
    /// [`Error::NotLoggedIn`] from now), and on the control plane through
    /// the outbox, so a broken network delays it but does not lose it.
    /// Logging out of an expired session just forgets it.
    pub fn logout(&self) -> Result<(), Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let Some((session, live)) = session::record(shared)? else {
            return Err(Error::NotLoggedIn);
        };
        // Without its key the session cannot be ended on the control plane
        // (its idle timeout ends it there); here it ends all the same.
        let stored = match session::load(shared) {
            Err(Error::SecretLost { secret }) => {
                tracing::warn!(%secret, "logging out without the session key");
                None
            }
            other => other?,
        };
        shared.store().with(|c| {
            let tx = c.transaction()?;
            if let Some(stored) = stored.as_ref().filter(|_| live) {
                queue_logout(shared, &tx, stored)?;
            }
            tx.execute("DELETE FROM member_session", [])?;
            tx.commit()?;
            Ok(())
        })?;
        session::forget_key(shared)?;
        shared.outbox_wake().notify_one();
        session::follow(shared, None);
        tracing::info!(member_id = %session.member_id, "member logged out");
        shared.events().emit(Event::LoggedOut {
            member_id: session.member_id,
        });
        Ok(())
    }

    /// Closes the member's account (the password again, as a check) and
    /// ends all its sessions, on every device. Needs the network.
    pub async fn close_account(&self, password: &str) -> Result<(), Error> {
        self.shared().ensure_open()?;
        let sdk = self.sdk.clone();
        let password = password.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let stored = session::live(shared)?;
                let payload = SessionEnd {
                    device_id: shared.identity().device_id().clone(),
                    session_key: stored.key.clone(),
                    password: Some(password),
                };
                let path = paths::device_member_close(shared.identity().device_id().as_str());
                let body = match signed_post(shared, Purpose::SessionEnd, path, &payload).await {
                    Err(error) if session::is_session_expired(&error) => {
                        return Err(session::expired(shared, &stored)?)
                    }
                    other => other?,
                };
                let ended: SessionEnded = parse("account closing answer", &body)?;
                shared.store().with(|c| {
                    c.execute("DELETE FROM member_session", [])?;
                    Ok(())
                })?;
                session::forget_key(shared)?;
                session::follow(shared, None);
                tracing::info!(member_id = %ended.member_id, sessions = ended.sessions_ended, "member account closed");
                shared.events().emit(Event::LoggedOut {
                    member_id: ended.member_id,
                });
                Ok(())
            })
            .await
    }

    /// Where the member side stands, from the store (no network).
    pub fn state(&self) -> Result<MemberState, Error> {
        self.shared().ensure_open()?;
        Ok(match session::record(self.shared())? {
            None => MemberState::LoggedOut,
            Some((session, true)) => MemberState::LoggedIn { session },
            Some((session, false)) => MemberState::Expired {
                member_id: session.member_id,
            },
        })
    }

    /// Asks the control plane for the session (which renews it): the
    /// session with its new expiry, or [`Error::SessionExpired`].
    pub async fn check_session(&self) -> Result<MemberSession, Error> {
        self.shared().ensure_open()?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let path = paths::device_session(shared.identity().device_id().as_str());
                let current: edgepoints_protocol::MemberSession = session::member_get(shared, path).await?;
                session::renewed(shared, &current)?;
                Ok(MemberSession::from(&current))
            })
            .await
    }

    /// Sends a member heartbeat now (the timer sends them anyway): keeps
    /// the session, acknowledges stored notices, and returns the notices
    /// it brought that the app had not had (each also a
    /// [`Event::NoticeReceived`]).
    pub async fn heartbeat_now(&self) -> Result<Vec<MemberNotice>, Error> {
        self.shared().ensure_open()?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { Ok(heartbeat::beat(sdk.shared()).await?.0) })
            .await
    }

    /// The logged-in member's notices as stored on this device, newest
    /// first, at most `limit` (acknowledged ones are kept 30 days).
    pub fn notices(&self, limit: u32) -> Result<Vec<MemberNotice>, Error> {
        self.shared().ensure_open()?;
        let stored = session::live(self.shared())?;
        Ok(notices::list(self.shared(), &stored.session.member_id, limit)?)
    }
}
