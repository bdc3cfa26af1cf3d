//! The CDN manager's routing index: "the nodes near X that hold item H",
//! nearest first, the more lightly loaded first among equally near ones.
//!
//! One R*-tree per item over the positions of the nodes that hold it, so a
//! query walks only holders of H, in order of distance, and stops after the
//! answer: its cost grows with log n, not n. Positions are points on the
//! unit sphere (from latitude and longitude), where the straight-line
//! distance orders exactly as the great-circle distance does.
//!
//! Unreachable nodes stay in the trees (a node's reachability changes far
//! more often than what it holds) and are skipped by the walk.

use std::collections::HashMap;

use edgepoints_protocol::{ContentHash, DeviceId};
use rstar::primitives::GeomWithData;
use rstar::RTree;

const EARTH_RADIUS_KM: f64 = 6371.0;

/// A coarse position, as a phone may share it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
}

impl Position {
    /// Single precision is enough: 1e-7 of the Earth's radius is under a
    /// metre, and half the bytes keep more of the tree in cache.
    fn on_sphere(self) -> [f32; 3] {
        let (lat, lon) = (self.latitude.to_radians(), self.longitude.to_radians());
        [
            (lat.cos() * lon.cos()) as f32,
            (lat.cos() * lon.sin()) as f32,
            lat.sin() as f32,
        ]
    }
}

/// Chord length on the unit sphere to great-circle kilometres.
fn chord_to_km(chord_squared: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (chord_squared.sqrt() / 2.0).min(1.0).asin()
}

type Entry = GeomWithData<[f32; 3], u32>;

struct NodeEntry {
    device: DeviceId,
    point: [f32; 3],
    holdings: Vec<ContentHash>,
}

/// What a lookup reads of every node it passes: kept apart from the rest,
/// eight bytes a node, so a walk over many nodes stays in cache.
#[derive(Clone, Copy, Default)]
struct Standing {
    reachable: bool,
    /// Requests per second at the last heartbeat.
    load: u32,
}

/// A node offered for an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub device: DeviceId,
    pub distance_km: f64,
    pub load: u32,
}

/// See the module documentation.
pub struct RoutingIndex {
    by_item: HashMap<ContentHash, RTree<Entry>>,
    /// By slot; a removed node's slot is reused.
    nodes: Vec<Option<NodeEntry>>,
    standing: Vec<Standing>,
    slots: HashMap<DeviceId, u32>,
    free: Vec<u32>,
    /// Nodes within this distance of each other count as equally near.
    pub equal_within_km: f64,
}

impl Default for RoutingIndex {
    fn default() -> Self {
        RoutingIndex {
            by_item: HashMap::new(),
            nodes: Vec::new(),
            standing: Vec::new(),
            slots: HashMap::new(),
            free: Vec::new(),
            equal_within_km: 5.0,
        }
    }
}

impl RoutingIndex {
    /// Builds an index of many nodes at once (bulk-loaded trees, better
    /// packed than one insert at a time).
    pub fn bulk(nodes: impl IntoIterator<Item = (DeviceId, Position, bool, u32, Vec<ContentHash>)>) -> Self {
        let mut index = RoutingIndex::default();
        let mut per_item: HashMap<ContentHash, Vec<Entry>> = HashMap::new();
        for (device, position, reachable, load, holdings) in nodes {
            let slot = index.slot(&device);
            let point = position.on_sphere();
            for item in &holdings {
                per_item.entry(*item).or_default().push(GeomWithData::new(point, slot));
            }
            index.place(
                slot,
                NodeEntry {
                    device,
                    point,
                    holdings,
                },
                Standing { reachable, load },
            );
        }
        index.by_item = per_item
            .into_iter()
            .map(|(item, entries)| (item, RTree::bulk_load(entries)))
            .collect();
        index
    }

    fn slot(&mut self, device: &DeviceId) -> u32 {
        if let Some(slot) = self.slots.get(device) {
            return *slot;
        }
        let slot = self.free.pop().unwrap_or(self.nodes.len() as u32);
        self.slots.insert(device.clone(), slot);
        slot
    }

