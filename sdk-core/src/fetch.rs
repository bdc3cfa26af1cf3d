//! Consumer fetch: get an item by its hash from a nearby node, verified,
//! falling back to the origin.
//!
//! 1. The control plane names the nodes that hold the item, each with a
//!    ticket for this device, and the origins.
//! 2. Nodes are tried one at a time, but a node that has not delivered
//!    within the hedge delay gets company: the next node is asked too, and
//!    the first to deliver verified bytes wins; the others are dropped
//!    (their partial files go with them).
//! 3. A source is given up on when no bytes come for the idle timeout.
//! 4. Bytes that do not hash to the name are never kept; the source is
//!    reported to the control plane (through the outbox, so the report
//!    survives a broken network) and the next source is tried.
//! 5. After the nodes, the origins, one after the other.

use std::fmt;
use std::time::Duration;

use edgepoints_protocol::{
    paths, ContentHash, ContentSources, FailedSource, HashFailureReport, NodeSource, Purpose, TICKET_HEADER,
};
use reqwest::Method;
use tokio::task::JoinSet;

use crate::content::IdleTimeout;
use crate::edgepoints::{EdgePoints, Shared};
use crate::outbox::{self, EntryKind, NewEntry};
use crate::time::unix_millis;
use crate::{registration, Error, StoreError};

/// Where a fetched item came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchSource {
    /// It was cached here already.
    Cache,
    Node {
        node_id: String,
        url: String,
    },
    Origin {
        url: String,
    },
}

impl fmt::Display for FetchSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchSource::Cache => write!(f, "the local cache"),
            FetchSource::Node { node_id, url } => write!(f, "node {node_id} at {url}"),
            FetchSource::Origin { url } => write!(f, "origin {url}"),
        }
    }
}

/// What became of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Delivered the item, verified.
    Delivered,
    /// Still going when another source won; dropped.
    Abandoned,
    /// Served bytes that do not match the hash; reported.
    Tampered { reason: String },
    /// Unreachable, refused, or stalled.
    Failed { reason: String },
}

/// One source tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchAttempt {
    pub source: FetchSource,
    pub outcome: AttemptOutcome,
}

/// A fetched item and how it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    pub hash: ContentHash,
    pub size: u64,
    pub source: FetchSource,
    /// Every source tried, in the order tried.
    pub attempts: Vec<FetchAttempt>,
}

