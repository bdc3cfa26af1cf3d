//! The user's consent to serve as an edge node.
//!
//! A decision is written locally first (durable, with a new revision and the
//! idempotency key of its report), then reported to the control plane. The
//! user's decision stands on the device whatever the network does: a report
//! that cannot be sent now is kept and sent later with the same key.

use std::sync::Arc;

use edgepoints_protocol::consent::validate_terms_version;
use edgepoints_protocol::{paths, ConsentDecision, ConsentPolicy, ConsentRecorded, ConsentReport, Purpose};
use reqwest::Method;
use rusqlite::OptionalExtension;

use crate::edgepoints::Shared;
use crate::events::Event;
use crate::identity::new_idempotency_key;
use crate::time::unix_millis;
use crate::transport::Outgoing;
use crate::{registration, Error, StoreError};

/// Where the user stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentStatus {
    /// The user has not decided yet: the phone does not serve.
    NotAsked,
    Granted {
        terms_version: String,
        policy: ConsentPolicy,
    },
    Revoked {
        purge_cache: bool,
    },
}

/// The consent on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentState {
    pub status: ConsentStatus,
    /// Increases with every decision; 0 before the first.
    pub revision: u64,
    pub decided_at_ms: Option<u64>,
    /// Whether the control plane holds this revision.
    pub reported: bool,
}

impl ConsentState {
    pub fn is_granted(&self) -> bool {
        matches!(self.status, ConsentStatus::Granted { .. })
    }
}

/// Grants, revokes and reads consent. Obtained from [`crate::EdgePoints::consent`].
#[derive(Clone)]
pub struct Consent {
    shared: Arc<Shared>,
}

struct StoredDecision {
    state: ConsentState,
    decision: ConsentDecision,
    report_key: String,
}

impl Consent {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Consent { shared }
    }

    /// Grants consent under `policy` for the terms of `terms_version`.
    ///
    /// Returns once the decision is durable on the device. It is then
    /// reported; if the control plane cannot be reached, the state says
    /// `reported: false`, a [`Event::ConsentReportPending`] is sent, and
    /// [`Consent::report_pending`] sends it later with the same key.
    pub async fn grant(&self, terms_version: &str, policy: ConsentPolicy) -> Result<ConsentState, Error> {
        self.shared.ensure_open()?;
        validate_terms_version(terms_version).map_err(|e| Error::InvalidInput(e.to_string()))?;
        policy.validate().map_err(|e| Error::InvalidInput(e.to_string()))?;
        self.decide(ConsentDecision::Granted {
            terms_version: terms_version.to_owned(),
            policy,
        })
        .await
    }

    /// Revokes consent; `purge_cache` asks for the cached content to be deleted.
    pub async fn revoke(&self, purge_cache: bool) -> Result<ConsentState, Error> {
        self.shared.ensure_open()?;
        self.decide(ConsentDecision::Revoked { purge_cache }).await
    }

    /// The consent as stored on this device.
    pub fn state(&self) -> Result<ConsentState, Error> {
        self.shared.ensure_open()?;
        Ok(load(&self.shared)?.map(|d| d.state).unwrap_or(ConsentState {
            status: ConsentStatus::NotAsked,
            revision: 0,
            decided_at_ms: None,
            reported: true,
        }))
    }

    /// Sends the latest decision if the control plane does not hold it yet.
    /// Errors (unreachable, refused) come back as they are.
    pub async fn report_pending(&self) -> Result<ConsentState, Error> {
        self.shared.ensure_open()?;
        let Some(stored) = load(&self.shared)? else {
            return self.state();
        };
        if stored.state.reported {
            return Ok(stored.state);
        }
        registration::register(&self.shared).await?;
        let report = ConsentReport {
            device_id: self.shared.identity.device_id().clone(),
            revision: stored.state.revision,
            decision: stored.decision,
            decided_at_ms: stored.state.decided_at_ms.unwrap_or_default(),
        };
        let envelope = self.shared.identity.sign(Purpose::ConsentReport, &report);
        let path = paths::device_consent(self.shared.identity.device_id().as_str());
        let answer = self
            .shared
            .transport
            .call::<ConsentRecorded>(Outgoing {
                method: Method::PUT,
                path: &path,
                body: Some(serde_json::to_vec(&envelope).expect("envelope serialises")),
                idempotency_key: Some(&stored.report_key),
            })
            .await?;
        tracing::info!(
            revision = report.revision,
            applied = answer.value.applied,
            replayed = answer.replayed,
            attempts = answer.attempts,
            "consent reported"
        );
        self.shared.store.with(|c| {
            c.execute(
                "UPDATE consent SET reported_revision = max(reported_revision, ?1)",
                [report.revision as i64],
            )?;
            Ok(())
        })?;
        self.shared.events.emit(Event::ConsentReported {
            revision: report.revision,
        });
        self.state()
    }

    async fn decide(&self, decision: ConsentDecision) -> Result<ConsentState, Error> {
        let decision_json = serde_json::to_string(&decision).expect("decision serialises");
        let now = unix_millis();
        self.shared.store.with(|c| {
            let tx = c.transaction()?;
            let revision: i64 = tx
                .query_row("SELECT revision FROM consent", [], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            tx.execute(
                "INSERT INTO consent (singleton, revision, decision_json, decided_at_ms, report_key)
                 VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (singleton) DO UPDATE SET revision = ?1, decision_json = ?2,
                     decided_at_ms = ?3, report_key = ?4",
                rusqlite::params![revision + 1, decision_json, now as i64, new_idempotency_key()?],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        let state = self.state()?;
        tracing::info!(
            revision = state.revision,
            granted = state.is_granted(),
            "consent decided"
        );
        self.shared.events.emit(Event::ConsentChanged { state: state.clone() });
        match self.report_pending().await {
            Ok(reported) => Ok(reported),
            // The decision stands locally; only its report waits.
            Err(error @ (Error::Unavailable { .. } | Error::Rejected { .. } | Error::Protocol(_))) => {
                tracing::warn!(revision = state.revision, %error, "consent report pending");
                self.shared.events.emit(Event::ConsentReportPending {
                    revision: state.revision,
                    reason: error.to_string(),
                });
                self.state()
            }
            Err(other) => Err(other),
        }
    }
}

fn load(shared: &Shared) -> Result<Option<StoredDecision>, StoreError> {
    let row: Option<(i64, String, i64, String, i64)> = shared.store.with(|c| {
        Ok(c.query_row(
            "SELECT revision, decision_json, decided_at_ms, report_key, reported_revision FROM consent",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?)
    })?;
    let Some((revision, decision_json, decided_at_ms, report_key, reported_revision)) = row else {
        return Ok(None);
    };
    let decision: ConsentDecision =
        serde_json::from_str(&decision_json).map_err(|e| StoreError::Corrupt(format!("consent decision: {e}")))?;
    let status = match &decision {
        ConsentDecision::Granted { terms_version, policy } => ConsentStatus::Granted {
            terms_version: terms_version.clone(),
            policy: policy.clone(),
        },
        ConsentDecision::Revoked { purge_cache } => ConsentStatus::Revoked {
            purge_cache: *purge_cache,
        },
    };
    Ok(Some(StoredDecision {
        state: ConsentState {
            status,
            revision: revision as u64,
            decided_at_ms: Some(decided_at_ms as u64),
            reported: reported_revision >= revision,
        },
        decision,
        report_key,
    }))
}
