//! The member session as this device keeps it: stored, so a restart
//! resumes it; carried by every member call; ended here when the control
//! plane says it expired.

use edgepoints_protocol::{ProblemCode, SESSION_HEADER};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;

use super::MemberSession;
use crate::events::Event;
use crate::secrets::MEMBER_SESSION;
use crate::shared::Shared;
use crate::{Error, StoreError};

/// The stored session, with its key (which never leaves the SDK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSession {
    pub session: MemberSession,
    pub key: String,
    pub live: bool,
}

/// What names a session in the database without being its key: a hash of
/// the key (the key itself is in the secret store).
pub(crate) fn tag(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex()[..32].to_owned()
}

/// The stored session without its key (what the app may see).
pub(crate) fn record(shared: &Shared) -> Result<Option<(MemberSession, bool)>, StoreError> {
    shared.store().with(|c| {
        Ok(c.query_row(
            "SELECT member_id, member, created_at_ms, idle_expires_at_ms, absolute_expires_at_ms, state
             FROM member_session",
            [],
            |r| {
                Ok((
                    MemberSession {
                        member_id: r.get(0)?,
                        member: r.get(1)?,
                        created_at_ms: r.get::<_, i64>(2)? as u64,
                        idle_expires_at_ms: r.get::<_, i64>(3)? as u64,
                        absolute_expires_at_ms: r.get::<_, i64>(4)? as u64,
                    },
                    r.get::<_, String>(5)? == "live",
                ))
            },
        )
        .optional()?)
    })
}

/// The stored session with its key. A live session whose key the secret
/// store lost is [`Error::SecretLost`] (log out, and in again); an expired
/// one needs no key.
pub(crate) fn load(shared: &Shared) -> Result<Option<StoredSession>, Error> {
    let Some((session, live)) = record(shared)? else {
        return Ok(None);
    };
    let key = match shared.secrets().load(MEMBER_SESSION)? {
        Some(key) => String::from_utf8(key).map_err(|_| StoreError::Corrupt("the session key is not text".into()))?,
        None if live => {
            return Err(Error::SecretLost {
                secret: format!("the session key of member {}", session.member_id),
            })
        }
        None => String::new(),
    };
    Ok(Some(StoredSession { session, key, live }))
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

/// Keeps a new session's key in the secret store: before
/// [`store`] records the session, so a recorded live session has its key.
pub(crate) fn keep_key(shared: &Shared, session: &edgepoints_protocol::MemberSession) -> Result<(), Error> {
    shared.secrets().save(MEMBER_SESSION, session.session_key.as_bytes())
}

/// Forgets the session's key, after its record is gone.
pub(crate) fn forget_key(shared: &Shared) -> Result<(), Error> {
    shared.secrets().delete(MEMBER_SESSION)
}

/// Records a new live session in the caller's transaction, replacing any
/// (its key was kept by [`keep_key`]).
pub(crate) fn store(
    tx: &rusqlite::Transaction<'_>,
    session: &edgepoints_protocol::MemberSession,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO member_session (singleton, member_id, member, session_tag, created_at_ms,
                                     idle_expires_at_ms, absolute_expires_at_ms, state)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, 'live')
         ON CONFLICT (singleton) DO UPDATE SET member_id = ?1, member = ?2, session_tag = ?3,
             created_at_ms = ?4, idle_expires_at_ms = ?5, absolute_expires_at_ms = ?6, state = 'live'",
        params![
            session.member_id,
            session.member,
            tag(&session.session_key),
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
             WHERE session_tag = ?1 AND state = 'live'",
            params![
                tag(&session.session_key),
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

/// At open: resumes a stored live session (its key is read when a call
/// needs it).
pub(crate) fn resume(shared: &Shared) -> Result<(), StoreError> {
    if let Some((session, true)) = record(shared)? {
        tracing::info!(member_id = %session.member_id, "member session resumed");
        follow(shared, Some(&session.member_id));
    }
    Ok(())
}

/// The control plane said the session `key` is over: member calls fail
/// with [`Error::SessionExpired`] until the next login, and the app hears
/// it once.
pub(crate) fn expired(shared: &Shared, stored: &StoredSession) -> Result<Error, StoreError> {
    let changed = shared.store().with(|c| {
        Ok(c.execute(
            "UPDATE member_session SET state = 'expired' WHERE session_tag = ?1 AND state = 'live'",
            [tag(&stored.key)],
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
