//! The host's keystore as the SDK's secret store.

use std::sync::Arc;

use edgepoints_core as core;

/// Why the host's secret store failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SecretStoreError {
    /// The store could not do it (locked keystore, I/O, …); `reason` says why.
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SecretStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SecretStoreError::Failed { reason: e.reason }
    }
}

/// Implemented by the app: keeps the SDK's secrets (the device key, the
/// member session key) in the platform keystore — on Android, encrypted
/// with an AES key held by the Android Keystore; on iOS, in the Keychain.
/// Pass it when opening the SDK. Without one, the SDK keeps them in its own
/// database file. Calls are rare and may block briefly. A store that throws
/// fails the SDK call with `SecretStore`; one that lost the device key
/// fails the open with `SecretLost` (the SDK never makes a new identity in
/// its place).
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`, or `null` if the store has none.
    fn load(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreError>;
    /// Keeps `secret` under `name`, replacing any.
    fn save(&self, name: String, secret: Vec<u8>) -> Result<(), SecretStoreError>;
    /// Forgets the secret named `name`; forgetting a missing one is fine.
    fn delete(&self, name: String) -> Result<(), SecretStoreError>;
}

pub(crate) struct SecretStoreBridge(pub Arc<dyn SecretStore>);

impl core::SecretStore for SecretStoreBridge {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, core::SecretStoreError> {
        self.0.load(name.to_owned()).map_err(Into::into)
    }

    fn save(&self, name: &str, secret: &[u8]) -> Result<(), core::SecretStoreError> {
        self.0.save(name.to_owned(), secret.to_vec()).map_err(Into::into)
    }

    fn delete(&self, name: &str) -> Result<(), core::SecretStoreError> {
        self.0.delete(name.to_owned()).map_err(Into::into)
    }
}

impl From<SecretStoreError> for core::SecretStoreError {
    fn from(error: SecretStoreError) -> Self {
        match error {
            SecretStoreError::Failed { reason } => core::SecretStoreError::new(reason),
        }
    }
}
