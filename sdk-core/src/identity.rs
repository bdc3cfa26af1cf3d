//! The device's identity: an Ed25519 key pair made on first start. The
//! secret half is kept in the [`Secrets`] store (the platform keystore when
//! the host gives one); the database records whose key it is. Everything the
//! device tells the control plane is signed by it.

use ed25519_dalek::SigningKey;
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{DeviceId, Purpose, SignedEnvelope};
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::secrets::{Secrets, DEVICE_KEY};
use crate::store::Store;
use crate::time::unix_millis;
use crate::{Error, StoreError};

pub(crate) struct DeviceIdentity {
    key: SigningKey,
    device_id: DeviceId,
}

impl DeviceIdentity {
    /// Loads the key, or makes and keeps one on first start.
    ///
    /// The database's record says whether this device has a key. Recorded
    /// but missing from the secret store is [`Error::SecretLost`], never a
    /// new key: a new key is a new device, and the old one's points and
    /// coupons would be lost without a word. A key in the store without a
    /// record (an app killed between the two writes) is adopted.
    pub(crate) fn load_or_create(store: &Store, secrets: &Secrets) -> Result<DeviceIdentity, Error> {
        let recorded: Option<String> = store.with(|c| {
            Ok(
                c.query_row("SELECT device_id FROM device_identity", [], |row| row.get(0))
                    .optional()?,
            )
        })?;
        let identity = match (secrets.load(DEVICE_KEY)?, &recorded) {
            (Some(secret), _) => {
                let secret: [u8; 32] = secret
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("the device key is not 32 bytes".into()))?;
                DeviceIdentity::from_secret(secret)
            }
            (None, Some(device_id)) => {
                return Err(Error::SecretLost {
                    secret: format!("the device key of {device_id}"),
                })
            }
            (None, None) => {
                let identity = DeviceIdentity::from_secret(random_secret()?);
                // The secret first: a record without its key would be a
                // lost identity; a key without a record is adopted.
                secrets.save(DEVICE_KEY, &identity.key.to_bytes())?;
                tracing::info!(device_id = %identity.device_id, "device key created");
                identity
            }
        };
        match recorded {
            // The id is derived from the key; a mismatch means the store
            // holds another device's key, and signing with it would fail
            // every call (or speak for another device).
            Some(device_id) if identity.device_id.as_str() != device_id => {
                Err(StoreError::Corrupt(format!("the secret store's device key is not the key of {device_id}")).into())
            }
            Some(_) => Ok(identity),
            None => {
                store.with(|c| {
                    c.execute(
                        "INSERT INTO device_identity (singleton, device_id, created_at_ms) VALUES (1, ?1, ?2)",
                        rusqlite::params![identity.device_id.as_str(), unix_millis() as i64],
                    )?;
                    Ok(())
                })?;
                Ok(identity)
            }
        }
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

    fn open(dir: &std::path::Path) -> (Store, Secrets) {
        let store = Store::open(dir).unwrap();
        let secrets = Secrets::open(&store, None).unwrap();
        (store, secrets)
    }

    #[test]
    fn same_key_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let (store, secrets) = open(dir.path());
            DeviceIdentity::load_or_create(&store, &secrets)
                .unwrap()
                .device_id()
                .clone()
        };
        let (store, secrets) = open(dir.path());
        let second = DeviceIdentity::load_or_create(&store, &secrets).unwrap();
        assert_eq!(first, *second.device_id());
    }

    #[test]
    fn detects_a_damaged_key() {
        let dir = tempfile::tempdir().unwrap();
        let (store, secrets) = open(dir.path());
        DeviceIdentity::load_or_create(&store, &secrets).unwrap();
        store
            .with(|c| {
                c.execute("UPDATE secrets SET secret = zeroblob(32) WHERE name = 'device-key'", [])?;
                Ok(())
            })
            .unwrap();
        let (store, secrets) = open(dir.path());
        assert!(matches!(
            DeviceIdentity::load_or_create(&store, &secrets),
            Err(Error::Store(StoreError::Corrupt(_)))
        ));
    }

    #[test]
    fn a_lost_key_is_an_error_and_no_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (store, secrets) = open(dir.path());
        let device_id = DeviceIdentity::load_or_create(&store, &secrets)
            .unwrap()
            .device_id()
            .clone();
        store
            .with(|c| {
                c.execute("DELETE FROM secrets", [])?;
                Ok(())
            })
            .unwrap();
        let (store, secrets) = open(dir.path());
        for _ in 0..2 {
            match DeviceIdentity::load_or_create(&store, &secrets) {
                Err(Error::SecretLost { secret }) => assert!(secret.contains(device_id.as_str()), "{secret}"),
                Err(other) => panic!("{other:?}"),
                Ok(_) => panic!("a new identity was made"),
            }
        }
        assert_eq!(secrets.load(DEVICE_KEY).unwrap(), None, "nothing was written");
    }
}
