//! Keeping each instance's routing index in step with the shared node
//! records, change by change.
//!
//! Every change to a node record (an announcement, a load from a
//! heartbeat) bumps the shared version and writes a change-log entry under
//! that version naming the node. An instance whose index is at version v
//! reads the entries after v, re-reads only the nodes they name, and
//! updates its index in place: a node joining a million costs one update,
//! not a rebuild. It rebuilds from all records only when it cannot follow
//! the log: on its first lookup, after a change to everything (the prefix
//! table), when an entry is missing (written after the version was taken,
//! or pruned), or when it is further behind than the log keeps.

use std::collections::BTreeSet;

use edgepoints_protocol::DeviceId;

use crate::geo::{self, GeoTable};
use crate::routing::{Position, RoutingIndex};
use crate::state::{keys, NodeRecord};
use crate::store::{get_json, scan_json, StoreError};
use crate::ControlPlane;

/// Change-log entries kept; an index further behind rebuilds.
const LOG_KEPT: i64 = 10_000;

/// A change-log entry naming every node (the prefix table changed).
const EVERYTHING: &str = "*";

/// Records that `node` changed (every node, for `None`).
pub async fn note_change(control_plane: &ControlPlane, node: Option<&DeviceId>) -> Result<(), StoreError> {
    let store = control_plane.store();
    let version = store.increment(keys::NODES_VERSION, 1).await?;
    let what = node.map_or(EVERYTHING, DeviceId::as_str);
    store
        .compare_and_swap(&keys::node_change(version), None, Some(what.as_bytes()))
        .await?;
    let old = keys::node_change(version - LOG_KEPT);
    if let Some(value) = store.get(&old).await? {
        store.compare_and_swap(&old, Some(&value), None).await?;
    }
    Ok(())
}

/// Where the index places a node: as its host says, else by its probed
/// addresses, else by the address its announcement came from.
fn position(node: &NodeRecord, table: &GeoTable) -> Option<Position> {
    let location = node
        .location
        .or_else(|| table.locate_any(node.reachable.iter().chain(node.seen_from.iter()).map(String::as_str)))?;
    Some(Position {
        latitude: location.latitude,
        longitude: location.longitude,
    })
}

/// The routing index, brought up to the shared version.
pub async fn routing_index(
    control_plane: &ControlPlane,
) -> Result<tokio::sync::MutexGuard<'_, (i64, RoutingIndex)>, StoreError> {
    let store = control_plane.store();
    let version = store.increment(keys::NODES_VERSION, 0).await?;
    let mut index = control_plane.routing.lock().await;
    let at = index.0;
    if at == version {
        return Ok(index);
    }
    let table = geo::table(control_plane).await?;
    let mut changed = BTreeSet::new();
    let mut follow = at > 0 && version > at && version - at <= LOG_KEPT;
    if follow {
        for v in at + 1..=version {
            match store.get(&keys::node_change(v)).await? {
                Some(node) if node != EVERYTHING.as_bytes() => {
                    changed.insert(String::from_utf8_lossy(&node).into_owned());
                }
                _ => {
                    follow = false;
                    break;
                }
            }
        }
    }
    if follow {
        for device in changed {
            let Ok(device) = DeviceId::parse(&device) else { continue };
            let record: Option<NodeRecord> = get_json(store, &keys::node(device.as_str())).await?;
            match record.as_ref().and_then(|node| Some((node, position(node, &table)?))) {
                Some((node, at)) => index.1.upsert(
                    &device,
                    at,
                    node.routable_url().is_some(),
                    node.load,
                    node.holdings.clone(),
                ),
                None => index.1.remove(&device),
            }
        }
        tracing::debug!(from = at, to = version, "routing index updated in place");
    } else {
        let nodes = scan_json::<NodeRecord>(store, keys::NODE_PREFIX).await?;
        let located = nodes.into_iter().filter_map(|node| {
            let at = position(&node, &table)?;
            let reachable = node.routable_url().is_some();
            Some((node.device_id, at, reachable, node.load, node.holdings))
        });
        index.1 = RoutingIndex::bulk(located);
        tracing::debug!(version, "routing index rebuilt");
    }
    index.0 = version;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use edgepoints_protocol::{ContentHash, Location};

    use super::*;
    use crate::store::update_json;

    fn device(n: u8) -> DeviceId {
        DeviceId::from_public_key(&ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key())
    }

    async fn put_node(control_plane: &ControlPlane, n: u8, latitude: f64, item: ContentHash) {
        let record = NodeRecord {
            device_id: device(n),
            revision: 1,
            url: Some("http://192.0.2.1:1".into()),
            holdings: vec![item],
            announced_at_ms: 0,
            recorded_at_ms: 0,
            location: Some(Location {
                latitude,
                longitude: 0.0,
            }),
            load: 0,
            addresses: vec!["192.0.2.1:1".into()],
            reachable: vec!["192.0.2.1:1".into()],
            seen_from: None,
            network: None,
        };
        update_json::<NodeRecord, (), ()>(control_plane.store(), &keys::node(device(n).as_str()), |_| {
            Ok((Some(record.clone()), ()))
        })
        .await
        .unwrap()
        .unwrap();
    }

    async fn nearest(control_plane: &ControlPlane, item: &ContentHash) -> Vec<DeviceId> {
        let at = Position {
            latitude: 0.0,
            longitude: 0.0,
        };
        let index = routing_index(control_plane).await.unwrap();
        index
            .1
            .nearest(item, at, 8, None)
            .into_iter()
            .map(|c| c.device)
            .collect()
    }

    #[tokio::test]
    async fn changes_are_applied_in_place_and_a_gap_in_the_log_rebuilds() {
        let control_plane = ControlPlane::in_memory(None).await;
        let item = ContentHash::of(b"item");
        for (n, latitude) in [(1, 1.0), (2, 2.0), (3, 3.0)] {
            put_node(&control_plane, n, latitude, item).await;
            note_change(&control_plane, Some(&device(n))).await.unwrap();
        }
        assert_eq!(nearest(&control_plane, &item).await, [device(1), device(2), device(3)]);

        // Node 3 moves next to the asker and says so; node 1's record goes
        // away without a change being logged. Following the log updates
        // node 3 only, so node 1 is still in the index: proof it was not
        // rebuilt from the records.
        put_node(&control_plane, 3, 0.5, item).await;
        note_change(&control_plane, Some(&device(3))).await.unwrap();
        control_plane
            .store()
            .compare_and_swap(
                &keys::node(device(1).as_str()),
                control_plane
                    .store()
                    .get(&keys::node(device(1).as_str()))
                    .await
                    .unwrap()
                    .as_deref(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(nearest(&control_plane, &item).await, [device(3), device(1), device(2)]);

        // A change to everything (the prefix table) rebuilds: node 1 is gone.
        note_change(&control_plane, None).await.unwrap();
        assert_eq!(nearest(&control_plane, &item).await, [device(3), device(2)]);

        // A missing entry (written late, or pruned) rebuilds too.
        put_node(&control_plane, 4, 0.1, item).await;
        let version = control_plane.store().increment(keys::NODES_VERSION, 1).await.unwrap();
        assert!(control_plane
            .store()
            .get(&keys::node_change(version))
            .await
            .unwrap()
            .is_none());
        assert_eq!(nearest(&control_plane, &item).await, [device(4), device(3), device(2)]);
    }
}
