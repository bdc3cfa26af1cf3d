//! Ingest: bytes stream into a partial file while they are hashed; only a
//! whole item of the announced size and hash is renamed into place and
//! indexed, after room was made by evicting the least recently used.

use std::path::Path;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use edgepoints_protocol::ContentHash;
use rusqlite::params;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::index::IndexEntry;
use super::{ContentCache, PARTIAL_DIR};
use crate::time::unix_millis;
use crate::{Error, StoreError};

impl ContentCache {
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
        shared.store().with(|c| {
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
        self.sdk.shared().store().with(|c| {
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