impl EdgePoints {
    /// Fetches the item named `hash` into the local cache, verified, from a
    /// node the control plane routes to or else from the origin.
    ///
    /// Errors: [`Error::ContentRejected`] when every source that answered
    /// served wrong bytes; [`Error::ContentUnavailable`] when none
    /// delivered; [`Error::Rejected`] (404) for content the control plane
    /// does not publish.
    pub async fn fetch(&self, hash: ContentHash) -> Result<FetchReport, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        if self.content().contains(&hash)? {
            let size = self.content().read(&hash).await?.map_or(0, |b| b.len() as u64);
            return Ok(FetchReport {
                hash,
                size,
                source: FetchSource::Cache,
                attempts: Vec::new(),
            });
        }
        self.register().await?;
        let sources = self.sources(&hash).await?;
        if sources.content != hash {
            return Err(Error::Protocol(format!(
                "asked for the sources of {hash}, got {}",
                sources.content
            )));
        }
        let mut attempts = Vec::new();
        if let Some(source) = self.try_nodes(&sources, &mut attempts).await? {
            return self.fetched(sources, source, attempts);
        }
        for origin in &sources.origins {
            let source = FetchSource::Origin { url: origin.clone() };
            let outcome = download(self.clone(), hash, sources.size, origin.clone(), None).await;
            let delivered = outcome.is_ok();
            attempts.push(self.settle(hash, source.clone(), outcome)?);
            if delivered {
                return self.fetched(sources, source, attempts);
            }
        }
        let summary = attempts
            .iter()
            .map(|a| format!("{}: {:?}", a.source, a.outcome))
            .collect::<Vec<_>>()
            .join("; ");
        let all_tampered = !attempts.is_empty()
            && attempts
                .iter()
                .all(|a| matches!(a.outcome, AttemptOutcome::Tampered { .. }));
        Err(if all_tampered {
            Error::ContentRejected {
                hash: hash.to_hex(),
                reason: summary,
            }
        } else {
            Error::ContentUnavailable {
                hash: hash.to_hex(),
                reason: if summary.is_empty() {
                    "no sources".into()
                } else {
                    summary
                },
            }
        })
    }

    fn fetched(
        &self,
        sources: ContentSources,
        source: FetchSource,
        attempts: Vec<FetchAttempt>,
    ) -> Result<FetchReport, Error> {
        tracing::info!(hash = %sources.content, %source, tried = attempts.len(), "content fetched");
        crate::node::announce::holdings_changed(self.shared())?;
        Ok(FetchReport {
            hash: sources.content,
            size: sources.size,
            source,
            attempts,
        })
    }

    /// Asks the control plane for the item's sources.
    async fn sources(&self, hash: &ContentHash) -> Result<ContentSources, Error> {
        let path = paths::device_sources(self.shared().identity.device_id().as_str(), hash);
        let location = *self.shared().location.lock().unwrap_or_else(|p| p.into_inner());
        let headers = location
            .map(|l| (edgepoints_protocol::LOCATION_HEADER, l.to_header()))
            .into_iter()
            .collect();
        self.signed_get_with(path, headers).await
    }

    /// Tries the nodes, hedged; returns the one that delivered, if any.
    async fn try_nodes(
        &self,
        sources: &ContentSources,
        attempts: &mut Vec<FetchAttempt>,
    ) -> Result<Option<FetchSource>, Error> {
        let hedge_delay = self.shared().config.hedge_delay;
        let mut waiting = sources.nodes.iter().cloned();
        let mut running: JoinSet<(NodeSource, Result<(), Error>)> = JoinSet::new();
        let mut started: Vec<NodeSource> = Vec::new();
        let hedge = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(hedge);
        loop {
            let start_next = running.is_empty() || hedge.is_elapsed();
            if start_next {
                match waiting.next() {
                    Some(node) => {
                        let job = download(
                            self.clone(),
                            sources.content,
                            sources.size,
                            node.url.trim_end_matches('/').to_owned() + "/content/" + &sources.content.to_hex(),
                            Some(node.ticket.clone()),
                        );
                        started.push(node.clone());
                        running.spawn(async move { (node, job.await) });
                        hedge.as_mut().reset(tokio::time::Instant::now() + hedge_delay);
                    }
                    None if running.is_empty() => return Ok(None),
                    None => hedge
                        .as_mut()
                        .reset(tokio::time::Instant::now() + Duration::from_secs(86_400)),
                }
            }
            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { continue };
                    let (node, outcome) = joined.map_err(|e| Error::Protocol(format!("fetch task failed: {e}")))?;
                    let source = node_source(&node);
                    let delivered = outcome.is_ok();
                    attempts.push(self.settle(sources.content, source.clone(), outcome)?);
                    if delivered {
                        running.abort_all();
                        for other in started.iter().filter(|n| n.node_id != node.node_id) {
                            if !attempts.iter().any(|a| a.source == node_source(other)) {
                                attempts.push(FetchAttempt { source: node_source(other), outcome: AttemptOutcome::Abandoned });
                            }
                        }
                        return Ok(Some(source));
                    }
                }
                () = &mut hedge => {
                    tracing::debug!(hash = %sources.content, "hedging: asking the next node too");
                }
            }
        }
    }

    /// Turns one source's outcome into an attempt; reports wrong bytes.
    fn settle(
        &self,
        hash: ContentHash,
        source: FetchSource,
        outcome: Result<(), Error>,
    ) -> Result<FetchAttempt, Error> {
        let outcome = match outcome {
            Ok(()) => AttemptOutcome::Delivered,
            Err(Error::ContentRejected { reason, .. }) => {
                tracing::warn!(%hash, %source, %reason, "source served wrong bytes");
                let failed = match &source {
                    FetchSource::Node { node_id, .. } => FailedSource::Node {
                        node_id: edgepoints_protocol::DeviceId::parse(node_id)
                            .map_err(|e| Error::Protocol(format!("node id: {e}")))?,
                    },
                    FetchSource::Origin { url } => FailedSource::Origin { url: url.clone() },
                    FetchSource::Cache => unreachable!("the cache is never downloaded from"),
                };
                queue_hash_failure(self.shared(), hash, failed, &reason)?;
                AttemptOutcome::Tampered { reason }
            }
            Err(error @ (Error::ShutDown | Error::Store(_))) => return Err(error),
            Err(other) => AttemptOutcome::Failed {
                reason: other.to_string(),
            },
        };
        Ok(FetchAttempt { source, outcome })
    }
}

fn node_source(node: &NodeSource) -> FetchSource {
    FetchSource::Node {
        node_id: node.node_id.to_string(),
        url: node.url.clone(),
    }
}

/// Downloads `location` into the cache, verified against `hash` and `size`.
async fn download(
    sdk: EdgePoints,
    hash: ContentHash,
    size: u64,
    location: String,
    ticket: Option<String>,
) -> Result<(), Error> {
    let shared = sdk.shared();
    let idle = shared.config.source_idle_timeout;
    let headers: Vec<(&'static str, &str)> = ticket.as_deref().map(|t| (TICKET_HEADER, t)).into_iter().collect();
    let response = shared
        .transport
        .fetch(&location, &headers, idle)
        .await
        .map_err(|failure| Error::ContentUnavailable {
            hash: hash.to_hex(),
            reason: failure.to_string(),
        })?;
    sdk.content()
        .ingest_from(hash, size, IdleTimeout { source: response, idle })
        .await
}

/// Writes a signed hash-failure report into the outbox.
fn queue_hash_failure(
    shared: &Shared,
    hash: ContentHash,
    source: FailedSource,
    reason: &str,
) -> Result<(), StoreError> {
    let report = HashFailureReport {
        reporter: shared.identity.device_id().clone(),
        content: hash,
        source,
        reason: reason.chars().take(500).collect(),
        observed_at_ms: unix_millis(),
    };
    let envelope = shared.identity.sign(Purpose::HashFailureReport, &report);
    shared.store.with(|c| {
        let tx = c.transaction()?;
        registration::ensure_queued(shared, &tx)?;
        outbox::enqueue(
            &tx,
            NewEntry {
                kind: EntryKind::HashFailureReport,
                method: Method::POST,
                path: paths::device_hash_failures(shared.identity.device_id().as_str()),
                body: serde_json::to_vec(&envelope).expect("envelope serialises"),
                context: serde_json::json!({ "content": hash.to_hex() }),
                idempotency_key: None,
            },
        )?;
        tx.commit()?;
        Ok(())
    })?;
    shared.outbox_wake.notify_one();
    Ok(())
}
