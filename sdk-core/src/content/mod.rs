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

mod memory;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use bytes::Bytes;
use edgepoints_protocol::ContentHash;
use rusqlite::params;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use self::memory::MemoryCache;
use crate::edgepoints::EdgePoints;
use crate::store::Store;
use crate::time::unix_millis;
use crate::{Error, StoreError};

const CONTENT_DIR: &str = "content";
const PARTIAL_DIR: &str = "partial";

/// Access times are written to SQLite at most this often per item.
const ACCESS_WRITE_INTERVAL_MS: u64 = 60_000;

/// Items up to this size are read from disk on the calling thread: from
/// the page cache that is quicker than a hand-off to the blocking pool.
const INLINE_READ_MAX: u64 = 256 * 1024;

/// The content cache's shared state.
pub(crate) struct ContentState {
    dir: PathBuf,
    disk_budget: u64,
    memory: Mutex<MemoryCache>,
    /// The SQLite index's items, by hash.
    index: RwLock<HashMap<ContentHash, IndexEntry>>,
    /// Bumped whenever an item leaves the cache, so copies held elsewhere
    /// (a connection's memo) know they may be stale.
    generation: AtomicU64,
}

struct IndexEntry {
    size: u64,
    /// The last read, which eviction orders by.
    last_access_ms: AtomicU64,
    /// When the access time was last written to SQLite (for the order
    /// after a restart).
    access_written_ms: AtomicU64,
}