    fn place(&mut self, slot: u32, entry: NodeEntry, standing: Standing) {
        let at = slot as usize;
        if at >= self.nodes.len() {
            self.nodes.resize_with(at + 1, || None);
            self.standing.resize(at + 1, Standing::default());
        }
        self.nodes[at] = Some(entry);
        self.standing[at] = standing;
    }

    fn standing_mut(&mut self, device: &DeviceId) -> Option<&mut Standing> {
        let slot = *self.slots.get(device)? as usize;
        self.standing.get_mut(slot)
    }

    /// Adds or replaces a node: where it is, whether it can be reached,
    /// its load and what it holds.
    pub fn upsert(
        &mut self,
        device: &DeviceId,
        position: Position,
        reachable: bool,
        load: u32,
        holdings: Vec<ContentHash>,
    ) {
        self.remove(device);
        let slot = self.slot(device);
        let point = position.on_sphere();
        for item in &holdings {
            self.by_item
                .entry(*item)
                .or_default()
                .insert(GeomWithData::new(point, slot));
        }
        let entry = NodeEntry {
            device: device.clone(),
            point,
            holdings,
        };
        self.place(slot, entry, Standing { reachable, load });
    }

    pub fn remove(&mut self, device: &DeviceId) {
        let Some(slot) = self.slots.remove(device) else { return };
        self.free.push(slot);
        self.standing[slot as usize] = Standing::default();
        if let Some(entry) = self.nodes[slot as usize].take() {
            for item in &entry.holdings {
                if let Some(tree) = self.by_item.get_mut(item) {
                    tree.remove(&GeomWithData::new(entry.point, slot));
                    if tree.size() == 0 {
                        self.by_item.remove(item);
                    }
                }
            }
        }
    }

    pub fn set_reachable(&mut self, device: &DeviceId, reachable: bool) {
        if let Some(standing) = self.standing_mut(device) {
            standing.reachable = reachable;
        }
    }

