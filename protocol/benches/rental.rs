//! The car's offline check of one command — the credential's signature
//! and window, the command's signature, counter and grant, both decoded
//! from JSON envelopes — beside one bare Ed25519 verification, in the same
//! criterion run: the goal is at most 3× one verification (there are two
//! signatures to check), so a car's processor spends its time on
//! cryptography, not on the format. Also the size of what one command
//! puts on the link.
//!
//! ```sh
//! cargo bench -p edgepoints-protocol --bench rental
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::rental::card::card_hash;
use edgepoints_protocol::rental::command::{CommandKind, LinkRequest, VehicleCommand};
use edgepoints_protocol::rental::credential::VehicleCredential;
use edgepoints_protocol::rental::vehicle_check::{check_command, VehicleTrust};
use edgepoints_protocol::{Purpose, SignedEnvelope};

const NOW: u64 = 1_800_000_000;

fn bench(c: &mut Criterion) {
    let control_plane = SigningKey::from_bytes(&[1; 32]);
    let device = SigningKey::from_bytes(&[2; 32]);
    let trusted = vec![("cp_0123456789abcdef".to_owned(), control_plane.verifying_key())];
    let credential = VehicleCredential {
        vehicle_id: "ev-101".into(),
        rental_id: "r-5b376ed49b9a01359441dd978bda8dd3".into(),
        member_id: "m-525d820db6151da9".into(),
        device_key: encode_public_key(&device.verifying_key()),
        not_before_s: NOW - 60,
        expires_s: NOW + 86_400,
        commands: vec![CommandKind::Unlock, CommandKind::Lock, CommandKind::Honk],
        serial: "9f2c4e1a7b3d5f60a1b2c3d4e5f60718".into(),
        card_hash: Some(card_hash("m-525d820db6151da9", "4000 1234 5678 9010").unwrap()),
    }
    .sign("cp_0123456789abcdef", &control_plane);
    let command = SignedEnvelope::sign(
        Purpose::VehicleCommand,
        "dev_c90af7a7657ce57e82888f69900b0dcd",
        &device,
        &VehicleCommand {
            vehicle_id: "ev-101".into(),
            serial: "9f2c4e1a7b3d5f60a1b2c3d4e5f60718".into(),
            counter: 42,
            command: CommandKind::Unlock,
            expires_s: NOW + 30,
        },
    );
    let revoked: Vec<String> = (0..1000).map(|n| format!("{n:032x}")).collect();
    let is_revoked = |serial: &str| revoked.iter().any(|r| r == serial);
    let trust = VehicleTrust {
        vehicle_id: "ev-101",
        control_plane_keys: &trusted,
        now_s: NOW,
        is_revoked: &is_revoked,
    };
    assert!(check_command(&trust, &credential, &command, |_| 41).is_ok());
    let request = LinkRequest::Command {
        credential: credential.clone(),
        command: command.clone(),
    }
    .to_bytes();
    println!(
        "one command on the link: {} bytes (credential and command)",
        request.len()
    );

    let message = b"a message of about the size of a command's signed input, 160 bytes or so, to verify once";
    let signature = device.sign(message);
    let key = device.verifying_key();
    let mut group = c.benchmark_group("vehicle_check");
    group.bench_function("bare Ed25519 verify", |b| {
        b.iter(|| key.verify(std::hint::black_box(message), &signature).unwrap())
    });
    group.bench_function("check command", |b| {
        b.iter(|| check_command(&trust, std::hint::black_box(&credential), &command, |_| 41).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
