//! Consistent hashing of control-plane endpoints.
//!
//! Each endpoint stands at many points of a 64-bit ring (virtual nodes, so
//! the load spreads evenly). A key — the member id, or before login the
//! device id — starts at its own hash and walks clockwise: the endpoints in
//! the order met are its preference list. Adding or losing an endpoint moves
//! only the keys that hashed next to it.

use url::Url;

/// Points per endpoint on the ring.
const VIRTUAL_NODES: usize = 64;

pub(crate) struct EndpointRing {
    /// (position, endpoint index), sorted by position.
    points: Vec<(u64, usize)>,
    endpoints: usize,
}

fn position(bytes: &[u8]) -> u64 {
    let hash = blake3::hash(bytes);
    u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
}

impl EndpointRing {
    pub(crate) fn new(endpoints: &[Url]) -> Self {
        let mut points = Vec::with_capacity(endpoints.len() * VIRTUAL_NODES);
        for (index, endpoint) in endpoints.iter().enumerate() {
            for node in 0..VIRTUAL_NODES {
                points.push((position(format!("{endpoint}#{node}").as_bytes()), index));
            }
        }
        points.sort_unstable();
        EndpointRing {
            points,
            endpoints: endpoints.len(),
        }
    }

    /// Every endpoint once, in `key`'s order of preference.
    pub(crate) fn preference(&self, key: &str) -> Vec<usize> {
        let start = self.points.partition_point(|(p, _)| *p < position(key.as_bytes()));
        let mut order = Vec::with_capacity(self.endpoints);
        for (_, index) in self.points[start..].iter().chain(&self.points[..start]) {
            if !order.contains(index) {
                order.push(*index);
                if order.len() == self.endpoints {
                    break;
                }
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(n: usize) -> Vec<Url> {
        (0..n)
            .map(|i| format!("http://10.0.0.{i}:80").parse().unwrap())
            .collect()
    }

    #[test]
    fn preference_lists_every_endpoint_once_and_is_stable() {
        let ring = EndpointRing::new(&endpoints(3));
        let order = ring.preference("member-1");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2]);
        assert_eq!(ring.preference("member-1"), order);
    }

    #[test]
    fn keys_spread_over_endpoints() {
        let ring = EndpointRing::new(&endpoints(3));
        let mut first = [0usize; 3];
        for i in 0..3000 {
            first[ring.preference(&format!("device-{i}"))[0]] += 1;
        }
        for count in first {
            assert!((700..1300).contains(&count), "uneven spread: {first:?}");
        }
    }

    #[test]
    fn losing_an_endpoint_moves_only_its_keys() {
        let three = endpoints(3);
        let ring3 = EndpointRing::new(&three);
        let ring2 = EndpointRing::new(&three[..2]);
        for i in 0..1000 {
            let key = format!("k{i}");
            let before = ring3.preference(&key)[0];
            if before != 2 {
                assert_eq!(ring2.preference(&key)[0], before, "{key} moved without need");
            }
        }
    }
}
