//! Device identity and registration.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

/// A device's stable id: `dev_` and the first 16 bytes of the BLAKE3 hash of
/// its Ed25519 public key, in hex. Derived, so a device cannot claim an id
/// that is not its key's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^dev_[0-9a-f]{32}$"))]
pub struct DeviceId(String);

const PREFIX: &str = "dev_";
const HEX_LEN: usize = 32;

/// Why a string is not a device id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a device id (expected dev_ and 32 lowercase hex digits)")]
pub struct DeviceIdError(pub String);

impl DeviceId {
    pub fn from_public_key(key: &VerifyingKey) -> Self {
        let hash = blake3::hash(key.as_bytes());
        DeviceId(format!("{PREFIX}{}", hex::encode(&hash.as_bytes()[..HEX_LEN / 2])))
    }

    pub fn parse(text: &str) -> Result<Self, DeviceIdError> {
        let ok = text
            .strip_prefix(PREFIX)
            .is_some_and(|h| h.len() == HEX_LEN && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        if ok {
            Ok(DeviceId(text.to_owned()))
        } else {
            Err(DeviceIdError(text.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceId {
    type Error = DeviceIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeviceId::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Payload of a registration, signed by the key it announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRegistration {
    pub device_id: DeviceId,
    /// base64url Ed25519 public key; `device_id` must be derived from it.
    pub public_key: String,
    /// e.g. `android`, `ios`, `linux`.
    pub platform: String,
    pub app_version: String,
    pub sdk_version: String,
}

/// The control plane's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRegistered {
    pub device_id: DeviceId,
    /// When the control plane first registered this device (ms since the Unix epoch).
    pub registered_at_ms: u64,
    /// The control plane's own signing key, for verifying what it signs.
    pub control_plane_key_id: String,
    pub control_plane_public_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn id_is_derived_and_parses_back() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let id = DeviceId::from_public_key(&key);
        assert_eq!(DeviceId::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.as_str().len(), 4 + 32);
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in [
            "",
            "dev_",
            "dev_XYZ",
            "abc_00000000000000000000000000000000",
            "dev_../../etc/passwd",
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<DeviceId>("\"dev_nothex\"").is_err());
    }
}
