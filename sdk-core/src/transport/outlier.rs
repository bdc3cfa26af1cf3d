//! Outlier detection in the style of Envoy: an endpoint that fails several
//! times in a row is ejected for a while, longer each time it is ejected
//! again; never more than a share of the endpoints at once. When its time is
//! up it is probed (`/healthz`) and comes back only if the probe answers.

use std::time::Duration;

use tokio::time::Instant;

/// Settings of outlier detection.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierPolicy {
    /// Consecutive failures (connect error, timeout, 5xx) that eject an endpoint.
    pub consecutive_failures: u32,
    /// First ejection time; the n-th ejection lasts n times as long.
    pub base_ejection: Duration,
    pub max_ejection: Duration,
    /// At most this share of the endpoints is ejected at once (at least one
    /// when there are two or more).
    pub max_ejected_share: f64,
}

impl Default for OutlierPolicy {
    fn default() -> Self {
        OutlierPolicy {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(300),
            max_ejected_share: 0.5,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Health {
    consecutive_failures: u32,
    ejected_until: Option<Instant>,
    ejections: u32,
    probing: bool,
}

/// Whether calls may go to an endpoint now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Availability {
    Healthy,
    Ejected,
    /// Ejection is over: probe it before calls go there again.
    DueForProbe,
}

pub(crate) struct OutlierDetector {
    policy: OutlierPolicy,
    endpoints: Vec<Health>,
}

impl OutlierDetector {
    pub(crate) fn new(policy: OutlierPolicy, endpoints: usize) -> Self {
        OutlierDetector {
            policy,
            endpoints: vec![Health::default(); endpoints],
        }
    }

    pub(crate) fn availability(&self, index: usize, now: Instant) -> Availability {
        match self.endpoints[index].ejected_until {
            None => Availability::Healthy,
            Some(until) if now < until || self.endpoints[index].probing => Availability::Ejected,
            Some(_) => Availability::DueForProbe,
        }
    }

    /// Marks a due endpoint as being probed; false if a probe already runs.
    pub(crate) fn start_probe(&mut self, index: usize) -> bool {
        let health = &mut self.endpoints[index];
        if health.probing {
            return false;
        }
        health.probing = true;
        true
    }

    pub(crate) fn probe_finished(&mut self, index: usize, healthy: bool, now: Instant) {
        self.endpoints[index].probing = false;
        if healthy {
            let health = &mut self.endpoints[index];
            health.ejected_until = None;
            health.consecutive_failures = 0;
            tracing::info!(endpoint = index, "endpoint back after a healthy probe");
        } else {
            self.eject(index, now);
        }
    }

    pub(crate) fn record_success(&mut self, index: usize) {
        let health = &mut self.endpoints[index];
        health.consecutive_failures = 0;
    }

    /// Counts a failure; returns whether it ejected the endpoint.
    pub(crate) fn record_failure(&mut self, index: usize, now: Instant) -> bool {
        let health = &mut self.endpoints[index];
        health.consecutive_failures += 1;
        if health.ejected_until.is_some() || health.consecutive_failures < self.policy.consecutive_failures {
            return false;
        }
        let ejected = self.endpoints.iter().filter(|h| h.ejected_until.is_some()).count();
        let allowed = ((self.endpoints.len() as f64 * self.policy.max_ejected_share).floor() as usize)
            .max(usize::from(self.endpoints.len() > 1));
        if ejected >= allowed {
            return false;
        }
        self.eject(index, now);
        true
    }

    fn eject(&mut self, index: usize, now: Instant) {
        let health = &mut self.endpoints[index];
        health.ejections += 1;
        health.consecutive_failures = 0;
        let time = self
            .policy
            .base_ejection
            .saturating_mul(health.ejections)
            .min(self.policy.max_ejection);
        health.ejected_until = Some(now + time);
        tracing::warn!(
            endpoint = index,
            ejections = health.ejections,
            ?time,
            "endpoint ejected"
        );
    }

    #[cfg(test)]
    pub(crate) fn ejected_count(&self) -> usize {
        self.endpoints.iter().filter(|h| h.ejected_until.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OutlierPolicy {
        OutlierPolicy {
            consecutive_failures: 2,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(25),
            max_ejected_share: 0.5,
        }
    }

    #[test]
    fn ejects_after_consecutive_failures_only() {
        let now = Instant::now();
        let mut d = OutlierDetector::new(policy(), 3);
        assert!(!d.record_failure(0, now));
        d.record_success(0);
        assert!(!d.record_failure(0, now));
        assert!(d.record_failure(0, now));
        assert_eq!(d.availability(0, now), Availability::Ejected);
        assert_eq!(
            d.availability(0, now + Duration::from_secs(11)),
            Availability::DueForProbe
        );
    }

    #[test]
    fn ejection_grows_and_caps() {
        let now = Instant::now();
        let mut d = OutlierDetector::new(policy(), 3);
        d.record_failure(0, now);
        d.record_failure(0, now);
        let later = now + Duration::from_secs(11);
        assert!(d.start_probe(0));
        assert!(!d.start_probe(0), "one probe at a time");
        d.probe_finished(0, false, later);
        // Second ejection: 20 s.
        assert_eq!(
            d.availability(0, later + Duration::from_secs(19)),
            Availability::Ejected
        );
        assert_eq!(
            d.availability(0, later + Duration::from_secs(21)),
            Availability::DueForProbe
        );
        let later = later + Duration::from_secs(21);
        d.start_probe(0);
        d.probe_finished(0, false, later);
        // Third: 30 s, capped at 25 s.
        assert_eq!(
            d.availability(0, later + Duration::from_secs(26)),
            Availability::DueForProbe
        );
        d.start_probe(0);
        d.probe_finished(0, true, later);
        assert_eq!(d.availability(0, later), Availability::Healthy);
    }

    #[test]
    fn never_ejects_more_than_the_share() {
        let now = Instant::now();
        let mut d = OutlierDetector::new(policy(), 3);
        for index in 0..3 {
            d.record_failure(index, now);
            d.record_failure(index, now);
        }
        assert_eq!(d.ejected_count(), 1);
        let mut single = OutlierDetector::new(policy(), 1);
        single.record_failure(0, now);
        assert!(!single.record_failure(0, now), "the only endpoint is never ejected");
    }
}
