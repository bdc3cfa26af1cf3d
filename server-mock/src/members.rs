//! Member accounts and their server sessions, kept in the shared state so
//! every instance (in one process or over Redis) sees the same ones.
//!
//! - Passwords are hashed with Argon2id at OWASP's parameters (m = 19 MiB,
//!   t = 2, p = 1), a random 16-byte salt each, off the async threads.
//! - A login for an unknown member verifies against a dummy hash, so it
//!   costs the same time as a wrong password, and both get `login_failed`.
//! - Failed logins are counted per member name (known or not, so the count
//!   tells nothing either): after [`FREE_FAILURES`] in a row, the next
//!   attempt must wait 1 s, then 2 s, 4 s … up to [`MAX_WAIT_S`]; until then
//!   attempts get 429 with `Retry-After` and no hash is computed.
//! - A session is 128 random bits, new at every login, with an idle and an
//!   absolute expiry on the control plane's (QA-movable) clock. Each use
//!   renews the idle expiry and records the endpoint it came through.

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, Version};
use edgepoints_protocol::members::{normalise_member_name, validate_password, MemberInputError};
use edgepoints_protocol::{DeviceId, MemberSession, SessionTimeouts};
use serde::{Deserialize, Serialize};

use crate::points::now;
use crate::state::keys;
use crate::store::{delete, get_json, put_json, scan_json, update_json, StoreError};
use crate::ControlPlane;

/// Failed logins in a row allowed before attempts are slowed down.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait between attempts, in seconds.
pub const MAX_WAIT_S: u64 = 300;

const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;

/// One member account.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberRecord {
    pub member_id: String,
    /// The normalised name.
    pub member: String,
    salt: String,
    password_hash: String,
    pub created_at_ms: u64,
}

/// Failed logins for one member name since the last success.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
struct LoginFailures {
    count: u32,
    last_at_ms: u64,
}

impl LoginFailures {
    /// When the next attempt may be evaluated.
    fn next_allowed_at_ms(&self) -> u64 {
        if self.count < FREE_FAILURES {
            return 0;
        }
        let wait_s = (1u64 << (self.count - FREE_FAILURES).min(20)).min(MAX_WAIT_S);
        self.last_at_ms + wait_s * 1000
    }
}

/// A server session, as the shared state holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRecord {
    pub session_key: String,
    pub member_id: String,
    pub member: String,
    pub device_id: DeviceId,
    /// The address the control plane saw the login come from.
    pub seen_from: String,
    /// The endpoint (host) the last call came through.
    pub endpoint: Option<String>,
    pub created_at_ms: u64,
    pub last_access_ms: u64,
}

/// Why a sign-up was refused.
#[derive(Debug)]
pub enum SignUpRefused {
    Input(MemberInputError),
    Taken,
}

/// Why a login was refused.
#[derive(Debug)]
pub enum LoginRefused {
    /// A wrong password or an unknown member, alike.
    Failed,
    /// Slowed down: try again in this many seconds.
    TooManyAttempts { retry_after_s: u64 },
}

/// A session that cannot be used (expired, ended, another device's, or
/// never issued).
#[derive(Debug)]
pub struct SessionExpired;

fn hasher() -> Argon2<'static> {
    let params = Params::new(Params::DEFAULT_M_COST, 2, 1, Some(HASH_BYTES)).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2id of `password` with `salt`, on the blocking pool (~70 ms).
async fn hash(password: String, salt: Vec<u8>) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let mut out = vec![0u8; HASH_BYTES];
        hasher()
            .hash_password_into(password.as_bytes(), &salt, &mut out)
            .expect("salt and output lengths are valid");
        out
    })
    .await
    .expect("hashing does not panic")
}

/// What an unknown member's login is checked against: same work, no match.
fn dummy() -> &'static (Vec<u8>, Vec<u8>) {
    static DUMMY: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    DUMMY.get_or_init(|| (vec![0x5a; SALT_BYTES], vec![0xa5; HASH_BYTES]))
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the system has randomness");
    hex::encode(buffer)
}

/// Equal without an early exit, so the comparison leaks no prefix length.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn timeouts(control_plane: &ControlPlane) -> Result<SessionTimeouts, StoreError> {
    Ok(get_json(control_plane.store(), keys::SESSION_TIMEOUTS)
        .await?
        .unwrap_or_default())
}

