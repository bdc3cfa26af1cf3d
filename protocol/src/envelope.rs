//! The signed envelope: how a device (or the control plane) signs what it sends.
//!
//! The signature covers the exact payload bytes that travel, never a
//! re-serialisation of them, so there is no JSON canonicalisation to get wrong.
//! The signed message is
//!
//! ```text
//! "edgepoints/v1\n" || purpose || "\n" || key_id || "\n" || payload
//! ```
//!
//! The purpose binds a signature to one kind of message (a signed consent
//! report cannot be replayed as a registration), and the key id binds it to the
//! signer named in the envelope. Neither may contain a newline, so the framing
//! is unambiguous; the payload comes last and needs no length.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const DOMAIN: &[u8] = b"edgepoints/v1\n";

/// What a signed message is for. Each kind of message has its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    DeviceRegistration,
    ConsentReport,
    /// A signed read (see [`crate::request_auth`]).
    RequestAuth,
    /// An access ticket, signed by the control plane (see [`crate::ticket`]).
    AccessTicket,
    /// The content manifest, signed by the control plane.
    Manifest,
    /// A node telling the control plane where it serves and what it holds.
    NodeAnnouncement,
    /// A consumer reporting bytes that did not match their hash.
    HashFailureReport,
    /// A node's periodic heartbeat.
    Heartbeat,
    /// A node's answer to the control plane's reachability probe.
    Probe,
    /// A node's statement of what it is delivering to a consumer.
    DeliveryStatement,
    /// A consumer's receipt for a verified delivery from a node.
    Receipt,
    /// A member signing up from a device.
    MemberSignUp,
    /// A member logging in from a device.
    MemberLogin,
    /// A member ending a session (logout) or the whole account.
    SessionEnd,
    /// A member's session heartbeat, with the notices it acknowledges.
    MemberHeartbeat,
    /// A coupon, signed by a control-plane issuing key.
    Coupon,
    /// A holder's presentation of a coupon at a time step.
    CouponPresentation,
    /// The control plane's list of coupon issuing keys.
    TrustList,
    /// A merchant device enrolling with a one-time code.
    MerchantEnrolment,
    /// A merchant device writing an activity's draft.
    ActivityWrite,
    /// A merchant device submitting or withdrawing an activity.
    ActivityAction,
    /// A customer claiming a coupon.
    CouponClaim,
    /// A merchant device redeeming a coupon.
    Redemption,
    /// A merchant device rolling a redemption back.
    Rollback,
    /// A device sharing an activity.
    Share,
    /// A holder giving an unused coupon back.
    ClaimRollback,
    /// A merchant device asking the control plane about a presentation.
    CouponValidation,
    /// A member redeeming a reward for points.
    RewardRedemption,
    /// A merchant device settling a redemption it made offline.
    OfflineRedemption,
    /// A member reserving a vehicle.
    RentalReserve,
    /// A member stepping a rental on (cancel, start), or ending it with the
    /// vehicle's signed reading.
    RentalStep,
    /// A member binding a card to the account.
    MemberCard,
    /// A member reserving a charging connector.
    ChargingReservation,
    /// The right to command one vehicle for one rental, signed by the
    /// control plane.
    VehicleCredential,
    /// A command to a vehicle, signed by the member device's key.
    VehicleCommand,
    /// A status question to a vehicle, signed by the member device's key.
    VehicleStatusQuery,
    /// A vehicle's answer, signed by the vehicle's own key.
    VehicleAnswer,
    /// Serials a vehicle must refuse from now on, signed by the control plane.
    VehicleRevocation,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::DeviceRegistration => "device.register",
            Purpose::ConsentReport => "device.consent",
            Purpose::RequestAuth => "device.request",
            Purpose::AccessTicket => "cp.access-ticket",
            Purpose::Manifest => "cp.manifest",
            Purpose::NodeAnnouncement => "device.node",
            Purpose::HashFailureReport => "device.hash-failure",
            Purpose::Heartbeat => "device.heartbeat",
            Purpose::Probe => "device.probe",
            Purpose::DeliveryStatement => "device.delivery",
            Purpose::Receipt => "device.receipt",
            Purpose::MemberSignUp => "member.sign-up",
            Purpose::MemberLogin => "member.login",
            Purpose::SessionEnd => "member.session-end",
            Purpose::MemberHeartbeat => "member.heartbeat",
            Purpose::Coupon => "cp.coupon",
            Purpose::CouponPresentation => "device.coupon-presentation",
            Purpose::TrustList => "cp.trust-list",
            Purpose::MerchantEnrolment => "merchant.enrol",
            Purpose::ActivityWrite => "merchant.activity-write",
            Purpose::ActivityAction => "merchant.activity-action",
            Purpose::CouponClaim => "customer.claim",
            Purpose::Redemption => "merchant.redeem",
            Purpose::Rollback => "merchant.rollback",
            Purpose::Share => "device.share",
            Purpose::ClaimRollback => "customer.claim-rollback",
            Purpose::CouponValidation => "merchant.validate",
            Purpose::RewardRedemption => "member.reward-redemption",
            Purpose::OfflineRedemption => "merchant.offline-redeem",
            Purpose::RentalReserve => "member.rental-reserve",
            Purpose::RentalStep => "member.rental-step",
            Purpose::MemberCard => "member.card",
            Purpose::ChargingReservation => "member.charging-reservation",
            Purpose::VehicleCredential => "cp.vehicle-credential",
            Purpose::VehicleCommand => "device.vehicle-command",
            Purpose::VehicleStatusQuery => "device.vehicle-status",
            Purpose::VehicleAnswer => "vehicle.answer",
            Purpose::VehicleRevocation => "cp.vehicle-revocation",
        }
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is malformed: {0}")]
    Malformed(String),
    #[error("envelope is for `{found}`, expected `{expected}`")]
    WrongPurpose { expected: &'static str, found: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("payload does not decode: {0}")]
    BadPayload(String),
}