    pub fn set_load(&mut self, device: &DeviceId, load: u32) {
        if let Some(standing) = self.standing_mut(device) {
            standing.load = load;
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Up to `count` reachable nodes holding `item`, nearest to `at` first;
    /// among nodes equally near (within `equal_within_km` of each other),
    /// the lightly loaded first. `exclude` (the asking device) is skipped.
    pub fn nearest(
        &self,
        item: &ContentHash,
        at: Position,
        count: usize,
        exclude: Option<&DeviceId>,
    ) -> Vec<Candidate> {
        let Some(tree) = self.by_item.get(item) else {
            return Vec::new();
        };
        let query = at.on_sphere();
        let exclude = exclude.and_then(|device| self.slots.get(device)).copied();
        // (slot, distance, load): ids are looked up for the answer only.
        let mut found: Vec<(u32, f64, u32)> = Vec::with_capacity((count * 2).max(16));
        for (entry, chord_squared) in tree.nearest_neighbor_iter_with_distance_2(query) {
            let distance_km = chord_to_km(f64::from(chord_squared));
            // Enough, and the rest are farther than the last band: done.
            if found.len() >= count && distance_km > found[count - 1].1 + self.equal_within_km {
                break;
            }
            let standing = self.standing[entry.data as usize];
            if !standing.reachable || exclude == Some(entry.data) {
                continue;
            }
            found.push((entry.data, distance_km, standing.load));
            // Bound the work for a crowd of equally near nodes.
            if found.len() >= (count * 2).max(16) {
                break;
            }
        }
        // Distance bands, then load, then distance: equally near nodes share
        // the traffic by load.
        let band = self.equal_within_km.max(f64::MIN_POSITIVE);
        found.sort_by(|a, b| {
            ((a.1 / band) as u64)
                .cmp(&((b.1 / band) as u64))
                .then(a.2.cmp(&b.2))
                .then(a.1.total_cmp(&b.1))
        });
        found
            .into_iter()
            .take(count)
            .filter_map(|(slot, distance_km, load)| {
                Some(Candidate {
                    device: self.nodes[slot as usize].as_ref()?.device.clone(),
                    distance_km,
                    load,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u32) -> DeviceId {
        DeviceId::parse(&format!("dev_{n:032x}")).unwrap()
    }

    fn item(n: u8) -> ContentHash {
        ContentHash::of(&[n])
    }

    const PARIS: Position = Position {
        latitude: 48.8566,
        longitude: 2.3522,
    };

    fn near_paris(km_east: f64) -> Position {
        Position {
            latitude: PARIS.latitude,
            longitude: PARIS.longitude + km_east / (111.32 * PARIS.latitude.to_radians().cos()),
        }
    }

    #[test]
    fn the_nearest_reachable_holder_comes_first() {
        let mut index = RoutingIndex::default();
        index.upsert(&device(1), near_paris(1.0), true, 0, vec![item(1)]);
        index.upsert(&device(2), near_paris(50.0), true, 0, vec![item(1)]);
        index.upsert(&device(3), near_paris(0.2), false, 0, vec![item(1)]);
        index.upsert(&device(4), near_paris(0.1), true, 0, vec![item(2)]);
        let found = index.nearest(&item(1), PARIS, 8, None);
        let order: Vec<_> = found.iter().map(|c| c.device.clone()).collect();
        assert_eq!(
            order,
            vec![device(1), device(2)],
            "unreachable and non-holders are left out"
        );
        assert!((found[0].distance_km - 1.0).abs() < 0.05, "{found:?}");
        assert!((found[1].distance_km - 50.0).abs() < 0.5, "{found:?}");
        assert!(index.nearest(&item(3), PARIS, 8, None).is_empty());
        assert_eq!(index.nearest(&item(1), PARIS, 8, Some(&device(1))).len(), 1);
    }

    #[test]
    fn equally_near_nodes_are_ordered_by_load() {
        let mut index = RoutingIndex::default();
        index.upsert(&device(1), near_paris(0.5), true, 90, vec![item(1)]);
        index.upsert(&device(2), near_paris(1.5), true, 10, vec![item(1)]);
        index.upsert(&device(3), near_paris(3.0), true, 50, vec![item(1)]);
        index.upsert(&device(4), near_paris(30.0), true, 0, vec![item(1)]);
        let order: Vec<_> = index
            .nearest(&item(1), PARIS, 3, None)
            .into_iter()
            .map(|c| c.device)
            .collect();
        assert_eq!(
            order,
            vec![device(2), device(3), device(1)],
            "the idle node 30 km away is not nearer"
        );
        // The load moves: so does the order.
        index.set_load(&device(2), 95);
        let first = index.nearest(&item(1), PARIS, 1, None);
        assert_eq!(first[0].device, device(3));
    }

    #[test]
    fn removal_and_reachability_take_effect() {
        let mut index = RoutingIndex::default();
        index.upsert(&device(1), near_paris(1.0), true, 0, vec![item(1), item(2)]);
        index.set_reachable(&device(1), false);
        assert!(index.nearest(&item(1), PARIS, 8, None).is_empty());
        index.set_reachable(&device(1), true);
        assert_eq!(index.nearest(&item(2), PARIS, 8, None).len(), 1);
        // A new announcement replaces the holdings.
        index.upsert(&device(1), near_paris(1.0), true, 0, vec![item(2)]);
        assert!(index.nearest(&item(1), PARIS, 8, None).is_empty());
        index.remove(&device(1));
        assert!(index.is_empty());
        assert!(index.nearest(&item(2), PARIS, 8, None).is_empty());
    }

    #[test]
    fn bulk_loading_answers_like_inserting() {
        let nodes: Vec<_> = (0..200u32)
            .map(|n| {
                (
                    device(n),
                    near_paris(n as f64 * 0.7),
                    n % 3 != 0,
                    n % 7,
                    vec![item((n % 2) as u8)],
                )
            })
            .collect();
        let bulk = RoutingIndex::bulk(nodes.clone());
        let mut inserted = RoutingIndex::default();
        for (device, position, reachable, load, holdings) in nodes {
            inserted.upsert(&device, position, reachable, load, holdings);
        }
        for at in [PARIS, near_paris(40.0), near_paris(120.0)] {
            assert_eq!(
                bulk.nearest(&item(1), at, 8, None),
                inserted.nearest(&item(1), at, 8, None)
            );
        }
    }
}