pub async fn set_timeouts(control_plane: &ControlPlane, timeouts: SessionTimeouts) -> Result<(), StoreError> {
    put_json(control_plane.store(), keys::SESSION_TIMEOUTS, &timeouts).await
}

fn member_key(name: &str) -> String {
    format!("{}{name}", keys::MEMBER_PREFIX)
}

fn failures_key(name: &str) -> String {
    format!("{}{name}", keys::LOGIN_FAILURES_PREFIX)
}

fn session_key(key: &str) -> String {
    format!("{}{key}", keys::SESSION_PREFIX)
}

fn device_session_key(device_id: &DeviceId) -> String {
    format!("{}{device_id}", keys::DEVICE_SESSION_PREFIX)
}

impl SessionRecord {
    fn timed_out(&self, clock: u64, timeouts: SessionTimeouts) -> bool {
        clock.saturating_sub(self.last_access_ms) > timeouts.idle_ms
            || clock.saturating_sub(self.created_at_ms) > timeouts.absolute_ms
    }
}

/// The member logged in on `device_id` now (a live session; reading it
/// does not renew it): who gets the points the device earns.
pub async fn logged_in_member(
    control_plane: &ControlPlane,
    device_id: &DeviceId,
) -> Result<Option<String>, StoreError> {
    let Some(key) = get_json::<String>(control_plane.store(), &device_session_key(device_id)).await? else {
        return Ok(None);
    };
    let session: Option<SessionRecord> = get_json(control_plane.store(), &session_key(&key)).await?;
    let clock = now(control_plane).await?;
    let timeouts = timeouts(control_plane).await?;
    Ok(session
        .filter(|s| &s.device_id == device_id && !s.timed_out(clock, timeouts))
        .map(|s| s.member_id))
}

/// Forgets that `session` is its device's current one, if it still is.
async fn unlink_device(control_plane: &ControlPlane, session: &SessionRecord) -> Result<(), StoreError> {
    let link = device_session_key(&session.device_id);
    let current = serde_json::to_vec(&session.session_key).expect("strings serialise");
    control_plane
        .store()
        .compare_and_swap(&link, Some(&current), None)
        .await?;
    Ok(())
}

/// Creates an account; refused if the name is taken or the input is bad.
pub async fn sign_up(
    control_plane: &ControlPlane,
    member: &str,
    password: &str,
) -> Result<Result<MemberRecord, SignUpRefused>, StoreError> {
    let name = match normalise_member_name(member) {
        Ok(name) => name,
        Err(e) => return Ok(Err(SignUpRefused::Input(e))),
    };
    if let Err(e) = validate_password(password) {
        return Ok(Err(SignUpRefused::Input(e)));
    }
    let salt = random_hex(SALT_BYTES);
    let password_hash = hex::encode(hash(password.to_owned(), hex::decode(&salt).expect("hex")).await);
    let record = MemberRecord {
        member_id: format!("m-{}", random_hex(8)),
        member: name.clone(),
        salt,
        password_hash,
        created_at_ms: now(control_plane).await?,
    };
    let encoded = serde_json::to_vec(&record).expect("records serialise");
    if control_plane
        .store()
        .compare_and_swap(&member_key(&name), None, Some(&encoded))
        .await?
    {
        Ok(Ok(record))
    } else {
        Ok(Err(SignUpRefused::Taken))
    }
}

/// Checks `password` for `member`, counting failures. The member's record
/// if it matched.
async fn check_password(
    control_plane: &ControlPlane,
    member: &str,
    password: &str,
) -> Result<Result<MemberRecord, LoginRefused>, StoreError> {
    // An unusable name is simply a member that does not exist.
    let name = normalise_member_name(member).unwrap_or_else(|_| member.trim().to_lowercase());
    let clock = now(control_plane).await?;
    let failures: LoginFailures = get_json(control_plane.store(), &failures_key(&name))
        .await?
        .unwrap_or_default();
    let allowed_at = failures.next_allowed_at_ms();
    if clock < allowed_at {
        return Ok(Err(LoginRefused::TooManyAttempts {
            retry_after_s: (allowed_at - clock).div_ceil(1000),
        }));
    }
    let record: Option<MemberRecord> = get_json(control_plane.store(), &member_key(&name)).await?;
    let (salt, expected) = match &record {
        Some(r) => (
            hex::decode(&r.salt).unwrap_or_default(),
            hex::decode(&r.password_hash).unwrap_or_default(),
        ),
        None => dummy().clone(),
    };
    let matched = same_bytes(&hash(password.to_owned(), salt).await, &expected);
    match record {
        Some(record) if matched => {
            delete(control_plane.store(), &failures_key(&name)).await?;
            Ok(Ok(record))
        }
        _ => {
            update_json::<LoginFailures, (), ()>(control_plane.store(), &failures_key(&name), |current| {
                let count = current.map_or(0, |f| f.count) + 1;
                Ok((
                    Some(LoginFailures {
                        count,
                        last_at_ms: clock,
                    }),
                    (),
                ))
            })
            .await?
            .ok();
            Ok(Err(LoginRefused::Failed))
        }
    }
}

