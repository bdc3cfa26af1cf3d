//! Coupons checked offline: every refusal with its reason, a retired key's
//! coupon still valid until it expires, parsers that only ever return typed
//! errors, and sizes that fit the QR versions a till scans fast.

use ed25519_dalek::SigningKey;
use edgepoints_protocol::coupons::{
    revocation_tag, step_of, validate, CouponClaims, CouponToken, Id128, IssuerKey, KeyId, Presentation, Refusal, Till,
    TrustList, TrustedKeys, CLOCK_TOLERANCE_S, STEP_S,
};
use proptest::prelude::*;
use qrcode::{EcLevel, QrCode, Version};

const NOW: u64 = 1_796_000_000;
const MERCHANT: Id128 = [7; 16];

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

struct Scene {
    issuer: SigningKey,
    holder: SigningKey,
    trusted: TrustedKeys,
}

fn scene() -> Scene {
    let issuer = key(1);
    let list = TrustList {
        version: 1,
        issued_at_ms: NOW * 1000,
        keys: vec![IssuerKey::new(&issuer.verifying_key(), NOW - 86_400)],
    };
    Scene {
        issuer,
        holder: key(2),
        trusted: TrustedKeys::from_list(&list),
    }
}

fn claims(issuer: &SigningKey, holder: &SigningKey) -> CouponClaims {
    CouponClaims {
        key_id: KeyId::of(&issuer.verifying_key()),
        activity: [3; 16],
        merchant: MERCHANT,
        serial: [9; 16],
        holder: holder.verifying_key().to_bytes(),
        not_before_s: (NOW - 3600) as u32,
        expires_s: (NOW + 7 * 86_400) as u32,
    }
}

fn present(token: CouponToken, holder: &SigningKey, at_s: u64) -> String {
    Presentation::sign(token, step_of(at_s), holder).encode()
}

fn check(scene: &Scene, text: &str, now_s: u64) -> Result<(), Refusal> {
    check_with(scene, text, now_s, &|_| false, &|_| false)
}

fn check_with(
    scene: &Scene,
    text: &str,
    now_s: u64,
    revoked: &dyn Fn(&Id128) -> bool,
    redeemed: &dyn Fn(&Id128) -> bool,
) -> Result<(), Refusal> {
    validate(
        text,
        &Till {
            trusted: &scene.trusted,
            merchant: MERCHANT,
            now_s,
            revoked,
            redeemed,
        },
    )
    .map(|_| ())
}

#[test]
fn a_fresh_presentation_by_the_holder_is_accepted() {
    let s = scene();
    let token = CouponToken::sign(claims(&s.issuer, &s.holder), &s.issuer);
    assert_eq!(CouponToken::decode(&token.encode()).unwrap(), token);
    assert_eq!(check(&s, &present(token, &s.holder, NOW), NOW), Ok(()));
    // One step either side is the clocks' tolerance.
    assert_eq!(check(&s, &present(token, &s.holder, NOW - STEP_S), NOW), Ok(()));
}

#[test]
fn each_bad_presentation_is_refused_with_its_reason() {
    let s = scene();
    let good = claims(&s.issuer, &s.holder);
    let sign = |c: CouponClaims| CouponToken::sign(c, &s.issuer);
    let token = sign(good);
    // Forged: another key's signature under the issuer's id.
    let other = CouponClaims {
        key_id: KeyId::of(&key(5).verifying_key()),
        ..good
    };
    let forged = CouponToken {
        signature: CouponToken::sign(other, &key(5)).signature,
        ..token
    };
    assert_eq!(
        check(&s, &present(forged, &s.holder, NOW), NOW),
        Err(Refusal::BadSignature)
    );
    let unknown = CouponToken::sign(
        CouponClaims {
            key_id: KeyId::of(&key(5).verifying_key()),
            ..good
        },
        &key(5),
    );
    assert_eq!(
        check(&s, &present(unknown, &s.holder, NOW), NOW),
        Err(Refusal::UnknownKey)
    );
    let expired = present(token, &s.holder, NOW + 8 * 86_400);
    assert_eq!(check(&s, &expired, NOW + 8 * 86_400), Err(Refusal::Expired));
    let later = sign(CouponClaims {
        not_before_s: (NOW + 3600) as u32,
        ..good
    });
    assert_eq!(
        check(&s, &present(later, &s.holder, NOW), NOW),
        Err(Refusal::NotYetValid)
    );
    let elsewhere = sign(CouponClaims {
        merchant: [8; 16],
        ..good
    });
    assert_eq!(
        check(&s, &present(elsewhere, &s.holder, NOW), NOW),
        Err(Refusal::WrongMerchant)
    );
    // A screenshot a minute later.
    let screenshot = present(token, &s.holder, NOW);
    assert_eq!(
        check(&s, &screenshot, NOW + 2 * STEP_S + 1),
        Err(Refusal::StalePresentation)
    );
    // Another phone presents the coupon.
    assert_eq!(check(&s, &present(token, &key(6), NOW), NOW), Err(Refusal::WrongHolder));
    let listed = token.claims.serial;
    let text = present(token, &s.holder, NOW);
    assert_eq!(
        check_with(&s, &text, NOW, &|serial| *serial == listed, &|_| false),
        Err(Refusal::Revoked)
    );
    assert_eq!(
        check_with(&s, &text, NOW, &|_| false, &|serial| *serial == listed),
        Err(Refusal::AlreadyRedeemed)
    );
    assert_eq!(check(&s, "hello", NOW), Err(Refusal::Malformed));
    assert_eq!(
        check(&s, &token.encode(), NOW),
        Err(Refusal::Malformed),
        "a bare token is no presentation"
    );
}

