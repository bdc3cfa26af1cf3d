//! The control plane's coupon issuing keys: in the shared state, so every
//! instance signs with the current one; rotated by QA; published as a trust
//! list signed with the control-plane key.
//!
//! (A real control plane keeps issuing keys in an HSM; the mock keeps them
//! where its instances can share them.)

use ed25519_dalek::SigningKey;
use edgepoints_protocol::coupons::{IssuerKey, TrustList};
use edgepoints_protocol::{Purpose, SignedEnvelope};
use serde::{Deserialize, Serialize};

use crate::points::now;
use crate::state::keys;
use crate::store::{update_json, StoreError};
use crate::ControlPlane;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
struct StoredKey {
    secret: String,
    valid_from_s: u64,
    retired_at_s: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
struct IssuerKeys {
    /// Grows with every change, as the trust list's version.
    version: u64,
    keys: Vec<StoredKey>,
}

fn new_key(valid_from_s: u64) -> StoredKey {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the system has randomness");
    StoredKey {
        secret: hex::encode(secret),
        valid_from_s,
        retired_at_s: None,
    }
}

fn signing_key(stored: &StoredKey) -> SigningKey {
    let secret: [u8; 32] = hex::decode(&stored.secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("stored issuing keys are 32 bytes of hex");
    SigningKey::from_bytes(&secret)
}

/// The keys, made on first use (the first key is valid from the start of
/// time: it signed whatever came before).
async fn issuer_keys(control_plane: &ControlPlane) -> Result<IssuerKeys, StoreError> {
    let keys = update_json::<IssuerKeys, IssuerKeys, std::convert::Infallible>(
        control_plane.store(),
        keys::ISSUER_KEYS,
        |stored| {
            let keys = stored.unwrap_or_else(|| IssuerKeys {
                version: 1,
                keys: vec![new_key(0)],
            });
            Ok((Some(keys.clone()), keys))
        },
    )
    .await?;
    Ok(keys.unwrap_or_else(|never| match never {}))
}

/// The key that signs new coupons.
pub async fn current(control_plane: &ControlPlane) -> Result<SigningKey, StoreError> {
    let keys = issuer_keys(control_plane).await?;
    let stored = keys
        .keys
        .iter()
        .rev()
        .find(|k| k.retired_at_s.is_none())
        .expect("one key is never retired");
    Ok(signing_key(stored))
}

/// Retires the current key and makes a new one; the new trust list.
pub async fn rotate(control_plane: &ControlPlane) -> Result<TrustList, StoreError> {
    let at_s = now(control_plane).await? / 1000;
    update_json::<IssuerKeys, (), std::convert::Infallible>(control_plane.store(), keys::ISSUER_KEYS, |stored| {
        let mut keys = stored.unwrap_or_else(|| IssuerKeys {
            version: 0,
            keys: vec![new_key(0)],
        });
        for key in keys.keys.iter_mut().filter(|k| k.retired_at_s.is_none()) {
            key.retired_at_s = Some(at_s);
        }
        keys.keys.push(new_key(at_s));
        keys.version += 1;
        Ok((Some(keys), ()))
    })
    .await?
    .unwrap_or_else(|never| match never {});
    tracing::info!("coupon issuing key rotated");
    trust_list(control_plane).await
}

pub async fn trust_list(control_plane: &ControlPlane) -> Result<TrustList, StoreError> {
    let keys = issuer_keys(control_plane).await?;
    Ok(TrustList {
        version: keys.version,
        issued_at_ms: now(control_plane).await?,
        keys: keys
            .keys
            .iter()
            .map(|stored| IssuerKey {
                retired_at_s: stored.retired_at_s,
                ..IssuerKey::new(&signing_key(stored).verifying_key(), stored.valid_from_s)
            })
            .collect(),
    })
}

/// The trust list, signed by the control-plane key.
pub async fn signed_trust_list(control_plane: &ControlPlane) -> Result<SignedEnvelope, StoreError> {
    let list = trust_list(control_plane).await?;
    Ok(SignedEnvelope::sign(
        Purpose::TrustList,
        control_plane.key.key_id(),
        control_plane.key.signing_key(),
        &list,
    ))
}
