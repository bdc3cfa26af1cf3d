//! Notices pushed to the member: stored by id as they arrive, so each
//! reaches the app once, however often it comes (an answer lost and sent
//! again) and across restarts; acknowledged in the next heartbeat, so the
//! control plane stops sending it.

use rusqlite::params;

use super::MemberNotice;
use crate::events::Event;
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::StoreError;

/// Acknowledged notices are kept this long for [`super::Members::notices`].
const KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// The notices to acknowledge in the next heartbeat: stored, not yet
/// confirmed dropped by the control plane.
pub(crate) fn unacked(shared: &Shared, member_id: &str) -> Result<Vec<String>, StoreError> {
    shared.store().with(|c| {
        let mut statement =
            c.prepare("SELECT notice_id FROM member_notices WHERE member_id = ?1 AND acked = 0 ORDER BY notice_id")?;
        let ids = statement
            .query_map([member_id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    })
}

/// One heartbeat's answer: the notices it acknowledged are confirmed, the
/// new ones stored (a notice seen before is left as it is).
pub(crate) fn received(
    shared: &Shared,
    member_id: &str,
    acked: &[String],
    notices: &[edgepoints_protocol::Notice],
) -> Result<(), StoreError> {
    let now = unix_millis() as i64;
    shared.store().with(|c| {
        let tx = c.transaction()?;
        for id in acked {
            tx.execute(
                "UPDATE member_notices SET acked = 1 WHERE notice_id = ?1 AND member_id = ?2",
                params![id, member_id],
            )?;
        }
        for notice in notices {
            tx.execute(
                "INSERT INTO member_notices (notice_id, member_id, kind, text, posted_at_ms, received_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (notice_id) DO NOTHING",
                params![
                    notice.notice_id,
                    member_id,
                    notice.kind,
                    notice.text,
                    notice.posted_at_ms as i64,
                    now
                ],
            )?;
        }
        tx.execute(
            "DELETE FROM member_notices WHERE acked = 1 AND received_at_ms < ?1",
            [now - KEEP_MS as i64],
        )?;
        tx.commit()?;
        Ok(())
    })
}

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<MemberNotice> {
    Ok(MemberNotice {
        notice_id: row.get(0)?,
        member_id: row.get(1)?,
        kind: row.get(2)?,
        text: row.get(3)?,
        posted_at_ms: row.get::<_, i64>(4)? as u64,
        received_at_ms: row.get::<_, i64>(5)? as u64,
    })
}

const COLUMNS: &str = "notice_id, member_id, kind, text, posted_at_ms, received_at_ms";

/// Gives the app every stored notice it has not had yet, oldest first,
/// each as one `NoticeReceived` event; returns them. A crash between the
/// event and its mark gives that notice again at the next start: the
/// listener gets each notice once, or in that narrow case twice, never
/// not at all.
pub(crate) fn deliver(shared: &Shared) -> Result<Vec<MemberNotice>, StoreError> {
    let fresh = shared.store().with(|c| {
        let mut statement = c.prepare(&format!(
            "SELECT {COLUMNS} FROM member_notices WHERE delivered = 0 ORDER BY notice_id"
        ))?;
        let notices = statement.query_map([], read)?.collect::<Result<Vec<_>, _>>()?;
        Ok(notices)
    })?;
    for notice in &fresh {
        shared.events().emit(Event::NoticeReceived { notice: notice.clone() });
        shared.store().with(|c| {
            c.execute(
                "UPDATE member_notices SET delivered = 1 WHERE notice_id = ?1",
                [&notice.notice_id],
            )?;
            Ok(())
        })?;
    }
    Ok(fresh)
}

/// The member's stored notices, newest first, at most `limit`.
pub(crate) fn list(shared: &Shared, member_id: &str, limit: u32) -> Result<Vec<MemberNotice>, StoreError> {
    shared.store().with(|c| {
        let mut statement = c.prepare(&format!(
            "SELECT {COLUMNS} FROM member_notices WHERE member_id = ?1 ORDER BY notice_id DESC LIMIT ?2"
        ))?;
        let notices = statement
            .query_map(params![member_id, limit], read)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(notices)
    })
}
