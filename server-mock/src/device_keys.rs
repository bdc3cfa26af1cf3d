//! Devices' public keys, decoded once. Turning a key's text into a curve
//! point costs a square root on the curve — about a quarter of a signature
//! check — and every signed request of a device needs the same point.
//! The cache maps the key's text, which never changes its meaning, so it
//! cannot go stale; it is bounded, and a key that fell out is decoded again.
//! With the point it keeps whether the key may have its signatures checked
//! in a batch ([`crate::signature_batches`]), which costs a scalar
//! multiplication once per key.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use ed25519_dalek::VerifyingKey;
use edgepoints_protocol::envelope::{decode_public_key, EnvelopeError};
use lru::LruCache;

/// Keys kept: a point and its text take about 250 bytes, so 4 MiB at most.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(16_384).expect("not zero");

pub struct DeviceKeys {
    decoded: Mutex<LruCache<String, DeviceKey>>,
}

/// A device's decoded public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceKey {
    pub key: VerifyingKey,
    /// The key is in the prime-order subgroup and not the identity. For
    /// such a key a batch check and the single check agree on every
    /// signature but those whose `R` the key's holder crafted; any other
    /// key's signatures are checked one at a time.
    pub batchable: bool,
}

impl DeviceKey {
    pub fn new(key: VerifyingKey) -> DeviceKey {
        DeviceKey {
            batchable: !key.is_weak() && key.to_edwards().is_torsion_free(),
            key,
        }
    }
}

impl Default for DeviceKeys {
    fn default() -> Self {
        DeviceKeys {
            decoded: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl DeviceKeys {
    /// The point of the base64url key `text`, as
    /// [`decode_public_key`] gives it; refusals are not kept.
    pub fn decode(&self, text: &str) -> Result<VerifyingKey, EnvelopeError> {
        self.device_key(text).map(|decoded| decoded.key)
    }

    /// The key of `text` with whether it may go into a batch check.
    pub fn device_key(&self, text: &str) -> Result<DeviceKey, EnvelopeError> {
        if let Some(key) = self.lock().get(text) {
            return Ok(*key);
        }
        let key = DeviceKey::new(decode_public_key(text)?);
        self.lock().put(text.to_owned(), key);
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, DeviceKey>> {
        self.decoded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use edgepoints_protocol::envelope::encode_public_key;

    #[test]
    fn a_cached_key_is_the_decoded_key_and_bad_text_stays_refused() {
        let keys = DeviceKeys::default();
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = encode_public_key(&key);
        assert_eq!(keys.decode(&text).unwrap(), key);
        assert!(keys.device_key(&text).unwrap().batchable);
        assert!(keys.decode("not a key").is_err());
        assert!(keys.decode("not a key").is_err());
        assert_eq!(keys.lock().len(), 1);
    }
}
