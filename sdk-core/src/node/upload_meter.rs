//! The policy's monthly upload cap: a meter of bytes served this calendar
//! month (UTC), charged on the serving path, and its row in the store, so
//! the count survives a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::OptionalExtension;

use crate::shared::Shared;
use crate::time::{unix_millis, utc_month};
use crate::StoreError;

/// Bytes served in the current calendar month, against the cap. Charged on
/// the hot path with atomics; written to the store by the node's ticker.
pub(crate) struct UploadMeter {
    month: Mutex<String>,
    used: AtomicU64,
    cap: AtomicU64,
}

impl UploadMeter {
    pub(crate) fn new(month: String, used: u64, cap: u64) -> Self {
        UploadMeter {
            month: Mutex::new(month),
            used: AtomicU64::new(used),
            cap: AtomicU64::new(cap),
        }
    }

    /// Counts `n` bytes if they fit under the cap; false (and nothing
    /// counted) if they do not.
    pub(crate) fn try_charge(&self, n: u64) -> bool {
        let cap = self.cap.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= cap)
            })
            .is_ok()
    }

    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    pub(crate) fn cap(&self) -> u64 {
        self.cap.load(Ordering::Relaxed)
    }

    pub(crate) fn set_cap(&self, cap: u64) {
        self.cap.store(cap, Ordering::Relaxed);
    }

    pub(crate) fn month(&self) -> String {
        self.month.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A new month starts from what the store holds for it (normally 0).
    pub(crate) fn roll_over(&self, month: String, used: u64) {
        *self.month.lock().unwrap_or_else(|p| p.into_inner()) = month;
        self.used.store(used, Ordering::Release);
    }
}

/// The cap of the current consent (none without consent).
pub(super) fn monthly_cap(shared: &Shared) -> Result<u64, StoreError> {
    Ok(match crate::consent::stored_state(shared)?.status {
        crate::ConsentStatus::Granted { policy, .. } => policy.monthly_upload_cap_bytes,
        crate::ConsentStatus::Revoked { .. } | crate::ConsentStatus::NotAsked => 0,
    })
}

pub(super) fn stored_usage(shared: &Shared, month: &str) -> Result<u64, StoreError> {
    shared.store().with(|c| {
        Ok(
            c.query_row("SELECT bytes FROM upload_usage WHERE month = ?1", [month], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0) as u64,
        )
    })
}

/// The meter of the current month, from what the store holds for it.
pub(super) fn open_meter(shared: &Shared) -> Result<UploadMeter, StoreError> {
    let month = utc_month(unix_millis());
    let used = stored_usage(shared, &month)?;
    Ok(UploadMeter::new(month, used, monthly_cap(shared)?))
}

pub(super) fn store_usage(shared: &Shared, month: &str, bytes: u64) -> Result<(), StoreError> {
    shared.store().with(|c| {
        c.execute(
            "INSERT INTO upload_usage (month, bytes) VALUES (?1, ?2)
             ON CONFLICT (month) DO UPDATE SET bytes = max(bytes, ?2)",
            rusqlite::params![month, bytes as i64],
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_refuses_past_the_cap_and_counts_nothing() {
        let meter = UploadMeter::new("2026-11".into(), 90, 100);
        assert!(meter.try_charge(10));
        assert!(!meter.try_charge(1));
        assert_eq!(meter.used(), 100);
        meter.set_cap(200);
        assert!(meter.try_charge(50));
        meter.roll_over("2026-12".into(), 0);
        assert_eq!(meter.used(), 0);
        assert_eq!(meter.month(), "2026-12");
    }
}
