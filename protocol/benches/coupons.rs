//! Offline `validate` of one presentation beside one bare Ed25519
//! verification, in the same criterion run: the goal is at most 3× one
//! verification, for two signatures and the list lookups.
//!
//! ```sh
//! cargo bench -p edgepoints-protocol --bench coupons
//! ```

use std::collections::HashSet;

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use edgepoints_protocol::coupons::{
    revocation_tag, step_of, validate, CouponClaims, CouponToken, IssuerKey, KeyId, Presentation, Till, TrustList,
    TrustedKeys,
};
use qrcode::{EcLevel, QrCode, Version};

const NOW: u64 = 1_796_000_000;

fn bench(c: &mut Criterion) {
    let issuer = SigningKey::from_bytes(&[1; 32]);
    let holder = SigningKey::from_bytes(&[2; 32]);
    let claims = CouponClaims {
        key_id: KeyId::of(&issuer.verifying_key()),
        activity: [3; 16],
        merchant: [7; 16],
        serial: [9; 16],
        holder: holder.verifying_key().to_bytes(),
        not_before_s: (NOW - 3600) as u32,
        expires_s: (NOW + 86_400) as u32,
    };
    let token = CouponToken::sign(claims, &issuer);
    let text = Presentation::sign(token, step_of(NOW), &holder).encode();
    let trusted = TrustedKeys::from_list(&TrustList {
        version: 1,
        issued_at_ms: 0,
        keys: vec![IssuerKey::new(&issuer.verifying_key(), 0)],
    });
    // Lists as a busy till holds them: 100 000 revoked and 100 000
    // redeemed serials, none of them the one presented.
    let serial_of = |n: u32| {
        let mut serial = [0u8; 16];
        serial[..4].copy_from_slice(&n.to_le_bytes());
        serial
    };
    let revoked: HashSet<[u8; 8]> = (0..100_000u32).map(|n| revocation_tag(&serial_of(n))).collect();
    let redeemed: HashSet<[u8; 16]> = (100_000..200_000u32).map(serial_of).collect();
    let is_revoked = |serial: &[u8; 16]| revoked.contains(&revocation_tag(serial));
    let is_redeemed = |serial: &[u8; 16]| redeemed.contains(serial);
    let till = Till {
        trusted: &trusted,
        merchant: [7; 16],
        now_s: NOW,
        revoked: &is_revoked,
        redeemed: &is_redeemed,
    };
    assert!(validate(&text, &till).is_ok());
    for (what, bytes, encoded) in [
        ("token", token.to_bytes().len(), token.encode()),
        (
            "presentation",
            Presentation::decode(&text).expect("decodes").to_bytes().len(),
            text.clone(),
        ),
    ] {
        let code = QrCode::with_error_correction_level(encoded.as_bytes(), EcLevel::Q).expect("fits");
        let version = match code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        };
        println!(
            "{what}: {bytes} bytes, {} characters, QR version {version} at Q ({} modules a side)",
            encoded.len(),
            code.width()
        );
    }
    let message = b"one message of about a coupon's size, signed once".repeat(2);
    let signature = issuer.sign(&message);
    let key = issuer.verifying_key();
    let mut group = c.benchmark_group("coupon");
    group.bench_function("bare ed25519 verify", |b| {
        b.iter(|| key.verify(&message, &signature).unwrap())
    });
    group.bench_function("validate presentation", |b| b.iter(|| validate(&text, &till).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
