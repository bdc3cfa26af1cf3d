//! The car's offline checks: every refusal with its reason, in the order
//! the protocol gives them, and the card check.

use ed25519_dalek::SigningKey;
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::rental::card::card_hash;
use edgepoints_protocol::rental::command::{CommandKind, StatusQuery, VehicleCommand};
use edgepoints_protocol::rental::credential::VehicleCredential;
use edgepoints_protocol::rental::vehicle_check::{
    check_card, check_command, check_status_query, VehicleRefusal, VehicleTrust, CLOCK_TOLERANCE_S,
};
use edgepoints_protocol::{Purpose, SignedEnvelope};

const NOW: u64 = 1_800_000_000;

struct Scene {
    control_plane: SigningKey,
    device: SigningKey,
    trusted: Vec<(String, ed25519_dalek::VerifyingKey)>,
}

impl Scene {
    fn new() -> Scene {
        let control_plane = SigningKey::from_bytes(&[1; 32]);
        Scene {
            trusted: vec![("cp_1".into(), control_plane.verifying_key())],
            control_plane,
            device: SigningKey::from_bytes(&[2; 32]),
        }
    }

    fn credential(&self, change: impl FnOnce(&mut VehicleCredential)) -> SignedEnvelope {
        let mut credential = VehicleCredential {
            vehicle_id: "ev-1".into(),
            rental_id: "r-1".into(),
            member_id: "m-1".into(),
            device_key: encode_public_key(&self.device.verifying_key()),
            not_before_s: NOW - 10,
            expires_s: NOW + 3600,
            commands: vec![CommandKind::Unlock, CommandKind::Lock],
            serial: "s1".into(),
            card_hash: Some(card_hash("m-1", "4000 1234 5678 9010").unwrap()),
        };
        change(&mut credential);
        credential.sign("cp_1", &self.control_plane)
    }

    fn command(&self, change: impl FnOnce(&mut VehicleCommand)) -> SignedEnvelope {
        let mut command = VehicleCommand {
            vehicle_id: "ev-1".into(),
            serial: "s1".into(),
            counter: 5,
            command: CommandKind::Unlock,
            expires_s: NOW + 30,
        };
        change(&mut command);
        SignedEnvelope::sign(Purpose::VehicleCommand, "device", &self.device, &command)
    }

    fn check(
        &self,
        credential: &SignedEnvelope,
        command: &SignedEnvelope,
        now_s: u64,
        revoked: &[&str],
    ) -> Result<(), VehicleRefusal> {
        let revoked: Vec<String> = revoked.iter().map(|s| s.to_string()).collect();
        let is_revoked = move |serial: &str| revoked.iter().any(|r| r == serial);
        let trust = VehicleTrust {
            vehicle_id: "ev-1",
            control_plane_keys: &self.trusted,
            now_s,
            is_revoked: &is_revoked,
        };
        check_command(&trust, credential, command, |_| 4).map(|_| ())
    }
}

#[test]
fn a_good_command_passes_and_every_fault_has_its_reason() {
    let scene = Scene::new();
    let credential = scene.credential(|_| {});
    let command = scene.command(|_| {});
    assert_eq!(scene.check(&credential, &command, NOW, &[]), Ok(()));

    use VehicleRefusal::*;
    /// What is wrong, the credential, the command, the car's clock, its
    /// revocation list, and the reason it must give.
    type Case<'a> = (
        &'a str,
        SignedEnvelope,
        SignedEnvelope,
        u64,
        &'a [&'a str],
        VehicleRefusal,
    );
    let cases: Vec<Case> = vec![
        (
            "another car's credential",
            scene.credential(|c| c.vehicle_id = "ev-2".into()),
            command.clone(),
            NOW,
            &[],
            WrongVehicle,
        ),
        (
            "a command for another car",
            credential.clone(),
            scene.command(|c| c.vehicle_id = "ev-2".into()),
            NOW,
            &[],
            WrongVehicle,
        ),
        (
            "an expired credential",
            scene.credential(|c| c.expires_s = NOW - CLOCK_TOLERANCE_S - 1),
            command.clone(),
            NOW,
            &[],
            Expired,
        ),
        (
            "an expired command",
            credential.clone(),
            scene.command(|c| c.expires_s = NOW - CLOCK_TOLERANCE_S - 1),
            NOW,
            &[],
            Expired,
        ),
        (
            "a credential not valid yet",
            scene.credential(|c| c.not_before_s = NOW + CLOCK_TOLERANCE_S + 1),
            command.clone(),
            NOW,
            &[],
            NotYetValid,
        ),
        (
            "a replayed counter",
            credential.clone(),
            scene.command(|c| c.counter = 4),
            NOW,
            &[],
            ReplayedCounter,
        ),
        (
            "an older counter",
            credential.clone(),
            scene.command(|c| c.counter = 1),
            NOW,
            &[],
            ReplayedCounter,
        ),
        (
            "a command not granted",
            credential.clone(),
            scene.command(|c| c.command = CommandKind::Immobilise),
            NOW,
            &[],
            CommandNotAllowed,
        ),
        (
            "a revoked serial",
            credential.clone(),
            command.clone(),
            NOW,
            &["s1"],
            Revoked,
        ),
        (
            "another credential's command",
            credential.clone(),
            scene.command(|c| c.serial = "s2".into()),
            NOW,
            &[],
            CredentialMismatch,
        ),
    ];
    for (what, credential, command, now, revoked, expected) in cases {
        assert_eq!(
            scene.check(&credential, &command, now, revoked),
            Err(expected),
            "{what}"
        );
    }
}

