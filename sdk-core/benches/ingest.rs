//! Verified ingest throughput: how fast content enters the cache with its
//! BLAKE3 hash checked on the way in (written, synced, indexed), against
//! hashing alone. A sync must be limited by the network, not by this.
//!
//! `cargo bench -p edgepoints-core --bench ingest`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use edgepoints_core::{Config, ContentHash, EdgePoints};

fn bench_ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sdk = runtime.block_on(async {
        // No network I/O happens here; the endpoint is never called.
        let mut config = Config::new(vec!["http://127.0.0.1:9".parse().unwrap()], dir.path());
        config.content_disk_budget_bytes = 1 << 30;
        EdgePoints::open(config, None).unwrap()
    });
    let mut group = c.benchmark_group("ingest");
    for size in [64 * 1024usize, 16 * 1024 * 1024] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let hash = ContentHash::of(&bytes);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("blake3 only, {} KiB", size / 1024), |b| {
            b.iter(|| ContentHash::of(std::hint::black_box(&bytes)))
        });
        group.bench_function(format!("verified ingest, {} KiB", size / 1024), |b| {
            b.iter_batched(
                || {
                    sdk.content().remove(&hash).unwrap();
                },
                |()| runtime.block_on(sdk.content().ingest_bytes(hash, &bytes)).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    runtime.block_on(sdk.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = bench_ingest
}
criterion_main!(benches);
