//! The SDK's one SQLite file: the device's identity (and its secrets, unless
//! the host keeps them), registration, consent, host state,
//! the outbox, the content index, the node's announcement revision and
//! monthly upload (the tables are in [`schema`]).
//!
//! One connection behind a mutex is the one writer. WAL with
//! `synchronous = FULL`: a call that returned has reached the disk, which is
//! what "never lost" needs on a phone whose battery can die at any moment.

mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

#[cfg(test)]
use schema::SCHEMA_VERSION;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "edgepoints.sqlite3";

/// The database. Cheap to clone: clones share the one connection.
#[derive(Clone)]
pub(crate) struct Store {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings its
    /// schema up to date.
    pub(crate) fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let mut connection = Connection::open(&path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        // Deleted rows are overwritten, not left in free pages: a secret
        // moved to the host's keystore (or a finished call's signed body)
        // must not stay readable in the file.
        connection.pragma_update(None, "secure_delete", true)?;
        schema::migrate(&mut connection)?;
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
            path,
        })
    }

    /// Runs `f` with the one connection. Keep it short: never hold it across
    /// an `.await` (the signature makes that impossible).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent
        // (the transaction rolls back on drop), so the poison can be cleared.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_twice_and_keeps_version() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let store = Store::open(dir.path()).unwrap();
        let version: u32 = store
            .with(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = store
            .with(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        {
            let c = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        }
        match Store::open(dir.path()) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a newer schema was accepted"),
        }
    }
}
