//! What the samples add up to: origin offload (overall, at steady state and
//! over time), latency by source, hedges and fallbacks.

use std::time::Duration;

use serde::Serialize;

use super::traffic::{Came, Sample};

/// Offload over one slice of the run.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Window {
    /// End of the slice, seconds into the traffic.
    pub(super) until_s: f64,
    /// Share of network bytes that came from nodes; none without any.
    pub(super) offload: Option<f64>,
    pub(super) fetches: usize,
}

/// Latency percentiles of one kind of source, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(super) struct Latency {
    pub(super) count: usize,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
}

impl Latency {
    fn of(mut latencies: Vec<Duration>) -> Latency {
        if latencies.is_empty() {
            return Latency::default();
        }
        latencies.sort_unstable();
        // Nearest rank.
        let at = |q: f64| latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1];
        Latency {
            count: latencies.len(),
            p50_ms: at(0.50).as_secs_f64() * 1e3,
            p99_ms: at(0.99).as_secs_f64() * 1e3,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Figures {
    pub(super) fetches: usize,
    pub(super) local: usize,
    pub(super) from_nodes: usize,
    pub(super) from_origin: usize,
    pub(super) failed: usize,
    pub(super) node_bytes: u64,
    pub(super) origin_bytes: u64,
    /// Node bytes over all network bytes, the whole run.
    pub(super) offload: f64,
    /// The same over the last quarter of the run.
    pub(super) steady_offload: f64,
    pub(super) windows: Vec<Window>,
    pub(super) node_latency: Latency,
    pub(super) origin_latency: Latency,
    pub(super) hedges: usize,
    pub(super) fallbacks: usize,
    /// Why nodes tried did not deliver, most frequent first.
    pub(super) node_failures: Vec<(String, usize)>,
    pub(super) seconds: f64,
}

fn share(node: u64, origin: u64) -> Option<f64> {
    (node + origin > 0).then(|| node as f64 / (node + origin) as f64)
}

/// Node and origin bytes among `samples`.
fn network_bytes<'a>(samples: impl Iterator<Item = &'a Sample>) -> (u64, u64) {
    samples.fold((0, 0), |(node, origin), s| match s.came {
        Came::Node { .. } => (node + s.bytes, origin),
        Came::Origin => (node, origin + s.bytes),
        _ => (node, origin),
    })
}

impl Figures {
    pub(super) fn of(samples: &[Sample], duration: Duration, windows: usize) -> Figures {
        let count = |f: fn(&Came) -> bool| samples.iter().filter(|s| f(&s.came)).count();
        let (node_bytes, origin_bytes) = network_bytes(samples.iter());
        let seconds = duration.as_secs_f64().max(1e-3);
        let steady_from = Duration::from_secs_f64(seconds * 0.75);
        let (steady_node, steady_origin) = network_bytes(samples.iter().filter(|s| s.at >= steady_from));
        let slice = seconds / windows as f64;
        let windows = (0..windows)
            .map(|w| {
                let (from, until) = (slice * w as f64, slice * (w + 1) as f64);
                let inside: Vec<&Sample> = samples
                    .iter()
                    .filter(|s| (from..until).contains(&s.at.as_secs_f64()))
                    .collect();
                let (node, origin) = network_bytes(inside.iter().copied());
                Window {
                    until_s: until,
                    offload: share(node, origin),
                    fetches: inside.len(),
                }
            })
            .collect();
        let latencies =
            |f: fn(&Came) -> bool| Latency::of(samples.iter().filter(|s| f(&s.came)).map(|s| s.latency).collect());
        let mut failures: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for reason in samples.iter().flat_map(|s| &s.node_failures) {
            // Hashes, addresses and ids differ per node; the reason is what counts.
            let reason = reason.rsplit("could not be fetched: ").next().unwrap_or(reason);
            let kind: String = reason.chars().take(100).collect();
            *failures.entry(kind).or_default() += 1;
        }
        let mut node_failures: Vec<(String, usize)> = failures.into_iter().collect();
        node_failures.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
        Figures {
            node_failures,
            fetches: samples.len(),
            local: count(|c| matches!(c, Came::Local)),
            from_nodes: count(|c| matches!(c, Came::Node { .. })),
            from_origin: count(|c| matches!(c, Came::Origin)),
            failed: count(|c| matches!(c, Came::Failed { .. })),
            node_bytes,
            origin_bytes,
            offload: share(node_bytes, origin_bytes).unwrap_or(0.0),
            steady_offload: share(steady_node, steady_origin).unwrap_or(0.0),
            windows,
            node_latency: latencies(|c| matches!(c, Came::Node { .. })),
            origin_latency: latencies(|c| matches!(c, Came::Origin)),
            hedges: samples.iter().filter(|s| s.hedged).count(),
            fallbacks: samples.iter().filter(|s| s.fell_back).count(),
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: f64, came: Came, bytes: u64, latency_ms: u64) -> Sample {
        Sample {
            phone: 0,
            rank: 0,
            node_failures: Vec::new(),
            at: Duration::from_secs_f64(at_s),
            came,
            bytes,
            latency: Duration::from_millis(latency_ms),
            hedged: false,
            fell_back: false,
            receipt: false,
        }
    }

    #[test]
    fn offload_counts_network_bytes_only_and_steady_state_is_the_last_quarter() {
        let node = || Came::Node { node_id: "n".into() };
        let samples = vec![
            sample(0.5, Came::Origin, 300, 10),
            sample(1.0, Came::Local, 1_000_000, 1),
            sample(3.5, node(), 100, 5),
            sample(3.9, Came::Origin, 100, 20),
        ];
        let figures = Figures::of(&samples, Duration::from_secs(4), 4);
        assert_eq!((figures.node_bytes, figures.origin_bytes), (100, 400));
        assert!((figures.offload - 0.2).abs() < 1e-9);
        assert!((figures.steady_offload - 0.5).abs() < 1e-9);
        assert_eq!(figures.windows[0].offload, Some(0.0));
        assert_eq!(figures.windows[1].offload, None);
        assert_eq!(figures.windows[3].offload, Some(0.5));
        assert_eq!(figures.local, 1);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let latency = Latency::of((1..=100).map(Duration::from_millis).collect());
        assert_eq!((latency.p50_ms, latency.p99_ms), (50.0, 99.0));
        assert_eq!(Latency::of(vec![]).count, 0);
    }
}
