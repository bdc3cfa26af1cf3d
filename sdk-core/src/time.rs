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

/// The calendar month (UTC) of a Unix time, as `YYYY-MM`: the period of the
/// monthly upload cap.
pub(crate) fn utc_month(unix_ms: u64) -> String {
    // Days to civil date, after Howard Hinnant's `civil_from_days`.
    let days = (unix_ms / 86_400_000) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_known_dates() {
        assert_eq!(utc_month(0), "1970-01");
        // 2000-02-29T23:59:59Z and one second later.
        assert_eq!(utc_month(951_868_799_000), "2000-02");
        assert_eq!(utc_month(951_868_800_000), "2000-03");
        // 2026-11-30T23:59:59.999Z and the next millisecond.
        assert_eq!(utc_month(1_796_083_199_999), "2026-11");
        assert_eq!(utc_month(1_796_083_200_000), "2026-12");
        // 2026-12-31T23:59:59Z → 2027-01-01.
        assert_eq!(utc_month(1_798_761_599_000), "2026-12");
        assert_eq!(utc_month(1_798_761_600_000), "2027-01");
    }
}
