//! The content cache: items named by the BLAKE3 hash of their bytes, kept
//! only if the hash was verified while they came in.
//!
//! Two tiers, each bounded in bytes at all times:
//! - disk: one file per item under `content/` in the data directory, named
//!   by its hash, indexed in SQLite; least recently used items go first;
//! - memory ([`memory`]): an LRU of whole items for serving.
//!
//! Ingest streams into a temporary file while hashing; a size or hash
//! mismatch deletes the partial file and keeps nothing. A finished file is
//! synced, then renamed into place, then indexed.
//!
//! On restart the cache is **trusted by a recorded check**, not re-hashed:
//! every item was verified when it came in, its file lives in the app's
//! private storage, and opening compares each indexed file's size with the
//! recorded one. A missing or resized file is dropped from the index; files
//! the index does not know (a crash between rename and index) and leftover
//! partial files are deleted. Consumers verify what they receive anyway.
//!
//! The SQLite index is mirrored in memory, so serving asks no SQL: the
//! access time an eviction orders by is written at most once a minute per
//! item, not per read.

mod index;
mod ingest;
mod memory;

pub(crate) use index::{most_recently_used, purge, ContentState};
pub(crate) use ingest::IdleTimeout;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use edgepoints_protocol::ContentHash;
use rusqlite::params;

use crate::edgepoints::EdgePoints;
use crate::time::unix_millis;
use crate::{Error, StoreError};

pub(super) const CONTENT_DIR: &str = "content";
pub(super) const PARTIAL_DIR: &str = "partial";

/// Access times are written to SQLite at most this often per item.
const ACCESS_WRITE_INTERVAL_MS: u64 = 60_000;

/// Items up to this size are read from disk on the calling thread: from
/// the page cache that is quicker than a hand-off to the blocking pool.
const INLINE_READ_MAX: u64 = 256 * 1024;

/// A cached item as the node serves it.
pub(crate) enum Stored {
    Memory(Bytes),
    /// The open file (which stays readable even if the item is evicted
    /// meanwhile) and its size.
    File {
        file: std::fs::File,
        size: u64,
    },
}

/// What the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub items: u64,
    pub disk_bytes: u64,
    pub disk_budget_bytes: u64,
    pub memory_bytes: u64,
    pub memory_budget_bytes: u64,
}

/// Verified content on this device. Obtained from [`EdgePoints::content`].
#[derive(Clone)]
pub struct ContentCache {
    sdk: EdgePoints,
}

