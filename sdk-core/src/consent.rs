//! The user's consent to serve as an edge node.
//!
//! A decision is written locally with its report in the outbox, in one
//! transaction (durable, with a new revision), and then reported. The user's
//! decision stands on the device whatever the network does: a report that
//! cannot be sent now stays in the outbox and goes later with the same key.

use edgepoints_protocol::consent::validate_terms_version;
use edgepoints_protocol::{paths, ConsentDecision, ConsentPolicy, ConsentReport, Purpose};
use reqwest::Method;
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::Value;

use crate::edgepoints::EdgePoints;
use crate::events::Event;
use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
use crate::time::unix_millis;
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

/// Grants, revokes and reads consent. Obtained from [`EdgePoints::consent`].
#[derive(Clone)]
pub struct Consent {
    sdk: EdgePoints,
}

struct StoredDecision {
    state: ConsentState,
    decision: ConsentDecision,
    report_key: String,
}

impl Consent {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Consent { sdk }
    }

    fn shared(&self) -> &Shared {
        self.sdk.shared()
    }

    /// Grants consent under `policy` for the terms of `terms_version`.
    ///
    /// Returns once the decision is durable on the device and its report was
    /// tried as a direct call would be. If the control plane could not be
    /// reached, the state says `reported: false`, a
    /// [`Event::ConsentReportPending`] is sent, and the outbox goes on.
    pub async fn grant(&self, terms_version: &str, policy: ConsentPolicy) -> Result<ConsentState, Error> {
        self.shared().ensure_open()?;
        validate_terms_version(terms_version).map_err(|e| Error::InvalidInput(e.to_string()))?;
        policy.validate().map_err(|e| Error::InvalidInput(e.to_string()))?;
        self.decide_on_runtime(ConsentDecision::Granted {
            terms_version: terms_version.to_owned(),
            policy,
        })
        .await
    }

    /// Revokes consent; with `purge_cache` the cached content is deleted too.
    pub async fn revoke(&self, purge_cache: bool) -> Result<ConsentState, Error> {
        self.shared().ensure_open()?;
        self.decide_on_runtime(ConsentDecision::Revoked { purge_cache }).await
    }

    async fn decide_on_runtime(&self, decision: ConsentDecision) -> Result<ConsentState, Error> {
        let consent = self.clone();
        self.sdk.on_runtime(async move { consent.decide(decision).await }).await
    }

    /// The consent as stored on this device.
    pub fn state(&self) -> Result<ConsentState, Error> {
        self.shared().ensure_open()?;
        Ok(stored_state(self.shared())?)
    }

    /// Waits for the latest decision to reach the control plane; if its
    /// report failed for good earlier, sends it again under a new key.
    /// Errors (unreachable, refused) come back as they are.
    pub async fn report_pending(&self) -> Result<ConsentState, Error> {
        let consent = self.clone();
        self.sdk
            .on_runtime(async move { consent.report_pending_on_runtime().await })
            .await
    }

    async fn report_pending_on_runtime(&self) -> Result<ConsentState, Error> {
        self.shared().ensure_open()?;
        let pending = self.shared().store().with(|c| {
            let tx = c.transaction()?;
            let Some(stored) = load(&tx)? else {
                return Ok(None);
            };
            if stored.state.reported {
                return Ok(None);
            }
            let entry: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, state FROM outbox WHERE idempotency_key = ?1",
                    [&stored.report_key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let id = match entry {
                Some((id, state)) if state != "failed" => id,
                _ => {
                    let key = crate::identity::new_idempotency_key()?;
                    tx.execute("UPDATE consent SET report_key = ?1", [&key])?;
                    queue_report(self.shared(), &tx, &stored.state, &stored.decision, key)?
                }
            };
            tx.commit()?;
            Ok(Some(id))
        })?;
        if let Some(id) = pending {
            self.shared().outbox_wake().notify_one();
            outbox::wait(self.shared(), id).await?;
        }
        self.state()
    }

    async fn decide(&self, decision: ConsentDecision) -> Result<ConsentState, Error> {
        let shared = self.shared();
        let decision_json = serde_json::to_string(&decision).expect("decision serialises");
        let now = unix_millis();
        let (entry, state) = shared.store().with(|c| {
            let tx = c.transaction()?;
            registration::ensure_queued(shared, &tx)?;
            let revision: i64 = tx
                .query_row("SELECT revision FROM consent", [], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let key = crate::identity::new_idempotency_key()?;
            tx.execute(
                "INSERT INTO consent (singleton, revision, decision_json, decided_at_ms, report_key)
                 VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (singleton) DO UPDATE SET revision = ?1, decision_json = ?2,
                     decided_at_ms = ?3, report_key = ?4",
                rusqlite::params![revision + 1, decision_json, now as i64, key],
            )?;
            let state = load(&tx)?.expect("just written").state;
            let entry = queue_report(shared, &tx, &state, &decision, key)?;
            tx.commit()?;
            Ok((entry, state))
        })?;
        tracing::info!(
            revision = state.revision,
            granted = state.is_granted(),
            "consent decided"
        );
        self.sdk.refresh_serving_gate()?;
        if matches!(state.status, ConsentStatus::Revoked { purge_cache: true }) {
            crate::content::purge(shared)?;
        }
        shared.events().emit(Event::ConsentChanged { state: state.clone() });
        shared.outbox_wake().notify_one();
        match outbox::wait(self.shared(), entry).await {
            Ok(_) => self.state(),
            // The decision stands locally; only its report waits.
            Err(error @ (Error::Unavailable { .. } | Error::Rejected { .. } | Error::Protocol(_))) => {
                tracing::warn!(revision = state.revision, %error, "consent report pending");
                shared.events().emit(Event::ConsentReportPending {
                    revision: state.revision,
                    reason: error.to_string(),
                });
                self.state()
            }
            Err(other) => Err(other),
        }
    }
}

/// Writes the signed report of `state` into the outbox.
fn queue_report(
    shared: &Shared,
    tx: &Transaction<'_>,
    state: &ConsentState,
    decision: &ConsentDecision,
    key: String,
) -> Result<i64, StoreError> {
    let report = ConsentReport {
        device_id: shared.identity().device_id().clone(),
        revision: state.revision,
        decision: decision.clone(),
        decided_at_ms: state.decided_at_ms.unwrap_or_default(),
    };
    let envelope = shared.identity().sign(Purpose::ConsentReport, &report);
    let (id, _) = outbox::enqueue(
        tx,
        NewEntry {
            kind: EntryKind::ConsentReport,
            method: Method::PUT,
            path: paths::device_consent(shared.identity().device_id().as_str()),
            body: serde_json::to_vec(&envelope).expect("envelope serialises"),
            context: serde_json::json!({ "revision": state.revision }),
            idempotency_key: Some(key),
        },
    )?;
    Ok(id)
}

/// Applies the control plane's answer to a report (outbox worker).
pub(crate) fn apply_answer(tx: &Transaction<'_>, context: &Value) -> Result<Vec<Event>, Error> {
    let revision = context["revision"]
        .as_u64()
        .ok_or_else(|| Error::Protocol("consent report without a revision".into()))?;
    tx.execute(
        "UPDATE consent SET reported_revision = max(reported_revision, ?1)",
        [revision as i64],
    )
    .map_err(StoreError::from)?;
    tracing::info!(revision, "consent reported");
    Ok(vec![Event::ConsentReported { revision }])
}

/// The consent as stored on this device.
pub(crate) fn stored_state(shared: &Shared) -> Result<ConsentState, StoreError> {
    Ok(shared
        .store()
        .with(|c| load(c))?
        .map(|d| d.state)
        .unwrap_or(ConsentState {
            status: ConsentStatus::NotAsked,
            revision: 0,
            decided_at_ms: None,
            reported: true,
        }))
}

fn load(connection: &Connection) -> Result<Option<StoredDecision>, StoreError> {
    let row: Option<(i64, String, i64, String, i64)> = connection
        .query_row(
            "SELECT revision, decision_json, decided_at_ms, report_key, reported_revision FROM consent",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
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