/// Logs `member` in on `device_id`: a new session.
pub async fn login(
    control_plane: &ControlPlane,
    member: &str,
    password: &str,
    device_id: &DeviceId,
    seen_from: String,
    endpoint: Option<String>,
) -> Result<Result<MemberSession, LoginRefused>, StoreError> {
    let record = match check_password(control_plane, member, password).await? {
        Ok(record) => record,
        Err(refused) => return Ok(Err(refused)),
    };
    let clock = now(control_plane).await?;
    let session = SessionRecord {
        session_key: random_hex(16),
        member_id: record.member_id,
        member: record.member,
        device_id: device_id.clone(),
        seen_from,
        endpoint,
        created_at_ms: clock,
        last_access_ms: clock,
    };
    put_json(control_plane.store(), &session_key(&session.session_key), &session).await?;
    put_json(
        control_plane.store(),
        &device_session_key(device_id),
        &session.session_key,
    )
    .await?;
    tracing::info!(member_id = %session.member_id, device_id = %device_id, "member logged in");
    Ok(Ok(describe(&session, timeouts(control_plane).await?)))
}

/// The session as the member's device sees it.
pub fn describe(session: &SessionRecord, timeouts: SessionTimeouts) -> MemberSession {
    MemberSession {
        member_id: session.member_id.clone(),
        member: session.member.clone(),
        session_key: session.session_key.clone(),
        created_at_ms: session.created_at_ms,
        idle_expires_at_ms: session.last_access_ms + timeouts.idle_ms,
        absolute_expires_at_ms: session.created_at_ms + timeouts.absolute_ms,
    }
}

/// Uses `key` for a call of `device_id` through `endpoint`: the session, its
/// idle expiry renewed; [`SessionExpired`] (and the session dropped) when
/// it timed out, and for anything not a live session of this device.
pub async fn use_session(
    control_plane: &ControlPlane,
    key: &str,
    device_id: &DeviceId,
    endpoint: Option<String>,
) -> Result<Result<SessionRecord, SessionExpired>, StoreError> {
    let clock = now(control_plane).await?;
    let timeouts = timeouts(control_plane).await?;
    // Err: nothing to change (no such session, another device's); Ok with
    // `None`: it timed out and is removed in the same swap.
    let outcome = update_json::<SessionRecord, Option<SessionRecord>, SessionExpired>(
        control_plane.store(),
        &session_key(key),
        |current| {
            let mut session = current.filter(|s| &s.device_id == device_id).ok_or(SessionExpired)?;
            if session.timed_out(clock, timeouts) {
                return Ok((None, None));
            }
            session.last_access_ms = clock;
            if endpoint.is_some() {
                session.endpoint.clone_from(&endpoint);
            }
            Ok((Some(session.clone()), Some(session)))
        },
    )
    .await?;
    Ok(match outcome {
        Ok(Some(session)) => Ok(session),
        Ok(None) => {
            tracing::info!("session expired");
            Err(SessionExpired)
        }
        Err(expired) => Err(expired),
    })
}

/// Ends one session of `device_id`.
pub async fn logout(
    control_plane: &ControlPlane,
    key: &str,
    device_id: &DeviceId,
) -> Result<Result<SessionRecord, SessionExpired>, StoreError> {
    let session: Option<SessionRecord> = get_json(control_plane.store(), &session_key(key)).await?;
    match session {
        Some(session) if &session.device_id == device_id => {
            delete(control_plane.store(), &session_key(key)).await?;
            unlink_device(control_plane, &session).await?;
            tracing::info!(member_id = %session.member_id, "member logged out");
            Ok(Ok(session))
        }
        _ => Ok(Err(SessionExpired)),
    }
}

