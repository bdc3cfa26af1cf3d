//! A consumer's fetch, as Kotlin and Swift see its report.

use edgepoints_core as core;

use crate::number::Signed;

/// Where a fetched item came from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FetchSource {
    /// Already in this device's cache.
    Cache,
    /// From a nearby edge node.
    Node { node_id: String, url: String },
    /// From the origin, after the nodes (if any) failed.
    Origin { url: String },
}

impl From<core::FetchSource> for FetchSource {
    fn from(source: core::FetchSource) -> Self {
        match source {
            core::FetchSource::Cache => FetchSource::Cache,
            core::FetchSource::Node { node_id, url } => FetchSource::Node { node_id, url },
            core::FetchSource::Origin { url } => FetchSource::Origin { url },
        }
    }
}

/// What became of one source.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AttemptOutcome {
    /// This source delivered the item, verified.
    Delivered,
    /// Another source won first.
    Abandoned,
    /// Served bytes not matching the hash; reported to the control plane.
    Tampered { reason: String },
    /// This source failed (refused, timed out, unreachable).
    Failed { reason: String },
}

impl From<core::AttemptOutcome> for AttemptOutcome {
    fn from(outcome: core::AttemptOutcome) -> Self {
        match outcome {
            core::AttemptOutcome::Delivered => AttemptOutcome::Delivered,
            core::AttemptOutcome::Abandoned => AttemptOutcome::Abandoned,
            core::AttemptOutcome::Tampered { reason } => AttemptOutcome::Tampered { reason },
            core::AttemptOutcome::Failed { reason } => AttemptOutcome::Failed { reason },
        }
    }
}

/// One source a fetch tried, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FetchAttempt {
    pub source: FetchSource,
    pub outcome: AttemptOutcome,
}

impl From<core::FetchAttempt> for FetchAttempt {
    fn from(attempt: core::FetchAttempt) -> Self {
        FetchAttempt {
            source: attempt.source.into(),
            outcome: attempt.outcome.into(),
        }
    }
}

/// A fetched item and how it came.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FetchReport {
    pub hash: String,
    pub size: i64,
    pub source: FetchSource,
    pub attempts: Vec<FetchAttempt>,
    /// Whether a receipt for the delivering node was queued.
    pub receipt_queued: bool,
}

impl From<core::FetchReport> for FetchReport {
    fn from(report: core::FetchReport) -> Self {
        FetchReport {
            hash: report.hash.to_hex(),
            size: report.size.signed(),
            source: report.source.into(),
            receipt_queued: report.receipt_queued,
            attempts: report.attempts.into_iter().map(Into::into).collect(),
        }
    }
}
