//! Node announcements: where this device's node serves and what it holds,
//! sent through the outbox so a broken network delays them but never loses
//! or reorders them. Each carries a revision one higher than the last, and
//! the control plane keeps the highest.

use edgepoints_protocol::sources::MAX_ANNOUNCED_HOLDINGS;
use edgepoints_protocol::{paths, NodeAnnouncement, Purpose};
use reqwest::Method;
use rusqlite::OptionalExtension;

use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{registration, Error, StoreError};

/// Writes an announcement of `url` (none: the node stopped) and what the
/// cache holds now into the outbox; returns the entry's id.
pub(crate) fn queue(shared: &Shared, url: Option<String>) -> Result<i64, StoreError> {
    // Read before the transaction: the store is not re-entrant.
    let network = crate::host::load(shared.store())?.network;
    let addresses = match (&url, shared.presence().node()) {
        (Some(_), Some(node)) => addresses_to_report(shared, node.listen),
        _ => Vec::new(),
    };
    shared.store().with(|c| {
        let tx = c.transaction()?;
        registration::ensure_queued(shared, &tx)?;
        let revision: i64 = tx
            .query_row("SELECT announce_revision FROM node_state", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0)
            + 1;
        tx.execute(
            "INSERT INTO node_state (singleton, announce_revision) VALUES (1, ?1)
             ON CONFLICT (singleton) DO UPDATE SET announce_revision = ?1",
            [revision],
        )?;
        // Most recently used first: if the list must be cut, the hot items stay.
        let holdings = crate::content::most_recently_used(&tx, MAX_ANNOUNCED_HOLDINGS)?;
        let announcement = NodeAnnouncement {
            device_id: shared.identity().device_id().clone(),
            revision: revision as u64,
            url: url.clone(),
            holdings,
            announced_at_ms: unix_millis(),
            location: shared.presence().location(),
            addresses,
            network: Some(network.as_str().to_owned()),
        };
        shared.presence().reported(announcement.addresses.clone());
        let envelope = shared.identity().sign(Purpose::NodeAnnouncement, &announcement);
        let (id, _) = outbox::enqueue(
            &tx,
            NewEntry {
                kind: EntryKind::NodeAnnouncement,
                method: Method::PUT,
                path: paths::device_node(shared.identity().device_id().as_str()),
                body: serde_json::to_vec(&envelope).expect("envelope serialises"),
                context: serde_json::json!({ "revision": revision, "holdings": announcement.holdings.len() }),
                idempotency_key: None,
            },
        )?;
        tx.commit()?;
        tracing::debug!(
            revision,
            ?url,
            holdings = announcement.holdings.len(),
            "node announcement queued"
        );
        Ok(id)
    })
}

/// The addresses a node listening on `listen` would report now.
fn addresses_to_report(shared: &Shared, listen: std::net::SocketAddr) -> Vec<String> {
    super::addresses::reported(
        listen,
        shared.presence().host_addresses().as_deref(),
        shared.config().node_limits.report_local_addresses,
    )
}

/// Re-announces when the addresses the node would report differ from the
/// last report (an interface came or went without the host saying so).
pub(crate) fn reannounce_if_addresses_moved(shared: &Shared) -> Result<(), StoreError> {
    let Some(node) = shared.presence().node() else {
        return Ok(());
    };
    let now = addresses_to_report(shared, node.listen);
    if shared.presence().reported_addresses() != now {
        tracing::info!(addresses = ?now, "addresses changed");
        reannounce_running_node(shared)?;
    }
    Ok(())
}

/// What the control plane said of an announcement: which addresses it
/// reached (outbox worker).
pub(crate) fn apply_answer(shared: &Shared, body: &[u8]) -> Result<Vec<crate::events::Event>, crate::Error> {
    let answer: edgepoints_protocol::NodeAnnounced =
        serde_json::from_slice(body).map_err(|e| crate::Error::Protocol(format!("announcement answer: {e}")))?;
    if !answer.applied {
        return Ok(Vec::new());
    }
    shared
        .presence()
        .probed(answer.reachable.clone(), answer.seen_from.clone());
    Ok(vec![crate::events::Event::AddressesProbed {
        reachable: answer.reachable,
        seen_from: answer.seen_from,
    }])
}

/// Announces and waits for the control plane, as far as the retry policy
/// goes: an announcement that cannot be sent now stays in the outbox and
/// goes later, so only a local failure is an error.
pub(crate) async fn announce(shared: &Shared, url: Option<String>) -> Result<(), Error> {
    let id = queue(shared, url)?;
    shared.outbox_wake().notify_one();
    match outbox::wait(shared, id).await {
        Ok(_) => Ok(()),
        Err(error @ (Error::Unavailable { .. } | Error::Rejected { .. } | Error::Protocol(_))) => {
            tracing::warn!(%error, "node announcement pending");
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// Re-announces the running node, because what it would say changed (its
/// holdings, the location, the addresses, the network, serving again);
/// nothing if no node is running.
pub(crate) fn reannounce_running_node(shared: &Shared) -> Result<(), StoreError> {
    if let Some(node) = shared.presence().node() {
        queue(shared, Some(node.url))?;
        shared.outbox_wake().notify_one();
    }
    Ok(())
}
