//! After the run, nothing lost and nothing doubled: every phone's outbox
//! is empty, every receipt was credited once, every node's credited bytes
//! are the bytes its users verified (and its delivery points follow from
//! them exactly), every consent was applied once, and no idempotency key
//! ran twice. Read from the control plane's admin API and the phones' own
//! SDKs, never from the swarm's bookkeeping alone.

use std::collections::HashMap;

use edgepoints_core::LedgerReason;
use edgepoints_protocol::receipts::BYTES_PER_MB;
use edgepoints_protocol::PointsRules;
use serde::Serialize;

use super::phones::Phone;
use super::traffic::{Came, Sample};
use crate::admin::AdminClient;
use crate::CliResult;

/// Control-plane counters read before and after the run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(super) struct Counters {
    pub(super) receipts: u64,
    pub(super) heartbeats: u64,
    pub(super) consent_reports: u64,
    pub(super) routing_answers: u64,
}

impl Counters {
    pub(super) async fn read(admin: &AdminClient) -> CliResult<Counters> {
        let state = admin.state().await?;
        let applied = |what: &str| state.applied.get(what).copied().unwrap_or(0) as u64;
        Ok(Counters {
            receipts: applied("receipts"),
            heartbeats: applied("heartbeats"),
            consent_reports: applied("consent_reports"),
            routing_answers: state
                .requests
                .get(edgepoints_protocol::paths::routes::DEVICE_SOURCES)
                .copied()
                .unwrap_or(0) as u64,
        })
    }

    pub(super) fn since(&self, before: &Counters) -> Counters {
        Counters {
            receipts: self.receipts - before.receipts,
            heartbeats: self.heartbeats - before.heartbeats,
            consent_reports: self.consent_reports - before.consent_reports,
            routing_answers: self.routing_answers - before.routing_answers,
        }
    }
}

/// One check and whether it held.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Check {
    pub(super) what: String,
    pub(super) held: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Audit {
    pub(super) checks: Vec<Check>,
    /// Calls accepted by an SDK and never applied (outbox entries left
    /// pending or failed, receipts not credited).
    pub(super) lost: u64,
    /// Calls applied more than once.
    pub(super) doubled: u64,
    /// Bytes nodes were credited for, and delivery points credited.
    pub(super) credited_bytes: u64,
    pub(super) delivery_points: u64,
}

impl Audit {
    pub(super) fn check(&mut self, held: bool, what: impl Into<String>) {
        self.checks.push(Check {
            what: what.into(),
            held,
        });
    }

    pub(super) fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.held) && self.lost == 0 && self.doubled == 0
    }

    /// Counts `applied` against `expected`: the shortfall lost, the excess doubled.
    pub(super) fn tally(&mut self, expected: u64, applied: u64, what: &str) {
        self.lost += expected.saturating_sub(applied);
        self.doubled += applied.saturating_sub(expected);
        self.check(
            applied == expected,
            format!("{what}: {expected} accepted, {applied} applied"),
        );
    }
}

/// The delivery points in a phone's ledger, read through its SDK.
async fn delivery_points(phone: &Phone) -> CliResult<u64> {
    let mut total = 0u64;
    let mut after = 0;
    loop {
        let page = phone.sdk.points().ledger(after).await?;
        total += page
            .entries
            .iter()
            .filter(|e| e.reason == LedgerReason::Delivery)
            .map(|e| e.points.max(0) as u64)
            .sum::<u64>();
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(total),
        }
    }
}

pub(super) async fn audit(
    admin: &AdminClient,
    phones: &[Phone],
    samples: &[Sample],
    during: &Counters,
    rules: &PointsRules,
) -> CliResult<Audit> {
    let mut audit = Audit::default();

    let mut left = 0u64;
    for phone in phones {
        let status = phone.sdk.outbox().status()?;
        left += status.pending + status.failed;
    }
    audit.lost += left;
    audit.check(left == 0, format!("every phone's outbox drained ({left} entries left)"));

    let receipts = samples.iter().filter(|s| s.receipt).count() as u64;
    audit.tally(receipts, during.receipts, "receipts");

    // A repeat delivery of one item to one user within a day is taken but
    // credits nothing (a pair of devices cannot farm points): only the
    // first delivery of each (node, user, item) counts.
    let mut verified: HashMap<&str, u64> = HashMap::new();
    let mut first_deliveries = std::collections::HashSet::new();
    for sample in samples.iter().filter(|s| s.receipt) {
        if let Came::Node { node_id } = &sample.came {
            if first_deliveries.insert((node_id.as_str(), sample.phone, sample.rank)) {
                *verified.entry(node_id.as_str()).or_default() += sample.bytes;
            }
        }
    }
    let credited: HashMap<String, u64> = admin
        .points_accounts(0)
        .await?
        .devices
        .into_iter()
        .map(|a| (a.owner, a.delivered_bytes))
        .collect();
    let mut bytes_agree = true;
    let mut points_agree = true;
    for phone in phones {
        let users_verified = verified.get(phone.device_id.as_str()).copied().unwrap_or(0);
        let node_credited = credited.get(&phone.device_id).copied().unwrap_or(0);
        bytes_agree &= users_verified == node_credited;
        let points = delivery_points(phone).await?;
        points_agree &= points == node_credited / BYTES_PER_MB * rules.points_per_delivered_mb;
        audit.credited_bytes += node_credited;
        audit.delivery_points += points;
    }
    audit.check(
        bytes_agree,
        "every node was credited exactly the bytes its users verified and signed for (first deliveries of an item to a user)",
    );
    audit.check(
        points_agree,
        format!(
            "every node's delivery points are its credited whole MB × {} (its own ledger, read through its SDK)",
            rules.points_per_delivered_mb
        ),
    );

    let state = admin.state().await?;
    audit.doubled += state.executions.duplicates.len() as u64;
    audit.check(
        state.executions.duplicates.is_empty(),
        format!("no idempotency key ran twice ({} keys)", state.executions.keys),
    );
    let mut consents_once = true;
    for phone in phones {
        let history = state
            .devices
            .iter()
            .find(|d| d.device_id.as_str() == phone.device_id)
            .map(|d| d.consent_history.clone())
            .unwrap_or_default();
        consents_once &= history == [1];
    }
    audit.tally(phones.len() as u64, during.consent_reports, "consent decisions");
    audit.check(consents_once, "every phone's consent applied once, at revision 1");
    Ok(audit)
}
