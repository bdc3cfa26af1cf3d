//! Where the device's secrets live: the device key (the device's identity —
//! its points, coupons and rentals are bound to it) and the member session
//! key.
//!
//! The host may keep them in the platform's keystore through a
//! [`SecretStore`] (Android: an AES key held by the Android Keystore wrapping
//! each secret; iOS: the Keychain). Without one they stay in the SDK's own
//! database, as on desktops and in tests ([`DatabaseSecrets`]). A device that
//! kept its secrets in the database and is then given a host store moves
//! them there at open: written, read back and compared, and only then
//! erased from the database.
//!
//! A store that fails is [`Error::SecretStore`]; one that lost a secret the
//! database says exists is [`Error::SecretLost`]. Neither is ever answered
//! with a new device key: that would silently orphan the device's points
//! and coupons. Secrets are read from the host store once per instance and
//! then kept in memory (the device key as the signing key itself).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension;

use crate::store::Store;
use crate::{Error, StoreError};

/// The device key's name in the store.
pub const DEVICE_KEY: &str = "device-key";
/// The member session key's name in the store.
pub const MEMBER_SESSION: &str = "member-session";

/// A host's keystore for the SDK's secrets. Implemented by the app
/// (through the bindings) or by [`DatabaseSecrets`]. Calls are short and
/// rare (once per secret per instance, and at login and logout); they may
/// block briefly.
pub trait SecretStore: Send + Sync {
    /// The secret named `name`, or `None` if the store has none.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, SecretStoreError>;
    /// Keeps `secret` under `name`, replacing any.
    fn save(&self, name: &str, secret: &[u8]) -> Result<(), SecretStoreError>;
    /// Forgets the secret named `name`; forgetting a missing one is fine.
    fn delete(&self, name: &str) -> Result<(), SecretStoreError>;
}

/// A host secret store failed; `reason` is its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SecretStoreError {
    pub reason: String,
}

impl SecretStoreError {
    pub fn new(reason: impl Into<String>) -> Self {
        SecretStoreError { reason: reason.into() }
    }
}

/// The default store: a table in the SDK's own database.
pub(crate) struct DatabaseSecrets {
    store: Store,
}

impl DatabaseSecrets {
    pub(crate) fn new(store: Store) -> Self {
        DatabaseSecrets { store }
    }

