//! A retry budget: retries may be at most a share of the recent requests
//! plus a small floor. When every endpoint fails, clients that retry each
//! call several times multiply the load on a control plane that is already
//! down; the budget caps that multiplication.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Settings of the retry budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetPolicy {
    /// Retries allowed per first attempt in the window.
    pub ratio: f64,
    /// Retries always allowed in the window, so a quiet client can retry.
    pub floor: u32,
    pub window: Duration,
}

impl Default for RetryBudgetPolicy {
    fn default() -> Self {
        RetryBudgetPolicy {
            ratio: 0.2,
            floor: 10,
            window: Duration::from_secs(10),
        }
    }
}

pub(crate) struct RetryBudget {
    policy: RetryBudgetPolicy,
    /// (when, was a retry) for the recent window, oldest first.
    recent: VecDeque<(Instant, bool)>,
}

impl RetryBudget {
    pub(crate) fn new(policy: RetryBudgetPolicy) -> Self {
        RetryBudget {
            policy,
            recent: VecDeque::new(),
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((when, _)) = self.recent.front() {
            if now.duration_since(*when) > self.policy.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Counts a first attempt.
    pub(crate) fn record_request(&mut self, now: Instant) {
        self.forget_old(now);
        self.recent.push_back((now, false));
    }

    /// Counts a retry if the budget allows one; false means "do not retry now".
    pub(crate) fn try_retry(&mut self, now: Instant) -> bool {
        self.forget_old(now);
        let retries = self.recent.iter().filter(|(_, retry)| *retry).count() as f64;
        let requests = self.recent.len() as f64 - retries;
        if retries < self.policy.floor as f64 + self.policy.ratio * requests {
            self.recent.push_back((now, true));
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_by_ratio_and_floor() {
        let now = Instant::now();
        let mut budget = RetryBudget::new(RetryBudgetPolicy {
            ratio: 0.5,
            floor: 2,
            window: Duration::from_secs(10),
        });
        for _ in 0..10 {
            budget.record_request(now);
        }
        let granted = (0..100).filter(|_| budget.try_retry(now)).count();
        assert_eq!(granted, 2 + 5);
    }

    #[test]
    fn the_window_refills_the_budget() {
        let now = Instant::now();
        let mut budget = RetryBudget::new(RetryBudgetPolicy {
            ratio: 0.0,
            floor: 1,
            window: Duration::from_secs(10),
        });
        assert!(budget.try_retry(now));
        assert!(!budget.try_retry(now));
        assert!(budget.try_retry(now + Duration::from_secs(11)));
    }
}