#[test]
fn every_altered_byte_is_refused() {
    let s = scene();
    let token = CouponToken::sign(claims(&s.issuer, &s.holder), &s.issuer);
    let bytes = Presentation::sign(token, step_of(NOW), &s.holder).to_bytes();
    for at in 0..bytes.len() {
        let mut altered = bytes.clone();
        altered[at] ^= 0x01;
        let text = format!("EPP1:{}", base45::encode(&altered));
        assert!(check(&s, &text, NOW).is_err(), "byte {at} altered and accepted");
    }
}

#[test]
fn a_retired_key_keeps_its_coupons_valid_until_they_expire() {
    let old = key(1);
    let new = key(4);
    let holder = key(2);
    let retired_at = NOW - 600;
    let list = TrustList {
        version: 2,
        issued_at_ms: NOW * 1000,
        keys: vec![
            IssuerKey {
                retired_at_s: Some(retired_at),
                ..IssuerKey::new(&old.verifying_key(), NOW - 86_400)
            },
            IssuerKey::new(&new.verifying_key(), retired_at),
        ],
    };
    let s = Scene {
        issuer: new.clone(),
        holder: holder.clone(),
        trusted: TrustedKeys::from_list(&list),
    };
    let before = CouponToken::sign(claims(&old, &holder), &old);
    assert_eq!(check(&s, &present(before, &holder, NOW), NOW), Ok(()));
    // Dated after the retirement: not the old key's to sign.
    let after = CouponToken::sign(
        CouponClaims {
            not_before_s: (retired_at + 60) as u32,
            ..claims(&old, &holder)
        },
        &old,
    );
    assert_eq!(check(&s, &present(after, &holder, NOW), NOW), Err(Refusal::UnknownKey));
    let renewed = CouponToken::sign(
        CouponClaims {
            not_before_s: (retired_at + 60) as u32,
            ..claims(&new, &holder)
        },
        &new,
    );
    assert_eq!(check(&s, &present(renewed, &holder, NOW), NOW), Ok(()));
}

#[test]
fn clock_tolerance_is_stated_and_held() {
    let s = scene();
    let mut c = claims(&s.issuer, &s.holder);
    c.not_before_s = (NOW + CLOCK_TOLERANCE_S) as u32;
    let token = CouponToken::sign(c, &s.issuer);
    assert_eq!(
        check(&s, &present(token, &s.holder, NOW), NOW),
        Ok(()),
        "within tolerance"
    );
    c.not_before_s = (NOW + CLOCK_TOLERANCE_S + 1) as u32;
    let token = CouponToken::sign(c, &s.issuer);
    assert_eq!(
        check(&s, &present(token, &s.holder, NOW), NOW),
        Err(Refusal::NotYetValid)
    );
}

#[test]
fn revocation_tags_are_short_and_stable() {
    assert_eq!(revocation_tag(&[1; 16]), revocation_tag(&[1; 16]));
    assert_ne!(revocation_tag(&[1; 16]), revocation_tag(&[2; 16]));
}

/// The smallest QR version holding `text` at level Q.
fn qr_version(text: &str) -> i16 {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q).expect("fits a QR code");
    match code.version() {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

#[test]
fn token_and_presentation_fit_the_qr_versions_a_till_scans_fast() {
    let s = scene();
    let token = CouponToken::sign(claims(&s.issuer, &s.holder), &s.issuer);
    let presentation = Presentation::sign(token, step_of(NOW), &s.holder);
    assert_eq!(token.to_bytes().len(), 161);
    assert_eq!(presentation.to_bytes().len(), 229);
    assert!(token
        .encode()
        .chars()
        .all(|c| "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(c)));
    assert!(
        qr_version(&token.encode()) <= 12,
        "token at {} Q",
        qr_version(&token.encode())
    );
    assert!(
        qr_version(&presentation.encode()) <= 15,
        "presentation at {} Q",
        qr_version(&presentation.encode())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random text: a typed error, never a panic.
    #[test]
    fn random_text_never_panics(text in ".{0,400}") {
        let _ = CouponToken::decode(&text);
        let _ = Presentation::decode(&text);
        let _ = Presentation::decode(&format!("EPP1:{text}"));
    }

    /// Random bytes behind the prefixes: a typed error, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CouponToken::from_bytes(&bytes);
        let _ = Presentation::from_bytes(&bytes);
        let _ = Presentation::decode(&format!("EPP1:{}", base45::encode(&bytes)));
    }

    /// A real presentation with random bytes changed: refused, never a panic.
    #[test]
    fn mutated_presentations_are_refused(flips in proptest::collection::btree_map(0usize..229, 1u8..=255, 1..6)) {
        let s = scene();
        let token = CouponToken::sign(claims(&s.issuer, &s.holder), &s.issuer);
        let mut bytes = Presentation::sign(token, step_of(NOW), &s.holder).to_bytes();
        for (at, flip) in flips {
            bytes[at] ^= flip;
        }
        let text = format!("EPP1:{}", base45::encode(&bytes));
        prop_assert!(check(&s, &text, NOW).is_err());
    }
}