    /// Deletes a secret so that no copy stays in the database's files: the
    /// row is overwritten (`secure_delete`) and the write-ahead log, which
    /// may hold earlier copies of its page, is checkpointed and emptied.
    fn erase(&self, name: &str) -> Result<(), StoreError> {
        self.store.with(|c| {
            c.execute("DELETE FROM secrets WHERE name = ?1", [name])?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Every secret it holds, by name.
    fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.store.with(|c| {
            let mut statement = c.prepare("SELECT name, secret FROM secrets ORDER BY name")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

impl SecretStore for DatabaseSecrets {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
        self.store
            .with(|c| {
                Ok(
                    c.query_row("SELECT secret FROM secrets WHERE name = ?1", [name], |r| r.get(0))
                        .optional()?,
                )
            })
            .map_err(|e| SecretStoreError::new(e.to_string()))
    }

    fn save(&self, name: &str, secret: &[u8]) -> Result<(), SecretStoreError> {
        self.store
            .with(|c| {
                c.execute(
                    "INSERT INTO secrets (name, secret) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET secret = ?2",
                    rusqlite::params![name, secret],
                )?;
                Ok(())
            })
            .map_err(|e| SecretStoreError::new(e.to_string()))
    }

    fn delete(&self, name: &str) -> Result<(), SecretStoreError> {
        self.store
            .with(|c| {
                c.execute("DELETE FROM secrets WHERE name = ?1", [name])?;
                Ok(())
            })
            .map_err(|e| SecretStoreError::new(e.to_string()))
    }
}

/// The instance's secrets: the store, guarded against a host store that
/// throws or panics, with what was read kept in memory.
pub(crate) struct Secrets {
    store: Arc<dyn SecretStore>,
    /// Whether `store` is the host's (errors then name the host's store).
    hosted: bool,
    known: Mutex<HashMap<String, Option<Vec<u8>>>>,
}

impl Secrets {
    /// The secrets of the instance on `store`: in the host's `hosted` store
    /// if there is one (after moving any the database still holds), else in
    /// the database.
    pub(crate) fn open(store: &Store, hosted: Option<Arc<dyn SecretStore>>) -> Result<Secrets, Error> {
        let database = DatabaseSecrets::new(store.clone());
        let Some(host) = hosted else {
            return Ok(Secrets::over(Arc::new(database), false));
        };
        let secrets = Secrets::over(host, true);
        for (name, secret) in database.all()? {
            secrets.move_in(&name, &secret)?;
            database.erase(&name)?;
            tracing::info!(name, "secret moved from the database to the host's secret store");
        }
        Ok(secrets)
    }

    fn over(store: Arc<dyn SecretStore>, hosted: bool) -> Secrets {
        Secrets {
            store,
            hosted,
            known: Mutex::default(),
        }
    }

    /// Puts a secret from the database into the host's store, unless the
    /// store holds it already; a different one there is refused.
    fn move_in(&self, name: &str, secret: &[u8]) -> Result<(), Error> {
        match self.load(name)? {
            Some(held) if held == secret => Ok(()),
            Some(_) => Err(self.failed(format!(
                "it holds another {name} than this device's database; refusing to replace either"
            ))),
            None => self.save(name, secret),
        }
    }

    /// The secret named `name`, if the store has it.
    pub(crate) fn load(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        if let Some(known) = self.known().get(name) {
            return Ok(known.clone());
        }
        let loaded = self.call(|store| store.load(name))?;
        self.known().insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// Keeps `secret` under `name`, and reads it back: a store that does not
    /// return what it was given would lose the device's identity later.
    pub(crate) fn save(&self, name: &str, secret: &[u8]) -> Result<(), Error> {
        self.known().remove(name);
        self.call(|store| store.save(name, secret))?;
        match self.call(|store| store.load(name))? {
            Some(read) if read == secret => {
                self.known().insert(name.to_owned(), Some(read));
                Ok(())
            }
            _ => Err(self.failed(format!("{name} did not read back as it was saved"))),
        }
    }

    /// Forgets the secret named `name`.
    pub(crate) fn delete(&self, name: &str) -> Result<(), Error> {
        self.known().remove(name);
        self.call(|store| store.delete(name))?;
        self.known().insert(name.to_owned(), None);
        Ok(())
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Vec<u8>>>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One call into the store; a panic (a Rust host's bug) is a failure too.
    fn call<T>(&self, call: impl FnOnce(&dyn SecretStore) -> Result<T, SecretStoreError>) -> Result<T, Error> {
        match catch_unwind(AssertUnwindSafe(|| call(self.store.as_ref()))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.failed(error.reason)),
            Err(_) => Err(self.failed("it panicked".into())),
        }
    }

    fn failed(&self, reason: String) -> Error {
        let store = if self.hosted {
            "the host's secret store"
        } else {
            "the database's secret table"
        };
        Error::SecretStore(format!("{store}: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct MemoryStore(Mutex<HashMap<String, Vec<u8>>>);

    impl SecretStore for MemoryStore {
        fn load(&self, name: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
            Ok(self.0.lock().unwrap().get(name).cloned())
        }
        fn save(&self, name: &str, secret: &[u8]) -> Result<(), SecretStoreError> {
            self.0.lock().unwrap().insert(name.to_owned(), secret.to_vec());
            Ok(())
        }
        fn delete(&self, name: &str) -> Result<(), SecretStoreError> {
            self.0.lock().unwrap().remove(name);
            Ok(())
        }
    }

    /// Keeps nothing it is given.
    struct ForgetfulStore;

    impl SecretStore for ForgetfulStore {
        fn load(&self, _: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
            Ok(None)
        }
        fn save(&self, _: &str, _: &[u8]) -> Result<(), SecretStoreError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), SecretStoreError> {
            Ok(())
        }
    }

    struct PanickingStore;

    impl SecretStore for PanickingStore {
        fn load(&self, _: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
            panic!("keystore exploded")
        }
        fn save(&self, _: &str, _: &[u8]) -> Result<(), SecretStoreError> {
            panic!("keystore exploded")
        }
        fn delete(&self, _: &str) -> Result<(), SecretStoreError> {
            panic!("keystore exploded")
        }
    }

    #[test]
    fn secrets_in_the_database_move_to_a_host_store_and_leave_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let database = Secrets::open(&store, None).unwrap();
        database.save(DEVICE_KEY, &[7; 32]).unwrap();
        let host = Arc::new(MemoryStore::default());
        let secrets = Secrets::open(&store, Some(host.clone())).unwrap();
        assert_eq!(secrets.load(DEVICE_KEY).unwrap(), Some(vec![7; 32]));
        assert_eq!(host.load(DEVICE_KEY).unwrap(), Some(vec![7; 32]));
        assert!(DatabaseSecrets::new(store.clone()).all().unwrap().is_empty());
    }

    #[test]
    fn a_host_store_holding_another_secret_is_refused_and_nothing_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        Secrets::open(&store, None).unwrap().save(DEVICE_KEY, &[7; 32]).unwrap();
        let host = Arc::new(MemoryStore::default());
        host.save(DEVICE_KEY, &[8; 32]).unwrap();
        assert!(matches!(
            Secrets::open(&store, Some(host.clone())),
            Err(Error::SecretStore(_))
        ));
        assert_eq!(host.load(DEVICE_KEY).unwrap(), Some(vec![8; 32]));
        assert_eq!(
            DatabaseSecrets::new(store).all().unwrap().len(),
            1,
            "still in the database"
        );
    }

    #[test]
    fn a_store_that_does_not_keep_what_it_was_given_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secrets = Secrets::open(&store, Some(Arc::new(ForgetfulStore))).unwrap();
        let error = secrets.save(DEVICE_KEY, &[1; 32]).unwrap_err();
        assert!(error.to_string().contains("did not read back"), "{error}");
    }

    #[test]
    fn a_panicking_store_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secrets = Secrets::open(&store, Some(Arc::new(PanickingStore))).unwrap();
        let error = secrets.load(DEVICE_KEY).unwrap_err();
        assert!(
            matches!(&error, Error::SecretStore(reason) if reason.contains("panicked")),
            "{error}"
        );
    }
}
