//! The coupons this device holds, in its store: claimed through the outbox,
//! kept with their signed token, so they can be presented offline.

use edgepoints_protocol::coupons::activities::ClaimedCoupon;
use edgepoints_protocol::coupons::CouponToken;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{Error, StoreError};

/// A coupon held by this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCoupon {
    /// 16 bytes, hex.
    pub serial: String,
    pub activity_id: String,
    pub merchant_id: String,
    /// The activity's title when it was claimed.
    pub title: String,
    /// The signed token (`EPC1:…`).
    pub token: String,
    pub not_before_s: u64,
    pub expires_s: u64,
    pub claimed_at_ms: u64,
    /// Points the member paid for it (0 for a free coupon).
    pub points_paid: u64,
}

/// Stores a claimed coupon in the caller's transaction (the outbox marks
/// the claim done in the same one). The token must be for this device and
/// match the answer, or the answer is not applied.
pub(crate) fn store(
    shared: &Shared,
    tx: &Transaction<'_>,
    claimed: &ClaimedCoupon,
    fallback_title: &str,
) -> Result<HeldCoupon, Error> {
    let title = if claimed.title.is_empty() {
        fallback_title
    } else {
        &claimed.title
    };
    let token = CouponToken::decode(&claimed.token).map_err(|e| Error::Protocol(format!("claimed coupon: {e}")))?;
    if token.claims.holder != shared.identity().public_key_bytes() {
        return Err(Error::Protocol("the coupon was issued to another device".into()));
    }
    if hex::encode(token.claims.serial) != claimed.serial {
        return Err(Error::Protocol("the coupon's serial is not the answer's".into()));
    }
    let held = HeldCoupon {
        serial: claimed.serial.clone(),
        activity_id: claimed.activity_id.clone(),
        merchant_id: hex::encode(token.claims.merchant),
        title: title.to_owned(),
        token: claimed.token.clone(),
        not_before_s: u64::from(token.claims.not_before_s),
        expires_s: u64::from(token.claims.expires_s),
        claimed_at_ms: unix_millis(),
        points_paid: claimed.points_paid,
    };
    tx.execute(
        "INSERT INTO coupons (serial, activity_id, merchant_id, title, token, not_before_s, expires_s, claimed_at_ms,
                              points_paid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (serial) DO NOTHING",
        params![
            held.serial,
            held.activity_id,
            held.merchant_id,
            held.title,
            held.token,
            held.not_before_s as i64,
            held.expires_s as i64,
            held.claimed_at_ms as i64,
            held.points_paid as i64
        ],
    )
    .map_err(StoreError::from)?;
    Ok(held)
}

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<HeldCoupon> {
    Ok(HeldCoupon {
        serial: row.get(0)?,
        activity_id: row.get(1)?,
        merchant_id: row.get(2)?,
        title: row.get(3)?,
        token: row.get(4)?,
        not_before_s: row.get::<_, i64>(5)? as u64,
        expires_s: row.get::<_, i64>(6)? as u64,
        claimed_at_ms: row.get::<_, i64>(7)? as u64,
        points_paid: row.get::<_, i64>(8)? as u64,
    })
}

const COLUMNS: &str =
    "serial, activity_id, merchant_id, title, token, not_before_s, expires_s, claimed_at_ms, points_paid";

/// Every held coupon, newest claim first (not those given back).
pub(crate) fn all(shared: &Shared) -> Result<Vec<HeldCoupon>, StoreError> {
    shared.store().with(|c| {
        let mut statement = c.prepare(&format!(
            "SELECT {COLUMNS} FROM coupons WHERE given_back_at_ms IS NULL ORDER BY claimed_at_ms DESC, serial"
        ))?;
        let coupons = statement.query_map([], read)?.collect::<Result<Vec<_>, _>>()?;
        Ok(coupons)
    })
}

pub(crate) fn one(shared: &Shared, serial: &str) -> Result<Option<HeldCoupon>, StoreError> {
    shared.store().with(|c| {
        Ok(c.query_row(
            &format!("SELECT {COLUMNS} FROM coupons WHERE serial = ?1 AND given_back_at_ms IS NULL"),
            [serial],
            read,
        )
        .optional()?)
    })
}

/// Marks a held coupon given back, in the caller's transaction (the outbox
/// marks the rollback done in the same one).
pub(crate) fn given_back(tx: &Transaction<'_>, serial: &str, at_ms: u64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE coupons SET given_back_at_ms = ?2 WHERE serial = ?1 AND given_back_at_ms IS NULL",
        params![serial, at_ms as i64],
    )?;
    Ok(())
}
