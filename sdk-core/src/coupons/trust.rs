//! The trust list on a merchant's device: synced when online, checked
//! against the control-plane key learned at registration, kept for offline
//! validation. A list older than the one held is refused (a replayed old
//! list could bring back a retired key's future).

use edgepoints_protocol::coupons::redemption::RevocationPage;
use edgepoints_protocol::coupons::{TrustList, TrustedKeys};
use edgepoints_protocol::envelope::decode_public_key;
use edgepoints_protocol::{paths, Purpose, SignedEnvelope};
use rusqlite::{params, OptionalExtension};

use crate::shared::Shared;
use crate::time::unix_millis;
use crate::transport::{retrying, Outgoing};
use crate::{registration, Error, StoreError};

fn open(shared: &Shared, envelope: &SignedEnvelope) -> Result<TrustList, Error> {
    let registration = registration::stored(shared)?.ok_or_else(|| Error::Protocol("not registered".into()))?;
    let key = decode_public_key(&registration.control_plane_public_key)
        .map_err(|e| Error::Protocol(format!("stored control-plane key: {e}")))?;
    envelope
        .open(Purpose::TrustList, &key)
        .map_err(|e| Error::Protocol(format!("trust list refused: {e}")))
}

/// Fetches the trust list, checks it, and keeps it if it is not older
/// than the one held; the list held afterwards.
pub(crate) async fn sync(shared: &Shared) -> Result<TrustList, Error> {
    let body = retrying(shared, || Outgoing::get(paths::COUPON_TRUST_LIST.to_owned())).await?;
    let envelope: SignedEnvelope =
        serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("trust list: {e}")))?;
    let list = open(shared, &envelope)?;
    let envelope_json = serde_json::to_string(&envelope).expect("envelopes serialise");
    shared.store().with(|c| {
        c.execute(
            "INSERT INTO trust_list (singleton, version, envelope_json, synced_at_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (singleton) DO UPDATE SET version = ?1, envelope_json = ?2, synced_at_ms = ?3
             WHERE excluded.version >= trust_list.version",
            params![list.version as i64, envelope_json, unix_millis() as i64],
        )?;
        Ok(())
    })?;
    held(shared)?.ok_or_else(|| Error::Internal("the trust list was not kept".into()))
}

/// The list held, checked again (the store is not trusted to be intact).
pub(crate) fn held(shared: &Shared) -> Result<Option<TrustList>, Error> {
    let stored: Option<String> = shared.store().with(|c| {
        Ok(c.query_row("SELECT envelope_json FROM trust_list", [], |r| r.get(0))
            .optional()?)
    })?;
    let Some(json) = stored else {
        return Ok(None);
    };
    let envelope: SignedEnvelope =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("stored trust list: {e}")))?;
    Ok(Some(open(shared, &envelope)?))
}

/// The held keys, ready for checking (none before the first sync).
pub(crate) fn trusted(shared: &Shared) -> Result<TrustedKeys, Error> {
    Ok(held(shared)?
        .map(|list| TrustedKeys::from_list(&list))
        .unwrap_or_default())
}

/// Fetches the revocation log's entries since the last sync (page by
/// page) and keeps their tags; returns how many tags were new.
pub(crate) async fn sync_revocations(shared: &Shared) -> Result<u64, Error> {
    let mut added = 0;
    loop {
        let after: u64 = shared.store().with(|c| {
            Ok(
                c.query_row("SELECT after FROM revocation_cursor", [], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(0) as u64,
            )
        })?;
        let path = paths::coupon_revocations(after);
        let body = retrying(shared, || Outgoing::get(path.clone())).await?;
        let page: RevocationPage =
            serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("revocations: {e}")))?;
        let tags: Vec<Vec<u8>> = page
            .tags
            .iter()
            .map(|t| hex::decode(t).ok().filter(|b| b.len() == 8))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::Protocol("a revocation tag is not 8 bytes of hex".into()))?;
        let done = tags.is_empty() || page.next_after <= after;
        added += shared.store().with(|c| {
            let tx = c.transaction()?;
            let mut new = 0;
            for tag in &tags {
                new += tx.execute(
                    "INSERT INTO revoked_tags (tag) VALUES (?1) ON CONFLICT DO NOTHING",
                    [tag],
                )? as u64;
            }
            tx.execute(
                "INSERT INTO revocation_cursor (singleton, after) VALUES (1, ?1)
                 ON CONFLICT (singleton) DO UPDATE SET after = max(after, ?1)",
                [page.next_after as i64],
            )?;
            tx.commit()?;
            Ok(new)
        })?;
        if done {
            return Ok(added);
        }
    }
}