/// A payload with the signature of the key named by `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedEnvelope {
    pub purpose: String,
    pub key_id: String,
    /// base64url (no padding) of the payload bytes, JSON in practice.
    pub payload: String,
    /// base64url (no padding) of the 64-byte Ed25519 signature.
    pub signature: String,
}

impl SignedEnvelope {
    /// Serialises `payload` to JSON and signs it.
    ///
    /// ```
    /// use ed25519_dalek::SigningKey;
    /// use edgepoints_protocol::{Purpose, SignedEnvelope};
    ///
    /// let key = SigningKey::from_bytes(&[7; 32]);
    /// let envelope = SignedEnvelope::sign(Purpose::ConsentReport, "dev_1", &key, &42u32);
    /// let n: u32 = envelope
    ///     .open(Purpose::ConsentReport, &key.verifying_key())
    ///     .unwrap();
    /// assert_eq!(n, 42);
    /// ```
    pub fn sign<T: Serialize>(purpose: Purpose, key_id: &str, key: &SigningKey, payload: &T) -> Self {
        // Serialising plain serde structs to a Vec cannot fail; a map with
        // non-string keys would, and no wire type has one.
        let bytes = serde_json::to_vec(payload).expect("wire types serialise to JSON");
        Self::sign_bytes(purpose, key_id, key, &bytes)
    }

    /// Signs bytes as they are.
    pub fn sign_bytes(purpose: Purpose, key_id: &str, key: &SigningKey, payload: &[u8]) -> Self {
        debug_assert!(!key_id.contains('\n'));
        let message = signed_message(purpose.as_str(), key_id, payload);
        let signature = key.sign(&message);
        SignedEnvelope {
            purpose: purpose.as_str().to_owned(),
            key_id: key_id.to_owned(),
            payload: URL_SAFE_NO_PAD.encode(payload),
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }
    }

