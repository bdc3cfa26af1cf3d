//! When to try a failed request again, and how long to wait first.

use std::time::Duration;

use crate::Error;

/// Exponential backoff with full jitter, capped.
///
/// The wait before retry `n` (1-based) is uniform in `[0, min(max_delay,
/// base_delay * 2^(n-1))]`: full jitter spreads a crowd of phones that lost
/// the network together, so they do not come back in lockstep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the wait before retry number `retry` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A jittered wait before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// The wait before retry `retry` of an outbox entry: as [`Self::backoff`]
    /// within `max_attempts`, then growing on up to `beyond_cap`, so an
    /// entry that waits out a long outage does not hammer the control plane.
    pub fn backoff_beyond(&self, retry: u32, beyond_cap: Duration) -> Duration {
        if retry < self.max_attempts {
            return self.backoff(retry);
        }
        let factor = 1u32.checked_shl(retry.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        let ceiling = self
            .base_delay
            .saturating_mul(factor)
            .min(beyond_cap.max(self.max_delay));
        Duration::from_nanos(fastrand::u64(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64))
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.max_attempts == 0 {
            return Err(Error::InvalidInput("retry policy needs at least one attempt".into()));
        }
        if self.base_delay > self.max_delay {
            return Err(Error::InvalidInput("retry base delay exceeds the maximum delay".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        assert_eq!(policy.ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.ceiling(4), Duration::from_millis(800));
        assert_eq!(policy.ceiling(5), Duration::from_millis(1000));
        assert_eq!(policy.ceiling(500), Duration::from_millis(1000));
    }

    #[test]
    fn backoff_stays_under_the_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 1..40 {
            assert!(policy.backoff(retry) <= policy.ceiling(retry));
        }
    }
}
