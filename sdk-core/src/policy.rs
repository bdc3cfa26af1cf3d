//! Whether this phone may serve right now: the user's consent and policy
//! against what the host last reported (network, battery, charging, and
//! whether the app is on screen).

use crate::{ConsentPolicy, ConsentState, ConsentStatus, HostState, NetworkKind};

/// Serving right now, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServingGate {
    Serving,
    /// Consent stands, but the phone's state is outside the policy.
    Paused {
        reason: String,
    },
    /// No consent (never given, or revoked): the node does not listen.
    NoConsent,
}

impl ServingGate {
    pub(crate) fn decide(consent: &ConsentState, host: &HostState) -> ServingGate {
        let ConsentStatus::Granted { policy, .. } = &consent.status else {
            return ServingGate::NoConsent;
        };
        match pause_reason(policy, host) {
            None => ServingGate::Serving,
            Some(reason) => ServingGate::Paused { reason },
        }
    }
}

fn pause_reason(policy: &ConsentPolicy, host: &HostState) -> Option<String> {
    match host.network {
        NetworkKind::Offline => return Some("offline".into()),
        NetworkKind::Wifi if !policy.serve_on_wifi => return Some("not allowed on Wi-Fi".into()),
        NetworkKind::Cellular if !policy.serve_on_cellular => return Some("not allowed on cellular".into()),
        _ => {}
    }
    if !host.foreground && !policy.serve_in_background {
        return Some("the app is in the background".into());
    }
    if policy.charging_only && !host.charging {
        return Some("serving only while charging".into());
    }
    // On the charger the battery is not being drained by serving.
    if !host.charging && host.battery_percent < policy.min_battery_percent {
        return Some(format!(
            "battery {} % below the minimum {} %",
            host.battery_percent, policy.min_battery_percent
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(policy: ConsentPolicy) -> ConsentState {
        ConsentState {
            status: ConsentStatus::Granted {
                terms_version: "t".into(),
                policy,
            },
            revision: 1,
            decided_at_ms: Some(1),
            reported: true,
        }
    }

    fn host(network: NetworkKind, battery_percent: u8, charging: bool) -> HostState {
        HostState {
            network,
            battery_percent,
            charging,
            foreground: true,
        }
    }

    #[test]
    fn policy_against_host_state() {
        let wifi_only = granted(ConsentPolicy::default());
        assert_eq!(
            ServingGate::decide(&wifi_only, &host(NetworkKind::Wifi, 80, false)),
            ServingGate::Serving
        );
        assert!(matches!(
            ServingGate::decide(&wifi_only, &host(NetworkKind::Cellular, 80, false)),
            ServingGate::Paused { .. }
        ));
        assert!(matches!(
            ServingGate::decide(&wifi_only, &host(NetworkKind::Wifi, 10, false)),
            ServingGate::Paused { .. }
        ));
        assert_eq!(
            ServingGate::decide(&wifi_only, &host(NetworkKind::Wifi, 10, true)),
            ServingGate::Serving
        );
        let charging_only = granted(ConsentPolicy {
            charging_only: true,
            ..ConsentPolicy::default()
        });
        assert!(matches!(
            ServingGate::decide(&charging_only, &host(NetworkKind::Wifi, 90, false)),
            ServingGate::Paused { .. }
        ));
        let mut backgrounded = host(NetworkKind::Wifi, 90, true);
        backgrounded.foreground = false;
        assert_eq!(
            ServingGate::decide(&wifi_only, &backgrounded),
            ServingGate::Paused {
                reason: "the app is in the background".into()
            }
        );
        let in_background = granted(ConsentPolicy {
            serve_in_background: true,
            ..ConsentPolicy::default()
        });
        assert_eq!(ServingGate::decide(&in_background, &backgrounded), ServingGate::Serving);
        let revoked = ConsentState {
            status: ConsentStatus::Revoked { purge_cache: false },
            ..wifi_only
        };
        assert_eq!(
            ServingGate::decide(&revoked, &host(NetworkKind::Wifi, 90, true)),
            ServingGate::NoConsent
        );
    }
}
