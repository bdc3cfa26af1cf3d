//! Notices pushed to members: kept in the shared state until the member's
//! device acknowledges them in a session heartbeat, so a notice whose
//! answer was lost comes again, and one acknowledged never does.
//!
//! QA posts them over the admin API; the rental and coupon flows post
//! theirs with [`post`].

use edgepoints_protocol::members::MAX_NOTICES_PER_ANSWER;
use edgepoints_protocol::{Notice, NoticePost};

use crate::points::now;
use crate::state::keys;
use crate::store::{delete, put_json, scan_json, StoreError};
use crate::ControlPlane;

/// Longest notice text, in bytes.
pub const MAX_TEXT: usize = 1000;

fn member_prefix(member_id: &str) -> String {
    format!("{}{member_id}:", keys::NOTICE_PREFIX)
}

fn notice_key(member_id: &str, notice_id: &str) -> String {
    format!("{}{notice_id}", member_prefix(member_id))
}

/// Posts a notice to `member_id`.
pub async fn post(control_plane: &ControlPlane, member_id: &str, notice: NoticePost) -> Result<Notice, StoreError> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the system has randomness");
    let posted_at_ms = now(control_plane).await?;
    let notice = Notice {
        // Time first, so ids sort as notices were posted.
        notice_id: format!("n-{posted_at_ms:013}-{}", hex::encode(random)),
        kind: notice.kind,
        text: notice.text,
        posted_at_ms,
    };
    put_json(
        control_plane.store(),
        &notice_key(member_id, &notice.notice_id),
        &notice,
    )
    .await?;
    tracing::info!(member_id, notice_id = %notice.notice_id, kind = %notice.kind, "notice posted");
    Ok(notice)
}

/// Posts a notice about one event (a queue entry, a rental), once ever:
/// its id comes from what it is about and when that happened, and a
/// marker kept after it is posted (and after it is acknowledged) stops it
/// coming again, so a worker that redoes its work after a crash, or a
/// sweep that passes again, does not notify twice. A crash between the
/// post and the marker posts it again under the same id, which the device
/// (keeping notices by id) shows once.
pub async fn post_once(
    control_plane: &ControlPlane,
    member_id: &str,
    about: &str,
    at_ms: u64,
    notice: NoticePost,
) -> Result<Notice, StoreError> {
    let posted_at_ms = now(control_plane).await?;
    let notice = Notice {
        notice_id: format!("n-{at_ms:013}-{about}"),
        kind: notice.kind,
        text: notice.text,
        posted_at_ms,
    };
    let marker = format!("{}{member_id}:{about}", keys::NOTICE_ONCE_PREFIX);
    if control_plane.store().get(&marker).await?.is_some() {
        return Ok(notice);
    }
    put_json(
        control_plane.store(),
        &notice_key(member_id, &notice.notice_id),
        &notice,
    )
    .await?;
    put_json(control_plane.store(), &marker, &notice.notice_id).await?;
    tracing::info!(member_id, notice_id = %notice.notice_id, kind = %notice.kind, "notice posted");
    Ok(notice)
}

/// The member's notices not yet acknowledged, oldest first.
pub async fn pending(control_plane: &ControlPlane, member_id: &str) -> Result<Vec<Notice>, StoreError> {
    let mut notices: Vec<Notice> = scan_json(control_plane.store(), &member_prefix(member_id)).await?;
    notices.sort_by(|a, b| a.notice_id.cmp(&b.notice_id));
    Ok(notices)
}

/// Drops the acknowledged notices of `member_id` (ids of others, or of
/// notices gone already, change nothing), then returns the rest, at most
/// a page of them.
pub async fn acknowledge(
    control_plane: &ControlPlane,
    member_id: &str,
    acked: &[String],
) -> Result<Vec<Notice>, StoreError> {
    for notice_id in acked {
        delete(control_plane.store(), &notice_key(member_id, notice_id)).await?;
    }
    let mut notices = pending(control_plane, member_id).await?;
    notices.truncate(MAX_NOTICES_PER_ANSWER);
    Ok(notices)
}

/// Drops every notice of a member whose account closed.
pub async fn forget_member(control_plane: &ControlPlane, member_id: &str) -> Result<(), StoreError> {
    for notice in pending(control_plane, member_id).await? {
        delete(control_plane.store(), &notice_key(member_id, &notice.notice_id)).await?;
    }
    Ok(())
}