    /// The payload bytes, without checking the signature. Only for reading
    /// the claimed signer's public key out of a self-signed registration
    /// before it is verified with that very key.
    pub fn unverified_payload(&self) -> Result<Vec<u8>, EnvelopeError> {
        URL_SAFE_NO_PAD
            .decode(&self.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload is not base64url: {e}")))
    }

    /// Checks purpose and signature and returns the payload bytes.
    pub fn verify(&self, purpose: Purpose, key: &VerifyingKey) -> Result<Vec<u8>, EnvelopeError> {
        let check = self.signature_check(purpose)?;
        check.verify_strict(key)?;
        Ok(check.into_payload())
    }

    /// Checks the purpose and the framing and decodes the signature and the
    /// payload, leaving only the signature itself to check: for a verifier
    /// that checks many envelopes' signatures at once.
    pub fn signature_check(&self, purpose: Purpose) -> Result<SignatureCheck, EnvelopeError> {
        if self.purpose != purpose.as_str() {
            return Err(EnvelopeError::WrongPurpose {
                expected: purpose.as_str(),
                found: self.purpose.clone(),
            });
        }
        if self.key_id.contains('\n') {
            return Err(EnvelopeError::Malformed("key id holds a newline".into()));
        }
        let payload = self.unverified_payload()?;
        let signature_bytes: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .map_err(|e| EnvelopeError::Malformed(format!("signature is not base64url: {e}")))?
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("signature is not 64 bytes".into()))?;
        let message = signed_message(&self.purpose, &self.key_id, &payload);
        Ok(SignatureCheck {
            payload_at: message.len() - payload.len(),
            message,
            signature: Signature::from_bytes(&signature_bytes),
        })
    }

    /// The compact form for an HTTP header: `key_id.payload.signature`
    /// (the purpose is implied by the header it travels in).
    pub fn to_compact(&self) -> String {
        format!("{}.{}.{}", self.key_id, self.payload, self.signature)
    }

    /// Reads the compact form, for `purpose`; the signature is not checked yet.
    pub fn from_compact(purpose: Purpose, token: &str) -> Result<Self, EnvelopeError> {
        let mut parts = token.split('.');
        let (Some(key_id), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EnvelopeError::Malformed("not `key_id.payload.signature`".into()));
        };
        Ok(SignedEnvelope {
            purpose: purpose.as_str().to_owned(),
            key_id: key_id.to_owned(),
            payload: payload.to_owned(),
            signature: signature.to_owned(),
        })
    }

    /// Decodes the payload as `T` without checking the signature: for a
    /// party that passes the envelope on to one that can check it.
    pub fn peek<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        serde_json::from_slice(&self.unverified_payload()?).map_err(|e| EnvelopeError::BadPayload(e.to_string()))
    }

    /// Verifies, then decodes the payload as `T`.
    pub fn open<T: DeserializeOwned>(&self, purpose: Purpose, key: &VerifyingKey) -> Result<T, EnvelopeError> {
        let payload = self.verify(purpose, key)?;
        serde_json::from_slice(&payload).map_err(|e| EnvelopeError::BadPayload(e.to_string()))
    }
}

/// An envelope whose purpose and framing are checked and whose signature
/// is not yet: the exact bytes the signature covers, and the signature.
#[derive(Debug, Clone)]
pub struct SignatureCheck {
    message: Vec<u8>,
    signature: Signature,
    /// Where the payload starts in `message` (it comes last).
    payload_at: usize,
}

impl SignatureCheck {
    /// The bytes the signature covers.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The protocol's check of one signature: Ed25519 with a canonical `s`,
    /// neither `R` nor the key of small order, and the cofactorless equation.
    pub fn verify_strict(&self, key: &VerifyingKey) -> Result<(), EnvelopeError> {
        key.verify_strict(&self.message, &self.signature)
            .map_err(|_| EnvelopeError::BadSignature)
    }

    /// The payload bytes; to be used once the signature is checked.
    pub fn into_payload(mut self) -> Vec<u8> {
        self.message.split_off(self.payload_at)
    }
}

/// The bytes a signature of ours covers: the domain, the purpose, the
/// signer's key id and the payload, framed as above. Public so that
/// compact formats (coupons) sign under the same separation.
pub fn signing_input(purpose: &str, key_id: &str, payload: &[u8]) -> Vec<u8> {
    signed_message(purpose, key_id, payload)
}

