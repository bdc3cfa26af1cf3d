//! Routing lookup time as the fleet grows: "the 8 nearest reachable nodes
//! that hold H, load-ordered" over 1 000, 100 000 and 1 000 000 nodes.
//!
//! ```sh
//! cargo bench -p edgepoints-mock-server --bench routing
//! EDGEPOINTS_ROUTING_SIZES=1000,10000 cargo bench -p edgepoints-mock-server --bench routing
//! ```
//!
//! Every node holds the item asked for (the worst case: the item's tree is
//! as big as the fleet) and two others; a tenth are unreachable; loads are
//! random. Positions are spread over Europe; queries come from random
//! points in the same area. Each query is timed alone, so the percentiles
//! are of single lookups. `update` is the mean time to apply one node's
//! new announcement in place (it moved; its three items re-placed), which
//! is what a control-plane instance does per change it reads from the log.

use std::time::{Duration, Instant};

use edgepoints_mock_server::routing::{Position, RoutingIndex};
use edgepoints_protocol::{ContentHash, DeviceId};

const QUERIES: usize = 20_000;

fn position(rng: &mut fastrand::Rng) -> Position {
    Position {
        latitude: 36.0 + rng.f64() * 24.0,
        longitude: -9.0 + rng.f64() * 39.0,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let sizes: Vec<usize> = std::env::var("EDGEPOINTS_ROUTING_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000]);
    let wanted = ContentHash::of(b"the item asked for");
    let others: Vec<ContentHash> = (0..32u32).map(|n| ContentHash::of(&n.to_le_bytes())).collect();
    println!(
        "{:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "nodes", "p50", "p99", "max", "mean", "build", "update"
    );
    for &size in &sizes {
        let mut rng = fastrand::Rng::with_seed(7);
        let nodes: Vec<_> = (0..size)
            .map(|n| {
                let device = DeviceId::parse(&format!("dev_{n:032x}")).expect("valid id");
                let holdings = vec![
                    wanted,
                    others[rng.usize(..others.len())],
                    others[rng.usize(..others.len())],
                ];
                (device, position(&mut rng), rng.u8(..10) != 0, rng.u32(..100), holdings)
            })
            .collect();
        let started = Instant::now();
        let mut index = RoutingIndex::bulk(nodes);
        let build = started.elapsed();
        let mut timings = Vec::with_capacity(QUERIES);
        let mut answered = 0usize;
        // Warm-up, then the measured queries.
        for _ in 0..1_000 {
            std::hint::black_box(index.nearest(&wanted, position(&mut rng), 8, None));
        }
        for _ in 0..QUERIES {
            let at = position(&mut rng);
            let started = Instant::now();
            let found = std::hint::black_box(index.nearest(&wanted, at, 8, None));
            timings.push(started.elapsed());
            answered += found.len();
        }
        assert_eq!(
            answered,
            QUERIES * 8.min(size * 9 / 10),
            "every query found its 8 nodes"
        );
        timings.sort();
        let mean = timings.iter().sum::<Duration>() / QUERIES as u32;
        let updates = 2_000.min(size);
        let started = Instant::now();
        for n in 0..updates {
            let device = DeviceId::parse(&format!("dev_{n:032x}")).expect("valid id");
            let holdings = vec![
                wanted,
                others[rng.usize(..others.len())],
                others[rng.usize(..others.len())],
            ];
            index.upsert(&device, position(&mut rng), true, rng.u32(..100), holdings);
        }
        let update = started.elapsed() / updates as u32;
        println!(
            "{:>10} {:>9.2?} {:>9.2?} {:>9.2?} {:>9.2?} {:>10.2?} {:>9.2?}",
            size,
            percentile(&timings, 0.5),
            percentile(&timings, 0.99),
            timings[QUERIES - 1],
            mean,
            build,
            update
        );
    }
}
