//! The user's consent to serve as an edge node, and the policy that bounds it.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// Under which conditions the user lets the phone serve others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentPolicy {
    pub serve_on_wifi: bool,
    pub serve_on_cellular: bool,
    /// Serve only while the phone is charging.
    pub charging_only: bool,
    /// Stop serving below this battery level (0–100).
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    pub min_battery_percent: u8,
    /// Upload budget per calendar month; 0 means the user allows none.
    pub monthly_upload_cap_bytes: u64,
    /// Keep serving while the app is in the background (on Android, from a
    /// foreground service). Off, the node pauses when the app leaves the
    /// screen. A decision stored before this option existed does not allow
    /// it: the user never said so.
    #[serde(default)]
    pub serve_in_background: bool,
}

impl Default for ConsentPolicy {
    /// The conservative default: Wi-Fi only, on any battery above 30 %, 5 GiB a
    /// month, while the app is on screen.
    fn default() -> Self {
        ConsentPolicy {
            serve_on_wifi: true,
            serve_on_cellular: false,
            charging_only: false,
            min_battery_percent: 30,
            monthly_upload_cap_bytes: 5 * 1024 * 1024 * 1024,
            serve_in_background: false,
        }
    }
}

/// Why a policy cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("minimum battery percent must be 0 to 100, got {0}")]
    BatteryOutOfRange(u8),
    #[error("the policy allows no network to serve on")]
    NoNetworkAllowed,
    #[error("terms version must be 1 to 64 visible characters")]
    BadTermsVersion,
}

impl ConsentPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.min_battery_percent > 100 {
            return Err(PolicyError::BatteryOutOfRange(self.min_battery_percent));
        }
        if !self.serve_on_wifi && !self.serve_on_cellular {
            return Err(PolicyError::NoNetworkAllowed);
        }
        Ok(())
    }
}

/// Checks the version string of the terms the user accepted.
pub fn validate_terms_version(version: &str) -> Result<(), PolicyError> {
    if version.is_empty() || version.len() > 64 || !version.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PolicyError::BadTermsVersion);
    }
    Ok(())
}

/// What the user decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ConsentDecision {
    Granted {
        terms_version: String,
        policy: ConsentPolicy,
    },
    Revoked {
        purge_cache: bool,
    },
}

/// Payload of a consent report, signed by the device.
///
/// `revision` increases with every decision made on the device; the control
/// plane keeps the highest it has seen, so a late retry of an older decision
/// can never overwrite a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentReport {
    pub device_id: DeviceId,
    pub revision: u64,
    pub decision: ConsentDecision,
    /// When the user decided, on the device's clock (ms since the Unix epoch).
    pub decided_at_ms: u64,
}

/// The control plane's answer to a consent report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentRecorded {
    pub device_id: DeviceId,
    /// The revision the control plane now holds (may be newer than the report's).
    pub current_revision: u64,
    /// Whether this report changed the stored consent.
    pub applied: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds() {
        assert!(ConsentPolicy::default().validate().is_ok());
        let p = ConsentPolicy {
            min_battery_percent: 101,
            ..ConsentPolicy::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::BatteryOutOfRange(101)));
        let p = ConsentPolicy {
            serve_on_wifi: false,
            serve_on_cellular: false,
            ..ConsentPolicy::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::NoNetworkAllowed));
    }

    #[test]
    fn terms_versions() {
        assert!(validate_terms_version("2026-11").is_ok());
        assert!(validate_terms_version("").is_err());
        assert!(validate_terms_version("has space").is_err());
    }

    #[test]
    fn decision_wire_shape() {
        let json = serde_json::to_value(ConsentDecision::Revoked { purge_cache: true }).unwrap();
        assert_eq!(json, serde_json::json!({"decision": "revoked", "purge_cache": true}));
    }
}
