//! Consent as Kotlin and Swift see it.

use edgepoints_core as core;

use crate::number::{unsigned, Signed};

use crate::EdgePointsError;

/// Under which conditions the user lets the phone serve others.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentPolicy {
    /// Serve on Wi-Fi (and other unmetered networks).
    #[uniffi(default = true)]
    pub serve_on_wifi: bool,
    /// Serve on a metered mobile network too.
    #[uniffi(default = false)]
    pub serve_on_cellular: bool,
    /// Serve only while the phone is charging.
    #[uniffi(default = false)]
    pub charging_only: bool,
    /// Stop serving below this battery level, 0 to 100 (not while charging).
    #[uniffi(default = 30)]
    pub min_battery_percent: i32,
    /// Most bytes served per calendar month; 0 allows none.
    #[uniffi(default = 5368709120)]
    pub monthly_upload_cap_bytes: i64,
    /// Keep serving while the app is in the background (on Android, from a
    /// foreground service); off, the node pauses when the app leaves the
    /// screen (`setForeground(false)`).
    #[uniffi(default = false)]
    pub serve_in_background: bool,
}

impl TryFrom<ConsentPolicy> for core::ConsentPolicy {
    type Error = EdgePointsError;
    fn try_from(p: ConsentPolicy) -> Result<Self, EdgePointsError> {
        Ok(core::ConsentPolicy {
            serve_on_wifi: p.serve_on_wifi,
            serve_on_cellular: p.serve_on_cellular,
            charging_only: p.charging_only,
            min_battery_percent: unsigned("min_battery_percent", p.min_battery_percent)?,
            monthly_upload_cap_bytes: unsigned("monthly_upload_cap_bytes", p.monthly_upload_cap_bytes)?,
            serve_in_background: p.serve_in_background,
        })
    }
}

impl From<core::ConsentPolicy> for ConsentPolicy {
    fn from(p: core::ConsentPolicy) -> Self {
        ConsentPolicy {
            serve_on_wifi: p.serve_on_wifi,
            serve_on_cellular: p.serve_on_cellular,
            charging_only: p.charging_only,
            min_battery_percent: p.min_battery_percent.signed(),
            monthly_upload_cap_bytes: p.monthly_upload_cap_bytes.signed(),
            serve_in_background: p.serve_in_background,
        }
    }
}

/// The user's decision about serving.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentStatus {
    /// The user has not decided yet.
    NotAsked,
    /// The user lets the phone serve under `policy`.
    Granted {
        terms_version: String,
        policy: ConsentPolicy,
    },
    /// The user took consent back; `purge_cache` says whether the cache went too.
    Revoked { purge_cache: bool },
}

impl From<core::ConsentStatus> for ConsentStatus {
    fn from(status: core::ConsentStatus) -> Self {
        match status {
            core::ConsentStatus::NotAsked => ConsentStatus::NotAsked,
            core::ConsentStatus::Granted { terms_version, policy } => ConsentStatus::Granted {
                terms_version,
                policy: policy.into(),
            },
            core::ConsentStatus::Revoked { purge_cache } => ConsentStatus::Revoked { purge_cache },
        }
    }
}

/// The user's decision and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentState {
    pub status: ConsentStatus,
    pub revision: i64,
    pub decided_at_ms: Option<i64>,
    /// Whether the control plane holds this decision yet.
    pub reported: bool,
}

impl From<core::ConsentState> for ConsentState {
    fn from(s: core::ConsentState) -> Self {
        ConsentState {
            status: s.status.into(),
            revision: s.revision.signed(),
            decided_at_ms: s.decided_at_ms.signed(),
            reported: s.reported,
        }
    }
}

/// Grants, revokes and reads the user's consent.
#[derive(uniffi::Object)]
pub struct Consent {
    inner: core::Consent,
}

impl Consent {
    pub(crate) fn new(inner: core::Consent) -> Self {
        Consent { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Consent {
    /// Grants consent; durable on return, reported to the control plane as
    /// soon as it can be (see `ConsentState.reported`).
    pub async fn grant(&self, terms_version: String, policy: ConsentPolicy) -> Result<ConsentState, EdgePointsError> {
        Ok(self.inner.grant(&terms_version, policy.try_into()?).await?.into())
    }

    /// Revokes consent; `purge_cache` also deletes cached content.
    pub async fn revoke(&self, purge_cache: bool) -> Result<ConsentState, EdgePointsError> {
        Ok(self.inner.revoke(purge_cache).await?.into())
    }

    /// The user's decision as stored on this device, and whether the control
    /// plane holds it yet. Reads the local database only.
    pub fn state(&self) -> Result<ConsentState, EdgePointsError> {
        Ok(self.inner.state()?.into())
    }

    /// Sends a decision the control plane does not hold yet.
    pub async fn report_pending(&self) -> Result<ConsentState, EdgePointsError> {
        Ok(self.inner.report_pending().await?.into())
    }
}
