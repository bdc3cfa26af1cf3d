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
//! 6. A node is asked for a signed delivery statement (bound to a fresh
//!    nonce); once its bytes are verified, the consumer signs a receipt
//!    carrying the statement and the ticket and queues it in the outbox,
//!    and the control plane credits the node (see
//!    [`edgepoints_protocol::receipts`] for why the consumer submits it).
//!
//! Over 400 lines on purpose: the numbered steps above are one call's
//! sequence (sources, hedged nodes, origin, report, receipt), each a method
//! here, and they share the attempt record that the report returns.

use std::fmt;
use std::time::Duration;

use edgepoints_protocol::{
    paths, ContentHash, ContentSources, DeliveryStatement, FailedSource, HashFailureReport, NodeSource, Purpose,
    Receipt, SignedEnvelope, DELIVERY_HEADER, RECEIPT_NONCE_HEADER, TICKET_HEADER,
};
use tokio::task::JoinSet;

use crate::content::IdleTimeout;
use crate::edgepoints::EdgePoints;
use crate::outbox::{self, EntryKind};
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{Error, StoreError};

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
    /// Whether a receipt for the delivering node was queued (only a node
    /// that signed a matching delivery statement gets one).
    pub receipt_queued: bool,
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
        let sdk = self.clone();
        self.on_runtime(async move { sdk.fetch_on_runtime(hash).await }).await
    }

    async fn fetch_on_runtime(&self, hash: ContentHash) -> Result<FetchReport, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        if self.content().contains(&hash)? {
            let size = self.content().read(&hash).await?.map_or(0, |b| b.len() as u64);
            return Ok(FetchReport {
                hash,
                size,
                source: FetchSource::Cache,
                attempts: Vec::new(),
                receipt_queued: false,
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
        if let Some((node, delivery)) = self.try_nodes(&sources, &mut attempts).await? {
            let receipt_queued = match queue_receipt(self.shared(), &sources, &node, delivery) {
                Ok(()) => true,
                Err(ReceiptNotMade::Store(error)) => return Err(error.into()),
                Err(ReceiptNotMade::Statement(why)) => {
                    tracing::warn!(hash = %hash, node = %node.node_id, %why, "no receipt: the node's delivery statement");
                    false
                }
            };
            return self.fetched(sources, node_source(&node), attempts, receipt_queued);
        }
        for origin in &sources.origins {
            let source = FetchSource::Origin { url: origin.clone() };
            let outcome = download(self.clone(), hash, sources.size, origin.clone(), None)
                .await
                .map(|_| ());
            let delivered = outcome.is_ok();
            attempts.push(self.settle(hash, source.clone(), outcome)?);
            if delivered {
                return self.fetched(sources, source, attempts, false);
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
        receipt_queued: bool,
    ) -> Result<FetchReport, Error> {
        tracing::info!(hash = %sources.content, %source, tried = attempts.len(), receipt_queued, "content fetched");
        crate::node::announce::reannounce_running_node(self.shared())?;
        Ok(FetchReport {
            hash: sources.content,
            size: sources.size,
            source,
            attempts,
            receipt_queued,
        })
    }

    /// Asks the control plane for the item's sources.
    async fn sources(&self, hash: &ContentHash) -> Result<ContentSources, Error> {
        let path = paths::device_sources(self.shared().identity().device_id().as_str(), hash);
        let location = self.shared().presence().location();
        let headers = location
            .map(|l| (edgepoints_protocol::LOCATION_HEADER, l.to_header()))
            .into_iter()
            .collect();
        crate::transport::signed_get(self.shared(), path, headers).await
    }

    /// Tries the nodes, hedged; returns the one that delivered, if any,
    /// with its delivery statement.
    async fn try_nodes(
        &self,
        sources: &ContentSources,
        attempts: &mut Vec<FetchAttempt>,
    ) -> Result<Option<(NodeSource, Option<Delivery>)>, Error> {
        let hedge_delay = self.shared().config().hedge_delay;
        let mut waiting = sources.nodes.iter().cloned();
        let mut running: JoinSet<(NodeSource, Result<Option<Delivery>, Error>)> = JoinSet::new();
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
                    let (outcome, delivery) = match outcome {
                        Ok(delivery) => (Ok(()), delivery),
                        Err(error) => (Err(error), None),
                    };
                    let delivered = outcome.is_ok();
                    attempts.push(self.settle(sources.content, source.clone(), outcome)?);
                    if delivered {
                        running.abort_all();
                        for other in started.iter().filter(|n| n.node_id != node.node_id) {
                            if !attempts.iter().any(|a| a.source == node_source(other)) {
                                attempts.push(FetchAttempt { source: node_source(other), outcome: AttemptOutcome::Abandoned });
                            }
                        }
                        return Ok(Some((node, delivery)));
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

/// A node's delivery statement as it came with the bytes, and the nonce
/// this consumer asked for it with.
struct Delivery {
    nonce: String,
    statement: Option<String>,
}

/// Downloads `location` into the cache, verified against `hash` and `size`.
/// A node (one asked with a ticket) is asked for a delivery statement too;
/// it is returned only once the bytes verified.
async fn download(
    sdk: EdgePoints,
    hash: ContentHash,
    size: u64,
    location: String,
    ticket: Option<String>,
) -> Result<Option<Delivery>, Error> {
    let shared = sdk.shared();
    let idle = shared.config().source_idle_timeout;
    let nonce = match ticket {
        Some(_) => Some(crate::identity::new_nonce()?),
        None => None,
    };
    let mut headers: Vec<(&'static str, &str)> = Vec::with_capacity(2);
    if let (Some(ticket), Some(nonce)) = (ticket.as_deref(), nonce.as_deref()) {
        headers.push((TICKET_HEADER, ticket));
        headers.push((RECEIPT_NONCE_HEADER, nonce));
    }
    let response = shared
        .transport()
        .fetch(&location, &headers, idle)
        .await
        .map_err(|failure| Error::ContentUnavailable {
            hash: hash.to_hex(),
            reason: failure.to_string(),
        })?;
    let statement = response
        .headers()
        .get(DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    sdk.content()
        .ingest_from(hash, size, IdleTimeout { source: response, idle })
        .await?;
    Ok(nonce.map(|nonce| Delivery { nonce, statement }))
}

/// Why a verified delivery got no receipt.
enum ReceiptNotMade {
    /// The node sent no statement, or one that does not say what it served.
    Statement(String),
    Store(StoreError),
}

/// Signs a receipt for a verified delivery from `node` and queues it.
fn queue_receipt(
    shared: &Shared,
    sources: &ContentSources,
    node: &NodeSource,
    delivery: Option<Delivery>,
) -> Result<(), ReceiptNotMade> {
    let bad = |why: &str| ReceiptNotMade::Statement(why.to_owned());
    let delivery = delivery.ok_or_else(|| bad("no nonce was sent"))?;
    let token = delivery.statement.ok_or_else(|| bad("the node sent none"))?;
    let envelope = SignedEnvelope::from_compact(Purpose::DeliveryStatement, &token)
        .map_err(|e| ReceiptNotMade::Statement(e.to_string()))?;
    // Checked where the node's key is known; the control plane checks it
    // in any case, this only keeps a receipt it would refuse off the wire.
    let statement: DeliveryStatement = match &node.public_key {
        Some(key) => edgepoints_protocol::envelope::decode_public_key(key)
            .and_then(|key| envelope.open(Purpose::DeliveryStatement, &key)),
        None => envelope.peek(),
    }
    .map_err(|e| ReceiptNotMade::Statement(e.to_string()))?;
    let me = shared.identity().device_id();
    if statement.node_id != node.node_id
        || &statement.consumer_id != me
        || statement.content != sources.content
        || statement.nonce != delivery.nonce
        || statement.offset != 0
        || statement.length != sources.size
    {
        return Err(bad("it does not describe this delivery"));
    }
    let receipt = Receipt {
        consumer_id: me.clone(),
        node_id: node.node_id.clone(),
        content: sources.content,
        bytes: sources.size,
        received_at_ms: unix_millis(),
        ticket: node.ticket.clone(),
        delivery: token,
    };
    let envelope = shared.identity().sign(Purpose::Receipt, &receipt);
    outbox::queue_signed_post(
        shared,
        EntryKind::Receipt,
        paths::device_receipts(me.as_str()),
        &envelope,
        serde_json::json!({
            "content": sources.content.to_hex(),
            "node": node.node_id.to_string(),
        }),
    )
    .map_err(ReceiptNotMade::Store)?;
    Ok(())
}

/// Writes a signed hash-failure report into the outbox.
fn queue_hash_failure(
    shared: &Shared,
    hash: ContentHash,
    source: FailedSource,
    reason: &str,
) -> Result<(), StoreError> {
    let report = HashFailureReport {
        reporter: shared.identity().device_id().clone(),
        content: hash,
        source,
        reason: reason.chars().take(500).collect(),
        observed_at_ms: unix_millis(),
    };
    let envelope = shared.identity().sign(Purpose::HashFailureReport, &report);
    outbox::queue_signed_post(
        shared,
        EntryKind::HashFailureReport,
        paths::device_hash_failures(shared.identity().device_id().as_str()),
        &envelope,
        serde_json::json!({ "content": hash.to_hex() }),
    )?;
    Ok(())
}