/// Why an account closing was refused.
#[derive(Debug)]
pub enum CloseRefused {
    Session,
    Login(LoginRefused),
}

/// Closes the account behind a live session of `device_id`, after the
/// password is given again; ends every session of the member. Returns the
/// member id and how many sessions ended.
pub async fn close(
    control_plane: &ControlPlane,
    key: &str,
    device_id: &DeviceId,
    password: &str,
) -> Result<Result<(String, u32), CloseRefused>, StoreError> {
    let session = match use_session(control_plane, key, device_id, None).await? {
        Ok(session) => session,
        Err(SessionExpired) => return Ok(Err(CloseRefused::Session)),
    };
    if let Err(refused) = check_password(control_plane, &session.member, password).await? {
        return Ok(Err(CloseRefused::Login(refused)));
    }
    delete(control_plane.store(), &member_key(&session.member)).await?;
    let mut ended = 0;
    for other in sessions(control_plane).await? {
        if other.member_id == session.member_id
            && delete(control_plane.store(), &session_key(&other.session_key)).await?
        {
            unlink_device(control_plane, &other).await?;
            ended += 1;
        }
    }
    crate::notices::forget_member(control_plane, &session.member_id).await?;
    tracing::info!(member_id = %session.member_id, ended, "member account closed");
    Ok(Ok((session.member_id, ended)))
}

/// Every session in the shared state (QA).
pub async fn sessions(control_plane: &ControlPlane) -> Result<Vec<SessionRecord>, StoreError> {
    scan_json(control_plane.store(), keys::SESSION_PREFIX).await
}

/// Ends a session (QA); true if it existed.
pub async fn expire(control_plane: &ControlPlane, key: &str) -> Result<bool, StoreError> {
    let Some(session) = get_json::<SessionRecord>(control_plane.store(), &session_key(key)).await? else {
        return Ok(false);
    };
    let existed = delete(control_plane.store(), &session_key(key)).await?;
    unlink_device(control_plane, &session).await?;
    Ok(existed)
}

/// A member account as QA sees it: no password material.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberView {
    pub member_id: String,
    pub member: String,
    pub created_at_ms: u64,
}

/// Every member account (QA), by name.
pub async fn all(control_plane: &ControlPlane) -> Result<Vec<MemberView>, StoreError> {
    let members: Vec<MemberRecord> = scan_json(control_plane.store(), keys::MEMBER_PREFIX).await?;
    Ok(members
        .into_iter()
        .map(|m| MemberView {
            member_id: m.member_id,
            member: m.member,
            created_at_ms: m.created_at_ms,
        })
        .collect())
}

/// Whether an account with this id exists.
pub async fn member_exists(control_plane: &ControlPlane, member_id: &str) -> Result<bool, StoreError> {
    let members: Vec<MemberRecord> = scan_json(control_plane.store(), keys::MEMBER_PREFIX).await?;
    Ok(members.iter().any(|m| m.member_id == member_id))
}

/// How many accounts exist.
pub async fn member_count(control_plane: &ControlPlane) -> Result<usize, StoreError> {
    Ok(control_plane.store().scan(keys::MEMBER_PREFIX).await?.len())
}

/// The demo members the mock starts with, and their password.
pub const DEMO_MEMBERS: [&str; 2] = ["alice@demo.edgepoints", "bob@demo.edgepoints"];
pub const DEMO_PASSWORD: &str = "edgepoints-demo";

/// Signs the demo members up, unless they exist.
pub async fn seed_demo(control_plane: &ControlPlane) -> Result<(), StoreError> {
    for member in DEMO_MEMBERS {
        // Taken means an earlier start (or another instance) seeded it.
        let _ = sign_up(control_plane, member, DEMO_PASSWORD).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_the_free_failures_and_are_capped() {
        let at = |count| {
            LoginFailures {
                count,
                last_at_ms: 1_000,
            }
            .next_allowed_at_ms()
        };
        assert_eq!(at(2), 0);
        assert_eq!(at(3), 2_000);
        assert_eq!(at(4), 3_000);
        assert_eq!(at(5), 5_000);
        assert_eq!(at(40), 1_000 + MAX_WAIT_S * 1000);
    }

    #[test]
    fn byte_comparison_needs_every_byte() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
    }
}
