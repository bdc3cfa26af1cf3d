//! The member session as this device keeps it: stored, so a restart
//! resumes it; carried by every member call; ended here when the control
//! plane says it expired.

use edgepoints_protocol::{ProblemCode, SESSION_HEADER};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;

use super::MemberSession;
use crate::events::Event;
use crate::shared::Shared;
use crate::{Error, StoreError};

/// The stored session, with its key (which never leaves the SDK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSession {
    pub session: MemberSession,
    pub key: String,
    pub live: bool,
}

pub(crate) fn load(shared: &Shared) -> Result<Option<StoredSession>, StoreError> {
    shared.store().with(|c| {
        Ok(c.query_row(
            "SELECT member_id, member, session_key, created_at_ms, idle_expires_at_ms, absolute_expires_at_ms, state
             FROM member_session",
            [],
            |r| {
                Ok(StoredSession {
                    session: MemberSession {
                        member_id: r.get(0)?,
                        member: r.get(1)?,
                        created_at_ms: r.get::<_, i64>(3)? as u64,
                        idle_expires_at_ms: r.get::<_, i64>(4)? as u64,
                        absolute_expires_at_ms: r.get::<_, i64>(5)? as u64,
                    },
                    key: r.get(2)?,
                    live: r.get::<_, String>(6)? == "live",
                })
            },
        )
        .optional()?)
    })
}

/// The live session, or why member calls cannot be made now.
pub(crate) fn live(shared: &Shared) -> Result<StoredSession, Error> {
    match load(shared)? {
        Some(stored) if stored.live => Ok(stored),
        Some(stored) => Err(Error::SessionExpired {
            member_id: stored.session.member_id,
        }),
        None => Err(Error::NotLoggedIn),
    }
}

/// Stores a new live session in the caller's transaction, replacing any.
pub(crate) fn store(
    tx: &rusqlite::Transaction<'_>,
    session: &edgepoints_protocol::MemberSession,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO member_session (singleton, member_id, member, session_key, created_at_ms,
                                     idle_expires_at_ms, absolute_expires_at_ms, state)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, 'live')
         ON CONFLICT (singleton) DO UPDATE SET member_id = ?1, member = ?2, session_key = ?3,
             created_at_ms = ?4, idle_expires_at_ms = ?5, absolute_expires_at_ms = ?6, state = 'live'",
        params![
            session.member_id,
            session.member,
            session.session_key,
            session.created_at_ms as i64,
            session.idle_expires_at_ms as i64,
            session.absolute_expires_at_ms as i64
        ],
    )?;
    Ok(())
}

/// The control plane renewed the session: its new idle expiry.
pub(crate) fn renewed(shared: &Shared, session: &edgepoints_protocol::MemberSession) -> Result<(), StoreError> {
    shared.store().with(|c| {
        c.execute(
            "UPDATE member_session SET idle_expires_at_ms = ?2, absolute_expires_at_ms = ?3
             WHERE session_key = ?1 AND state = 'live'",
            params![
                session.session_key,
                session.idle_expires_at_ms as i64,
                session.absolute_expires_at_ms as i64
            ],
        )?;
        Ok(())
    })
}

/// Whose calls the transport sticks to, and whom the heartbeat keeps: the
/// live member, or the device.
pub(crate) fn follow(shared: &Shared, member_id: Option<&str>) {
    let device = shared.identity().device_id().to_string();
    shared.transport().stick_to(member_id.unwrap_or(&device));
    shared.member().send_if_modified(|current| {
        let next = member_id.map(str::to_owned);
        if *current == next {
            false
        } else {
            *current = next;
            true
        }
    });
}

/// At open: resumes a stored live session.
pub(crate) fn resume(shared: &Shared) -> Result<(), StoreError> {
    if let Some(stored) = load(shared)?.filter(|s| s.live) {
        tracing::info!(member_id = %stored.session.member_id, "member session resumed");
        follow(shared, Some(&stored.session.member_id));
    }
    Ok(())
}

/// The control plane said the session `key` is over: member calls fail
/// with [`Error::SessionExpired`] until the next login, and the app hears
/// it once.
pub(crate) fn expired(shared: &Shared, stored: &StoredSession) -> Result<Error, StoreError> {
    let changed = shared.store().with(|c| {
        Ok(c.execute(
            "UPDATE member_session SET state = 'expired' WHERE session_key = ?1 AND state = 'live'",
            [&stored.key],
        )?)
    })?;
    if changed > 0 {
        tracing::info!(member_id = %stored.session.member_id, "member session expired");
        follow(shared, None);
        shared.events().emit(Event::SessionExpired {
            member_id: stored.session.member_id.clone(),
        });
    }
    Ok(Error::SessionExpired {
        member_id: stored.session.member_id.clone(),
    })
}

/// Whether the control plane refused a call because the session is over.
pub(crate) fn is_session_expired(error: &Error) -> bool {
    matches!(error, Error::Rejected { problem, .. } if problem.code == ProblemCode::SessionExpired)
}

/// A member read: a signed `GET` of `path` carrying the live session.
pub(crate) async fn member_get<T: DeserializeOwned>(shared: &Shared, path: String) -> Result<T, Error> {
    let stored = live(shared)?;
    let outcome = crate::transport::signed_get(shared, path, vec![(SESSION_HEADER, stored.key.clone())]).await;
    match outcome {
        Err(error) if is_session_expired(&error) => Err(expired(shared, &stored)?),
        other => other,
    }
}
