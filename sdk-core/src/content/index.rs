//! The cache's index: which verified items are on disk, their sizes and
//! when they were last read, in SQLite and mirrored in memory so serving
//! asks no SQL. Opening reconciles it with the files; other modules ask it
//! what is held rather than reading its table.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use edgepoints_protocol::ContentHash;
use rusqlite::Connection;

use super::memory::MemoryCache;
use super::{CONTENT_DIR, PARTIAL_DIR};
use crate::store::Store;
use crate::StoreError;

/// The content cache's shared state.
pub(crate) struct ContentState {
    pub(super) dir: PathBuf,
    pub(super) disk_budget: u64,
    memory: Mutex<MemoryCache>,
    /// The SQLite index's items, by hash.
    index: RwLock<HashMap<ContentHash, IndexEntry>>,
    /// Bumped whenever an item leaves the cache, so copies held elsewhere
    /// (a connection's memo) know they may be stale.
    pub(super) generation: AtomicU64,
}

pub(super) struct IndexEntry {
    pub(super) size: u64,
    /// The last read, which eviction orders by.
    pub(super) last_access_ms: AtomicU64,
    /// When the access time was last written to SQLite (for the order
    /// after a restart).
    pub(super) access_written_ms: AtomicU64,
}

impl IndexEntry {
    pub(super) fn new(size: u64, last_access_ms: u64) -> Self {
        IndexEntry {
            size,
            last_access_ms: AtomicU64::new(last_access_ms),
            access_written_ms: AtomicU64::new(last_access_ms),
        }
    }
}

impl ContentState {
    /// Opens the cache directory and reconciles it with the index.
    pub(crate) fn open(
        data_dir: &Path,
        store: &Store,
        disk_budget: u64,
        memory_budget: u64,
    ) -> Result<Self, StoreError> {
        let dir = data_dir.join(CONTENT_DIR);
        std::fs::create_dir_all(dir.join(PARTIAL_DIR))?;
        for leftover in std::fs::read_dir(dir.join(PARTIAL_DIR))? {
            std::fs::remove_file(leftover?.path())?;
        }
        let indexed: Vec<(String, u64, u64)> = store.with(|c| {
            let mut statement = c.prepare("SELECT hash, size, last_access_ms FROM content_items")?;
            let rows = statement.query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        let mut known = std::collections::HashSet::new();
        let mut index = HashMap::new();
        for (hash, size, last_access_ms) in indexed {
            let intact = std::fs::metadata(dir.join(&hash)).is_ok_and(|m| m.len() == size);
            let parsed = ContentHash::parse(&hash).ok();
            if let (true, Some(parsed)) = (intact, parsed) {
                index.insert(parsed, IndexEntry::new(size, last_access_ms));
                known.insert(hash);
            } else {
                tracing::warn!(%hash, "cached file missing or resized; dropped from the index");
                let _ = std::fs::remove_file(dir.join(&hash));
                store.with(|c| Ok(c.execute("DELETE FROM content_items WHERE hash = ?1", [&hash])?))?;
            }
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && !known.contains(&name) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(ContentState {
            dir,
            disk_budget,
            memory: Mutex::new(MemoryCache::new(memory_budget)),
            index: RwLock::new(index),
            generation: AtomicU64::new(0),
        })
    }

    pub(super) fn index(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ContentHash, IndexEntry>> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ContentHash, IndexEntry>> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets items that left the disk (memory copies included).
    pub(super) fn forget(&self, hashes: &[ContentHash]) {
        let mut index = self.index_mut();
        let mut memory = self.memory();
        for hash in hashes {
            index.remove(hash);
            memory.remove(hash);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn memory(&self) -> std::sync::MutexGuard<'_, MemoryCache> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn path(&self, hash: &ContentHash) -> PathBuf {
        self.dir.join(hash.to_hex())
    }
}

/// The `limit` most recently read items, most recent first.
pub(crate) fn most_recently_used(connection: &Connection, limit: usize) -> Result<Vec<ContentHash>, StoreError> {
    let mut statement = connection.prepare("SELECT hash FROM content_items ORDER BY last_access_ms DESC LIMIT ?1")?;
    let rows = statement.query_map([limit as i64], |r| r.get::<_, String>(0))?;
    let mut hashes = Vec::new();
    for row in rows {
        if let Ok(hash) = ContentHash::parse(&row?) {
            hashes.push(hash);
        }
    }
    Ok(hashes)
}

/// Deletes every cached item (consent revoked with purge, or the app asked).
pub(crate) fn purge(shared: &crate::shared::Shared) -> Result<u64, StoreError> {
    let hashes: Vec<String> = shared.store().with(|c| {
        let mut statement = c.prepare("SELECT hash FROM content_items")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        let hashes = rows.collect::<Result<Vec<String>, _>>()?;
        drop(statement);
        c.execute("DELETE FROM content_items", [])?;
        Ok(hashes)
    })?;
    for hash in &hashes {
        let _ = std::fs::remove_file(shared.content().dir.join(hash));
    }
    shared.content().index_mut().clear();
    shared.content().memory().clear();
    shared.content().generation.fetch_add(1, Ordering::AcqRel);
    tracing::info!(items = hashes.len(), "content cache purged");
    Ok(hashes.len() as u64)
}
