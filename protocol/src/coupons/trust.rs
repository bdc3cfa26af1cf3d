//! The trust list: the control plane's coupon issuing keys, signed by its
//! root key (the one a device learns at registration), so a merchant's
//! device checks coupons offline with the list it last synced.
//!
//! Keys rotate: a new key signs new coupons, the old one is retired. A
//! coupon a retired key signed before it was retired stays valid until it
//! expires; one dated after the retirement is refused.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::token::KeyId;
use crate::envelope::{decode_public_key, encode_public_key};

/// One issuing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerKey {
    /// [`KeyId`] in hex.
    pub key_id: String,
    /// Ed25519, base64url.
    pub public_key: String,
    /// Coupons dated before this were not signed by it.
    pub valid_from_s: u64,
    /// Set once the key is retired: it signs no coupon after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at_s: Option<u64>,
}

impl IssuerKey {
    pub fn new(key: &VerifyingKey, valid_from_s: u64) -> IssuerKey {
        IssuerKey {
            key_id: KeyId::of(key).to_hex(),
            public_key: encode_public_key(key),
            valid_from_s,
            retired_at_s: None,
        }
    }

    /// Whether a coupon dated `issued_s` (its not-before) can be this key's.
    pub fn covers(&self, issued_s: u64) -> bool {
        issued_s >= self.valid_from_s && self.retired_at_s.is_none_or(|retired| issued_s <= retired)
    }
}

/// The signed payload of a trust list (purpose `cp.trust-list`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustList {
    /// Grows with every change; a device keeps the highest it has seen.
    pub version: u64,
    pub issued_at_ms: u64,
    pub keys: Vec<IssuerKey>,
}

/// A trust list ready for checking: the keys decoded once.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<(KeyId, VerifyingKey, IssuerKey)>,
}

impl TrustedKeys {
    /// The usable keys of `list` (an entry that does not decode, or whose
    /// id is not its key's, is left out).
    pub fn from_list(list: &TrustList) -> TrustedKeys {
        let keys = list
            .keys
            .iter()
            .filter_map(|entry| {
                let key = decode_public_key(&entry.public_key).ok()?;
                let id = KeyId::of(&key);
                (id.to_hex() == entry.key_id).then(|| (id, key, entry.clone()))
            })
            .collect();
        TrustedKeys { keys }
    }

    /// Every key with id `id`.
    pub fn with_id(&self, id: KeyId) -> impl Iterator<Item = (&VerifyingKey, &IssuerKey)> {
        self.keys
            .iter()
            .filter(move |(k, ..)| *k == id)
            .map(|(_, key, entry)| (key, entry))
    }
}
