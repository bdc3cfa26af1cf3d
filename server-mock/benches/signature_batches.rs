//! The control plane's check of device signatures: one `verify_strict` at a
//! time (the reference, the bare library call) beside the batch checker,
//! when checks come one at a time (each a batch of one: what the queue
//! costs) and when 64 come at once (batches of up to 32). All on one
//! thread, so the figures are CPU per signature.
//!
//! ```sh
//! cargo bench -p edgepoints-mock-server --bench signature_batches
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ed25519_dalek::SigningKey;
use edgepoints_mock_server::device_keys::DeviceKey;
use edgepoints_mock_server::signature_batches::SignatureBatches;
use edgepoints_protocol::envelope::SignatureCheck;
use edgepoints_protocol::{DeviceId, Heartbeat, Purpose, SignedEnvelope};

/// Distinct devices, each with one signed heartbeat, as a busy control
/// plane sees them.
fn envelopes(devices: u8) -> Vec<(SignatureCheck, DeviceKey)> {
    (0..devices)
        .map(|seed| {
            let key = SigningKey::from_bytes(&[seed; 32]);
            let device_id = DeviceId::from_public_key(&key.verifying_key());
            let heartbeat = Heartbeat {
                device_id: device_id.clone(),
                seq: 7,
                serving: true,
                requests_delta: 12,
                bytes_delta: 4096,
                sent_at_ms: 1_796_000_000_000,
            };
            let envelope = SignedEnvelope::sign(Purpose::Heartbeat, device_id.as_str(), &key, &heartbeat);
            let check = envelope.signature_check(Purpose::Heartbeat).expect("well formed");
            (check, DeviceKey::new(key.verifying_key()))
        })
        .collect()
}

/// Checks `iters` signatures through `batches`, `callers` at a time.
fn through_batches(
    runtime: &tokio::runtime::Runtime,
    batches: &Arc<SignatureBatches>,
    pool: &[(SignatureCheck, DeviceKey)],
    callers: usize,
    iters: u64,
) -> Duration {
    runtime.block_on(async {
        let started = Instant::now();
        let mut left = iters as usize;
        let mut next = 0;
        while left > 0 {
            let wave = left.min(callers);
            let mut checks = tokio::task::JoinSet::new();
            for _ in 0..wave {
                let (check, key) = pool[next % pool.len()].clone();
                next += 1;
                let batches = batches.clone();
                checks.spawn(async move { batches.verify(check, key).await.is_ok() });
            }
            while let Some(valid) = checks.join_next().await {
                assert!(valid.expect("the check ran"), "a valid signature was refused");
            }
            left -= wave;
        }
        started.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let pool = envelopes(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let batches = Arc::new(SignatureBatches::with_checkers(1));
    let mut group = c.benchmark_group("device signature check");
    let mut next = 0;
    group.bench_function("verify_strict, one by one", |b| {
        b.iter(|| {
            let (check, key) = &pool[next % pool.len()];
            next += 1;
            check.verify_strict(&key.key).expect("valid")
        })
    });
    for callers in [1, 64] {
        group.bench_with_input(BenchmarkId::new("batch checker", callers), &callers, |b, &callers| {
            b.iter_custom(|iters| through_batches(&runtime, &batches, &pool, callers, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