impl IndexEntry {
    fn new(size: u64, last_access_ms: u64) -> Self {
        IndexEntry {
            size,
            last_access_ms: AtomicU64::new(last_access_ms),
            access_written_ms: AtomicU64::new(last_access_ms),
        }
    }
}

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

    fn index(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ContentHash, IndexEntry>> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ContentHash, IndexEntry>> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets items that left the disk (memory copies included).
    fn forget(&self, hashes: &[ContentHash]) {
        let mut index = self.index_mut();
        let mut memory = self.memory();
        for hash in hashes {
            index.remove(hash);
            memory.remove(hash);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, MemoryCache> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, hash: &ContentHash) -> PathBuf {
        self.dir.join(hash.to_hex())
    }
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
        &self.sdk.shared().content
    }

    /// Streams an item in, verifying it is `size` bytes hashing to `hash`.
    /// On any mismatch nothing is kept and [`Error::ContentRejected`] comes
    /// back. Makes room by evicting least recently used items.
    pub async fn ingest<R: AsyncRead + Unpin + Send>(
        &self,
        hash: ContentHash,
        size: u64,
        reader: R,
    ) -> Result<(), Error> {
        self.ingest_from(
            hash,
            size,
            ReaderSource {
                reader,
                buffer: vec![0u8; 256 * 1024],
            },
        )
        .await
    }

    /// [`Self::ingest`] from any source of chunks (a file, an HTTP body).
    pub(crate) async fn ingest_from(
        &self,
        hash: ContentHash,
        size: u64,
        mut source: impl ChunkSource,
    ) -> Result<(), Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        if size > self.state().disk_budget {
            return Err(Error::InvalidInput(format!(
                "item of {size} bytes exceeds the cache budget of {} bytes",
                self.state().disk_budget
            )));
        }
        if self.contains(&hash)? {
            return Ok(());
        }
        let partial = self.state().dir.join(PARTIAL_DIR).join(format!(
            "{}.{}",
            hash.to_hex(),
            crate::identity::new_idempotency_key()?
        ));
        // Removes the partial file however this ends: an error, or the
        // future dropped mid-way (a hedged fetch that lost the race).
        let partial = PartialFile(partial);
        write_verified(&partial.0, hash, size, &mut source).await?;
        self.make_room(size)?;
        let target = self.state().path(&hash);
        std::fs::rename(&partial.0, &target).map_err(StoreError::Io)?;
        let now = unix_millis() as i64;
        shared.store.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO content_items (hash, size, stored_at_ms, last_access_ms)
                 VALUES (?1, ?2, ?3, ?3)",
                params![hash.to_hex(), size as i64, now],
            )?;
            Ok(())
        })?;
        self.state().index_mut().insert(hash, IndexEntry::new(size, now as u64));
        tracing::debug!(%hash, size, "content cached");
        Ok(())
    }

    /// The hashes of every cached item.
    pub(crate) fn hashes(&self) -> Result<Vec<ContentHash>, Error> {
        Ok(self.sdk.shared().store.with(|c| {
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

    /// Evicts least recently used items until `incoming` more bytes fit.
    fn make_room(&self, incoming: u64) -> Result<(), Error> {
        let state = self.state();
        let mut by_age: Vec<(u64, ContentHash, u64)> = state
            .index()
            .iter()
            .map(|(hash, entry)| (entry.last_access_ms.load(Ordering::Relaxed), *hash, entry.size))
            .collect();
        let used: u64 = by_age.iter().map(|(_, _, size)| size).sum();
        let mut over = (used + incoming).saturating_sub(state.disk_budget);
        by_age.sort_unstable();
        let mut evicted = Vec::new();
        for (_, hash, size) in by_age {
            if over == 0 {
                break;
            }
            over = over.saturating_sub(size);
            evicted.push(hash.to_hex());
        }
        if evicted.is_empty() {
            return Ok(());
        }
        self.sdk.shared().store.with(|c| {
            let tx = c.transaction()?;
            for hash in &evicted {
                tx.execute("DELETE FROM content_items WHERE hash = ?1", [hash])?;
            }
            tx.commit()?;
            Ok(())
        })?;
        let parsed: Vec<ContentHash> = evicted.iter().filter_map(|h| ContentHash::parse(h).ok()).collect();
        state.forget(&parsed);
        for hash in evicted {
            let _ = std::fs::remove_file(state.dir.join(&hash));
            tracing::debug!(%hash, "content evicted");
        }
        Ok(())
    }

    /// Convenience for bytes already in memory.
    pub async fn ingest_bytes(&self, hash: ContentHash, bytes: &[u8]) -> Result<(), Error> {
        self.ingest(hash, bytes.len() as u64, bytes).await
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
            self.sdk.shared().store.with(|c| {
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
            .store
            .with(|c| Ok(c.execute("DELETE FROM content_items WHERE hash = ?1", [hash.to_hex()])? == 1))?;
        self.state().forget(&[*hash]);
        let _ = std::fs::remove_file(self.state().path(hash));
        Ok(removed)
    }

    /// Deletes every cached item; returns how many.
    pub fn purge(&self) -> Result<u64, Error> {
        self.sdk.shared().ensure_open()?;
        purge(self.sdk.shared()).map_err(Error::from)
    }

    pub fn stats(&self) -> Result<CacheStats, Error> {
        self.sdk.shared().ensure_open()?;
        let (items, disk_bytes): (i64, i64) = self.sdk.shared().store.with(|c| {
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

/// A partial download, deleted when dropped (a no-op once renamed).
struct PartialFile(std::path::PathBuf);

impl Drop for PartialFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where ingested bytes come from, a chunk at a time.
pub(crate) trait ChunkSource: Send {
    /// The next chunk; `None` at the end.
    fn next_chunk(&mut self) -> impl std::future::Future<Output = std::io::Result<Option<Bytes>>> + Send;
}

struct ReaderSource<R> {
    reader: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin + Send> ChunkSource for ReaderSource<R> {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        let n = self.reader.read(&mut self.buffer).await?;
        Ok((n > 0).then(|| Bytes::copy_from_slice(&self.buffer[..n])))
    }
}

impl ChunkSource for reqwest::Response {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        self.chunk().await.map_err(std::io::Error::other)
    }
}

/// A source that fails when no chunk comes for `idle`: a stalled peer is
/// given up on without a deadline for the whole item.
pub(crate) struct IdleTimeout<S> {
    pub source: S,
    pub idle: std::time::Duration,
}

impl<S: ChunkSource> ChunkSource for IdleTimeout<S> {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        tokio::time::timeout(self.idle, self.source.next_chunk())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no bytes for {:?}", self.idle)))?
    }
}

/// Writes `source` to `partial` while hashing; refuses on any mismatch.
async fn write_verified(
    partial: &Path,
    hash: ContentHash,
    size: u64,
    source: &mut impl ChunkSource,
) -> Result<(), Error> {
    let rejected = |reason: String| Error::ContentRejected {
        hash: hash.to_hex(),
        reason,
    };
    let mut file = tokio::fs::File::create(partial).await.map_err(StoreError::Io)?;
    let mut hasher = blake3::Hasher::new();
    let mut received = 0u64;
    // A source that fails is not a source that lies: that is unavailable,
    // not rejected.
    while let Some(chunk) = source.next_chunk().await.map_err(|e| Error::ContentUnavailable {
        hash: hash.to_hex(),
        reason: format!("reading failed after {received} bytes: {e}"),
    })? {
        received += chunk.len() as u64;
        if received > size {
            return Err(rejected(format!("more than the announced {size} bytes")));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(StoreError::Io)?;
    }
    if received != size {
        return Err(rejected(format!("{received} bytes instead of {size}")));
    }
    let actual = ContentHash::from_bytes(*hasher.finalize().as_bytes());
    if actual != hash {
        return Err(rejected(format!("bytes hash to {actual}")));
    }
    file.sync_all().await.map_err(StoreError::Io)?;
    Ok(())
}

/// Deletes every cached item (consent revoked with purge, or the app asked).
pub(crate) fn purge(shared: &crate::edgepoints::Shared) -> Result<u64, StoreError> {
    let hashes: Vec<String> = shared.store.with(|c| {
        let mut statement = c.prepare("SELECT hash FROM content_items")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        let hashes = rows.collect::<Result<Vec<String>, _>>()?;
        drop(statement);
        c.execute("DELETE FROM content_items", [])?;
        Ok(hashes)
    })?;
    for hash in &hashes {
        let _ = std::fs::remove_file(shared.content.dir.join(hash));
    }
    shared.content.index_mut().clear();
    shared.content.memory().clear();
    shared.content.generation.fetch_add(1, Ordering::AcqRel);
    tracing::info!(items = hashes.len(), "content cache purged");
    Ok(hashes.len() as u64)
}
