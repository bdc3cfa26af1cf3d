//! The device's identity: an Ed25519 key pair made on first start and kept in
//! the store. Everything the device tells the control plane is signed by it.

use ed25519_dalek::SigningKey;
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{DeviceId, Purpose, SignedEnvelope};
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::store::Store;
use crate::time::unix_millis;
use crate::StoreError;

pub(crate) struct DeviceIdentity {
    key: SigningKey,
    device_id: DeviceId,
}

impl DeviceIdentity {
    /// Loads the key, or makes and stores one on first start.
    pub(crate) fn load_or_create(store: &Store) -> Result<DeviceIdentity, StoreError> {
        store.with(|connection| {
            let tx = connection.transaction()?;
            let stored: Option<(String, Vec<u8>)> = tx
                .query_row("SELECT device_id, secret_key FROM device_key", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let identity = match stored {
                Some((device_id, secret)) => {
                    let secret: [u8; 32] = secret
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("device key is not 32 bytes".into()))?;
                    let identity = DeviceIdentity::from_secret(secret);
                    // The id is derived from the key; a mismatch means the
                    // file was edited or damaged, and signing with a key the
                    // control plane does not know would fail every call later.
                    if identity.device_id.as_str() != device_id {
                        return Err(StoreError::Corrupt("device id does not match the stored key".into()));
                    }
                    identity
                }
                None => {
                    let identity = DeviceIdentity::from_secret(random_secret()?);
                    tx.execute(
                        "INSERT INTO device_key (singleton, device_id, secret_key, created_at_ms) VALUES (1, ?1, ?2, ?3)",
                        rusqlite::params![identity.device_id.as_str(), identity.key.to_bytes().as_slice(), unix_millis() as i64],
                    )?;
                    tracing::info!(device_id = %identity.device_id, "device key created");
                    identity
                }
            };
            tx.commit()?;
            Ok(identity)
        })
    }

    fn from_secret(secret: [u8; 32]) -> DeviceIdentity {
        let key = SigningKey::from_bytes(&secret);
        let device_id = DeviceId::from_public_key(&key.verifying_key());
        DeviceIdentity { key, device_id }
    }

    pub(crate) fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    pub(crate) fn public_key(&self) -> String {
        encode_public_key(&self.key.verifying_key())
    }

    /// The raw public key, as coupons name their holder.
    pub(crate) fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// This device's presentation of a coupon at time step `step`: only
    /// the holder's key can make one.
    pub(crate) fn present(
        &self,
        token: edgepoints_protocol::coupons::CouponToken,
        step: u32,
    ) -> edgepoints_protocol::coupons::Presentation {
        edgepoints_protocol::coupons::Presentation::sign(token, step, &self.key)
    }

    /// The signature header of a signed read.
    pub(crate) fn sign_request(&self, method: &str, path: &str, timestamp_ms: u64) -> String {
        edgepoints_protocol::request_auth::sign_request(&self.key, self.device_id.as_str(), method, path, timestamp_ms)
    }

    pub(crate) fn sign<T: Serialize>(&self, purpose: Purpose, payload: &T) -> SignedEnvelope {
        SignedEnvelope::sign(purpose, self.device_id.as_str(), &self.key, payload)
    }
}

fn random_secret() -> Result<[u8; 32], StoreError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
    Ok(secret)
}

/// A fresh idempotency key: 128 random bits, hex. Chosen once per logical
/// call and stored with it before the first send.
pub(crate) fn new_idempotency_key() -> Result<String, StoreError> {
    new_nonce()
}

/// 128 random bits as 32 hex digits.
pub(crate) fn new_nonce() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = Store::open(dir.path()).unwrap();
            DeviceIdentity::load_or_create(&store).unwrap().device_id().clone()
        };
        let store = Store::open(dir.path()).unwrap();
        let second = DeviceIdentity::load_or_create(&store).unwrap();
        assert_eq!(first, *second.device_id());
    }

    #[test]
    fn detects_a_damaged_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        DeviceIdentity::load_or_create(&store).unwrap();
        store
            .with(|c| {
                c.execute("UPDATE device_key SET secret_key = zeroblob(32)", [])?;
                Ok(())
            })
            .unwrap();
        assert!(matches!(
            DeviceIdentity::load_or_create(&store),
            Err(StoreError::Corrupt(_))
        ));
    }
}