#[test]
fn forgeries_are_bad_signatures() {
    let scene = Scene::new();
    let command = scene.command(|_| {});
    // A credential signed by a key the car was not provisioned with.
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let forged = VehicleCredential {
        vehicle_id: "ev-1".into(),
        rental_id: "r-1".into(),
        member_id: "m-1".into(),
        device_key: encode_public_key(&scene.device.verifying_key()),
        not_before_s: NOW,
        expires_s: NOW + 60,
        commands: vec![CommandKind::Unlock],
        serial: "s1".into(),
        card_hash: None,
    }
    .sign("cp_1", &stranger);
    assert_eq!(
        scene.check(&forged, &command, NOW, &[]),
        Err(VehicleRefusal::BadSignature)
    );
    // A credential whose granted commands were edited after signing.
    let mut edited = scene.credential(|_| {});
    let mut payload: serde_json::Value = serde_json::from_slice(&edited.unverified_payload().unwrap()).unwrap();
    payload["commands"] = serde_json::json!(["unlock", "lock", "immobilise"]);
    edited.payload = base64url(&serde_json::to_vec(&payload).unwrap());
    assert_eq!(
        scene.check(&edited, &command, NOW, &[]),
        Err(VehicleRefusal::BadSignature)
    );
    // A command signed by another device than the credential names.
    let thief = SigningKey::from_bytes(&[7; 32]);
    let stolen = SignedEnvelope::sign(
        Purpose::VehicleCommand,
        "device",
        &thief,
        &VehicleCommand {
            vehicle_id: "ev-1".into(),
            serial: "s1".into(),
            counter: 9,
            command: CommandKind::Unlock,
            expires_s: NOW + 30,
        },
    );
    assert_eq!(
        scene.check(&scene.credential(|_| {}), &stolen, NOW, &[]),
        Err(VehicleRefusal::BadSignature)
    );
    // A command signature passed off as a status query.
    let trust = VehicleTrust {
        vehicle_id: "ev-1",
        control_plane_keys: &scene.trusted,
        now_s: NOW,
        is_revoked: &|_| false,
    };
    assert_eq!(
        check_status_query(&trust, &scene.credential(|_| {}), &command).map(|_| ()),
        Err(VehicleRefusal::BadSignature)
    );
    let query = SignedEnvelope::sign(
        Purpose::VehicleStatusQuery,
        "device",
        &scene.device,
        &StatusQuery {
            vehicle_id: "ev-1".into(),
            serial: "s1".into(),
            nonce: "n".into(),
            about_counter: Some(5),
            expires_s: NOW + 30,
        },
    );
    assert!(check_status_query(&trust, &scene.credential(|_| {}), &query).is_ok());
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn only_the_bound_card_opens_during_the_rental() {
    let scene = Scene::new();
    let trust = VehicleTrust {
        vehicle_id: "ev-1",
        control_plane_keys: &scene.trusted,
        now_s: NOW,
        is_revoked: &|serial| serial == "revoked",
    };
    let active = scene.credential(|_| {});
    assert!(check_card(&trust, Some(&active), "4000-1234-5678-9010").is_ok());
    assert_eq!(
        check_card(&trust, Some(&active), "4000 1234 5678 9011").map(|_| ()),
        Err(VehicleRefusal::WrongCard)
    );
    assert_eq!(
        check_card(&trust, None, "4000 1234 5678 9010").map(|_| ()),
        Err(VehicleRefusal::NoCredential)
    );
    let unbound = scene.credential(|c| c.card_hash = None);
    assert_eq!(
        check_card(&trust, Some(&unbound), "4000 1234 5678 9010").map(|_| ()),
        Err(VehicleRefusal::WrongCard)
    );
    let revoked = scene.credential(|c| c.serial = "revoked".into());
    assert_eq!(
        check_card(&trust, Some(&revoked), "4000 1234 5678 9010").map(|_| ()),
        Err(VehicleRefusal::Revoked)
    );
}
