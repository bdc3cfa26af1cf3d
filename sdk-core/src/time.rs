//! Wall-clock time as it travels: milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn unix_millis() -> u64 {
    // A clock before 1970 is a broken device clock; 0 sorts it first rather
    // than failing a user's call over it.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
