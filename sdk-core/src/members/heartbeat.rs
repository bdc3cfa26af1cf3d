//! The member heartbeat: while a member is logged in, a signed beat at the
//! interval the control plane asks for (±10 % jitter) keeps the session
//! alive, acknowledges the notices stored since the last beat, and brings
//! the pending ones. One timer: the loop sleeps until the next beat, a
//! login or logout, or shutdown; none runs while logged out.
//!
//! - A login (or a resumed session at start) beats at once, so notices
//!   waiting on the control plane arrive without a delay.
//! - An unreachable control plane gets beats at a growing distance (1 s,
//!   2 s, … up to the interval), not a storm.
//! - A lost answer is sent again with the same idempotency key: the
//!   control plane replays its answer, and the notices in it are known by
//!   id, so none reaches the app twice.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_protocol::{paths, MemberHeartbeat, MemberHeartbeatAccepted, Purpose};

use super::{notices, session, MemberNotice};
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::transport::signed_post;
use crate::Error;

/// The interval until the control plane names one.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// One beat now: the notices it brought that the app had not had.
pub(crate) async fn beat(shared: &Shared) -> Result<(Vec<MemberNotice>, Duration), Error> {
    let _one_at_a_time = shared.member_beat().lock().await;
    let stored = session::live(shared)?;
    let member_id = stored.session.member_id.clone();
    let acked = notices::unacked(shared, &member_id)?;
    let payload = MemberHeartbeat {
        device_id: shared.identity().device_id().clone(),
        session_key: stored.key.clone(),
        acked: acked.clone(),
        sent_at_ms: unix_millis(),
    };
    let path = paths::device_member_heartbeats(shared.identity().device_id().as_str());
    let answer = signed_post(shared, Purpose::MemberHeartbeat, path, &payload).await;
    let answer = match answer {
        Err(error) if session::is_session_expired(&error) => return Err(session::expired(shared, &stored)?),
        other => other?,
    };
    let accepted: MemberHeartbeatAccepted =
        serde_json::from_slice(&answer).map_err(|e| Error::Protocol(format!("member heartbeat answer: {e}")))?;
    session::renewed(shared, &accepted.session)?;
    notices::received(shared, &member_id, &acked, &accepted.notices)?;
    let fresh = notices::deliver(shared)?;
    Ok((fresh, Duration::from_millis(accepted.next_interval_ms.max(100))))
}

fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

/// The heartbeat loop of an open instance: beats while a member is logged
/// in, waits while not, ends at shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut member = shared.member().subscribe();
    let stopped = shared.stopped();
    tokio::pin!(stopped);
    // Notices stored but not given to the app (a crash in between).
    if let Err(error) = notices::deliver(&shared) {
        tracing::warn!(%error, "stored notices not delivered");
    }
    loop {
        member.mark_unchanged();
        if member.borrow().is_none() {
            tokio::select! {
                changed = member.changed() => if changed.is_err() { return },
                () = &mut stopped => return,
            }
            continue;
        }
        let mut interval = DEFAULT_INTERVAL;
        let mut failures = 0u32;
        // Beat at once, then on the timer, until the member changes.
        loop {
            match beat(&shared).await {
                Ok((_, next)) => {
                    interval = next;
                    failures = 0;
                }
                Err(Error::ShutDown) => return,
                Err(Error::SessionExpired { .. } | Error::NotLoggedIn) => break,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "member heartbeat failed");
                }
            }
            let wait = if failures == 0 {
                jittered(interval)
            } else {
                jittered(Duration::from_secs(1 << (failures - 1).min(16)).min(interval))
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = member.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                () = &mut stopped => return,
            }
        }
    }
}
