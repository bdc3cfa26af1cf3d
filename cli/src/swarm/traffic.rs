//! The swarm's users: every phone fetches items drawn by popularity, one
//! after the other with a pause to look at each, all phones at once. What the phone holds it answers
//! itself; the rest comes from the nearest nodes that hold it (the control
//! plane routes, the SDK hedges) or else from the origin. Every fetch is
//! recorded as a [`Sample`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgepoints_core::{AttemptOutcome, EdgePoints, FetchSource};
use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalogue::Catalogue;

/// Where a fetch's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Came {
    /// The phone's own cache: no network.
    Local,
    Node {
        node_id: String,
    },
    Origin,
    /// No source delivered (a fault, a node gone); the user would retry.
    Failed {
        reason: String,
    },
}

/// One fetch.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    /// The fetching phone, by index, and the item, by popularity rank.
    pub(super) phone: usize,
    pub(super) rank: usize,
    /// Since the traffic started.
    pub(super) at: Duration,
    pub(super) came: Came,
    pub(super) bytes: u64,
    pub(super) latency: Duration,
    /// A second source was asked while the first was slow, and won.
    pub(super) hedged: bool,
    /// Nodes were tried and the origin delivered.
    pub(super) fell_back: bool,
    /// A receipt for the delivering node went into the outbox.
    pub(super) receipt: bool,
    /// Why nodes that were tried did not deliver.
    pub(super) node_failures: Vec<String>,
}

/// How every user browses: the same for all phones.
#[derive(Clone)]
pub(super) struct Browsing {
    pub(super) catalogue: Arc<Catalogue>,
    pub(super) fetches: usize,
    /// The mean pause between two fetches.
    pub(super) think: Duration,
    /// When the run began, for the samples' times.
    pub(super) started: Instant,
    pub(super) progress: ProgressBar,
}

/// One phone's fetches.
pub(super) async fn browse(phone: usize, sdk: EdgePoints, seed: u64, browsing: Browsing) -> Vec<Sample> {
    let Browsing {
        catalogue,
        fetches,
        think,
        started,
        progress,
    } = browsing;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut samples = Vec::with_capacity(fetches);
    for _ in 0..fetches {
        if !think.is_zero() {
            // Uniform around the mean, so phones do not march in step.
            tokio::time::sleep(think.mul_f64(rng.random::<f64>() * 2.0)).await;
        }
        let rank = catalogue.draw(&mut rng);
        let item = &catalogue.items[rank];
        let began = Instant::now();
        let outcome = sdk.fetch(item.hash).await;
        let latency = began.elapsed();
        let sample = match outcome {
            Ok(report) => {
                let nodes_tried = report
                    .attempts
                    .iter()
                    .filter(|a| matches!(a.source, FetchSource::Node { .. }))
                    .count();
                let came = match report.source {
                    FetchSource::Cache => Came::Local,
                    FetchSource::Node { node_id, .. } => Came::Node { node_id },
                    FetchSource::Origin { .. } => Came::Origin,
                };
                let node_failures = report
                    .attempts
                    .iter()
                    .filter(|a| matches!(a.source, FetchSource::Node { .. }))
                    .filter_map(|a| match &a.outcome {
                        AttemptOutcome::Failed { reason } => Some(reason.clone()),
                        AttemptOutcome::Tampered { reason } => Some(format!("tampered: {reason}")),
                        _ => None,
                    })
                    .collect();
                Sample {
                    phone,
                    rank,
                    at: began.duration_since(started),
                    node_failures,
                    fell_back: came == Came::Origin && nodes_tried > 0,
                    // Another source delivered while this one was still going.
                    hedged: report
                        .attempts
                        .iter()
                        .any(|a| matches!(a.outcome, AttemptOutcome::Abandoned)),
                    came,
                    bytes: report.size,
                    latency,
                    receipt: report.receipt_queued,
                }
            }
            Err(error) => Sample {
                phone,
                rank,
                node_failures: Vec::new(),
                at: began.duration_since(started),
                came: Came::Failed {
                    reason: error.to_string(),
                },
                bytes: 0,
                latency,
                hedged: false,
                fell_back: false,
                receipt: false,
            },
        };
        samples.push(sample);
        progress.inc(1);
    }
    samples
}