impl ContentCache {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        ContentCache { sdk }
    }

    fn state(&self) -> &ContentState {
        self.sdk.shared().content()
    }

    /// The hashes of every cached item.
    pub(crate) fn hashes(&self) -> Result<Vec<ContentHash>, Error> {
        Ok(self.sdk.shared().store().with(|c| {
            let mut statement = c.prepare("SELECT hash FROM content_items")?;
            let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
            let mut hashes = Vec::new();
            for row in rows {
                if let Ok(hash) = ContentHash::parse(&row?) {
                    hashes.push(hash);
                }
            }
            Ok(hashes)
        })?)
    }

    pub fn contains(&self, hash: &ContentHash) -> Result<bool, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(self.state().index().contains_key(hash))
    }

    /// Whether the SDK is still open (reads after shutdown fail).
    pub(crate) fn is_open(&self) -> bool {
        self.sdk.shared().ensure_open().is_ok()
    }

    /// Changes whenever an item leaves the cache.
    pub(crate) fn generation(&self) -> u64 {
        self.state().generation.load(Ordering::Acquire)
    }

    /// The item's bytes, from memory or else from disk (which then puts it
    /// in memory); `None` if it is not cached.
    pub async fn read(&self, hash: &ContentHash) -> Result<Option<Bytes>, Error> {
        self.sdk.shared().ensure_open()?;
        if let Some(bytes) = self.state().memory().get(hash) {
            self.note_access(hash)?;
            return Ok(Some(bytes));
        }
        let Some(size) = self.state().index().get(hash).map(|e| e.size) else {
            return Ok(None);
        };
        let path = self.state().path(hash);
        let read = if size <= INLINE_READ_MAX {
            std::fs::read(&path)
        } else {
            tokio::fs::read(&path).await
        };
        let bytes = match read {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io(e).into()),
        };
        self.note_access(hash)?;
        self.state().memory().insert(*hash, bytes.clone());
        Ok(Some(bytes))
    }

    /// The item for serving: its bytes when they are (or now go) in memory,
    /// else its open file, to be streamed a chunk at a time. Items that
    /// would take more than half the memory budget are streamed, so one
    /// large item cannot flush the memory tier nor be held whole per
    /// connection.
    pub(crate) async fn open_for_serving(&self, hash: &ContentHash) -> Result<Option<Stored>, Error> {
        self.sdk.shared().ensure_open()?;
        if let Some(bytes) = self.state().memory().get(hash) {
            self.note_access(hash)?;
            return Ok(Some(Stored::Memory(bytes)));
        }
        let Some(size) = self.state().index().get(hash).map(|e| e.size) else {
            return Ok(None);
        };
        if size <= INLINE_READ_MAX || size <= self.state().memory().budget() / 2 {
            return Ok(self.read(hash).await?.map(Stored::Memory));
        }
        let path = self.state().path(hash);
        let file = match tokio::task::spawn_blocking(move || std::fs::File::open(path)).await {
            Ok(Ok(file)) => file,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Ok(Err(e)) => return Err(StoreError::Io(e).into()),
            Err(join) => return Err(StoreError::Io(std::io::Error::other(join)).into()),
        };
        self.note_access(hash)?;
        Ok(Some(Stored::File { file, size }))
    }

    /// Records a read for eviction order; written to SQLite at most once a
    /// minute per item, so reads stay free of writes.
    fn note_access(&self, hash: &ContentHash) -> Result<(), Error> {
        let now = unix_millis();
        let due = self.state().index().get(hash).is_some_and(|entry| {
            entry.last_access_ms.store(now, Ordering::Relaxed);
            let written = entry.access_written_ms.load(Ordering::Relaxed);
            now.saturating_sub(written) >= ACCESS_WRITE_INTERVAL_MS
                && entry
                    .access_written_ms
                    .compare_exchange(written, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
        });
        if due {
            self.sdk.shared().store().with(|c| {
                c.execute(
                    "UPDATE content_items SET last_access_ms = ?2 WHERE hash = ?1",
                    params![hash.to_hex(), now as i64],
                )?;
                Ok(())
            })?;
        }
        Ok(())
    }

    pub fn remove(&self, hash: &ContentHash) -> Result<bool, Error> {
        self.sdk.shared().ensure_open()?;
        let removed = self
            .sdk
            .shared()
            .store()
            .with(|c| Ok(c.execute("DELETE FROM content_items WHERE hash = ?1", [hash.to_hex()])? == 1))?;
        self.state().forget(&[*hash]);
        let _ = std::fs::remove_file(self.state().path(hash));
        Ok(removed)
    }

    /// Deletes every cached item; returns how many. The files go on the
    /// runtime's blocking pool: a large cache takes a while to delete.
    pub async fn purge(&self) -> Result<u64, Error> {
        self.sdk.shared().ensure_open()?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                tokio::task::spawn_blocking(move || purge(sdk.shared()).map_err(Error::from))
                    .await
                    .map_err(|e| Error::Internal(format!("purging the cache ended abnormally: {e}")))?
            })
            .await
    }

    pub fn stats(&self) -> Result<CacheStats, Error> {
        self.sdk.shared().ensure_open()?;
        let (items, disk_bytes): (i64, i64) = self.sdk.shared().store().with(|c| {
            Ok(
                c.query_row("SELECT count(*), coalesce(sum(size), 0) FROM content_items", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?,
            )
        })?;
        let memory = self.state().memory();
        Ok(CacheStats {
            items: items as u64,
            disk_bytes: disk_bytes as u64,
            disk_budget_bytes: self.state().disk_budget,
            memory_bytes: memory.bytes(),
            memory_budget_bytes: memory.budget(),
        })
    }
}