fn signed_message(purpose: &str, key_id: &str, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN.len() + purpose.len() + key_id.len() + payload.len() + 2);
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(purpose.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(key_id.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(payload);
    message
}

/// Encodes a public key as it travels: base64url, no padding.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Decodes a public key as it travels.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, EnvelopeError> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| EnvelopeError::Malformed(format!("public key is not base64url: {e}")))?
        .try_into()
        .map_err(|_| EnvelopeError::Malformed("public key is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| EnvelopeError::Malformed("public key is not a curve point".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signature_check_gives_the_payload_only_for_its_own_signature() {
        let envelope = SignedEnvelope::sign(Purpose::Heartbeat, "dev_1", &key(1), &vec![1u8, 2, 3]);
        let check = envelope.signature_check(Purpose::Heartbeat).unwrap();
        assert!(check.verify_strict(&key(2).verifying_key()).is_err());
        check.verify_strict(&key(1).verifying_key()).unwrap();
        assert_eq!(check.into_payload(), b"[1,2,3]");
        assert!(matches!(
            envelope.signature_check(Purpose::Receipt),
            Err(EnvelopeError::WrongPurpose { .. })
        ));
    }

    #[test]
    fn round_trip() {
        let k = key(1);
        let env = SignedEnvelope::sign(Purpose::DeviceRegistration, "dev_a", &k, &"hello");
        let text: String = env.open(Purpose::DeviceRegistration, &k.verifying_key()).unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn wrong_purpose_is_refused() {
        let k = key(1);
        let env = SignedEnvelope::sign(Purpose::DeviceRegistration, "dev_a", &k, &"hello");
        let err = env.verify(Purpose::ConsentReport, &k.verifying_key()).unwrap_err();
        assert!(matches!(err, EnvelopeError::WrongPurpose { .. }));
    }

    #[test]
    fn relabelled_purpose_breaks_the_signature() {
        let k = key(1);
        let mut env = SignedEnvelope::sign(Purpose::DeviceRegistration, "dev_a", &k, &"hello");
        env.purpose = Purpose::ConsentReport.as_str().into();
        let err = env.verify(Purpose::ConsentReport, &k.verifying_key()).unwrap_err();
        assert_eq!(err, EnvelopeError::BadSignature);
    }

    #[test]
    fn other_key_is_refused() {
        let env = SignedEnvelope::sign(Purpose::ConsentReport, "dev_a", &key(1), &"hello");
        let err = env.verify(Purpose::ConsentReport, &key(2).verifying_key()).unwrap_err();
        assert_eq!(err, EnvelopeError::BadSignature);
    }

    #[test]
    fn changed_key_id_is_refused() {
        let k = key(1);
        let mut env = SignedEnvelope::sign(Purpose::ConsentReport, "dev_a", &k, &"hello");
        env.key_id = "dev_b".into();
        assert_eq!(
            env.verify(Purpose::ConsentReport, &k.verifying_key()).unwrap_err(),
            EnvelopeError::BadSignature
        );
    }

    #[test]
    fn garbage_signature_is_malformed_not_a_panic() {
        let k = key(1);
        let mut env = SignedEnvelope::sign(Purpose::ConsentReport, "dev_a", &k, &"hello");
        env.signature = "%%%".into();
        assert!(matches!(
            env.verify(Purpose::ConsentReport, &k.verifying_key()),
            Err(EnvelopeError::Malformed(_))
        ));
        env.signature = URL_SAFE_NO_PAD.encode([0u8; 12]);
        assert!(matches!(
            env.verify(Purpose::ConsentReport, &k.verifying_key()),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    proptest! {
        /// Flipping any bit of the payload or the signature is caught.
        #[test]
        fn any_tampered_bit_is_refused(payload in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<usize>(), in_signature in any::<bool>()) {
            let k = key(9);
            let env = SignedEnvelope::sign_bytes(Purpose::ConsentReport, "dev_p", &k, &payload);
            let mut tampered = env.clone();
            let field = if in_signature { &mut tampered.signature } else { &mut tampered.payload };
            let mut raw = URL_SAFE_NO_PAD.decode(&*field).unwrap();
            let bit = bit % (raw.len() * 8);
            raw[bit / 8] ^= 1 << (bit % 8);
            *field = URL_SAFE_NO_PAD.encode(&raw);
            prop_assert!(tampered.verify(Purpose::ConsentReport, &k.verifying_key()).is_err());
            prop_assert_eq!(env.verify(Purpose::ConsentReport, &k.verifying_key()).unwrap(), payload);
        }
    }
}
