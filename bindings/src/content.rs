//! The content cache as Kotlin and Swift see it.

use edgepoints_core as core;

use crate::number::Signed;

use crate::EdgePointsError;

/// The BLAKE3 name of `bytes`, as the cache and the control plane use it.
#[uniffi::export]
pub fn content_hash_of(bytes: Vec<u8>) -> String {
    core::ContentHash::of(&bytes).to_hex()
}

/// What the content cache holds, against its budgets.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CacheStats {
    pub items: i64,
    pub disk_bytes: i64,
    pub disk_budget_bytes: i64,
    pub memory_bytes: i64,
    pub memory_budget_bytes: i64,
}

impl From<core::CacheStats> for CacheStats {
    fn from(s: core::CacheStats) -> Self {
        CacheStats {
            items: s.items.signed(),
            disk_bytes: s.disk_bytes.signed(),
            disk_budget_bytes: s.disk_budget_bytes.signed(),
            memory_bytes: s.memory_bytes.signed(),
            memory_budget_bytes: s.memory_budget_bytes.signed(),
        }
    }
}

/// Verified content on this device.
#[derive(uniffi::Object)]
pub struct ContentCache {
    inner: core::ContentCache,
}

impl ContentCache {
    pub(crate) fn new(inner: core::ContentCache) -> Self {
        ContentCache { inner }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl ContentCache {
    /// Keeps `bytes` if they hash to `hash`; refuses them otherwise.
    pub async fn ingest(&self, hash: String, bytes: Vec<u8>) -> Result<(), EdgePointsError> {
        Ok(self
            .inner
            .ingest_bytes(crate::parse::content_hash(&hash)?, &bytes)
            .await?)
    }

    /// The bytes of a cached item (verified when they came in), or `null`.
    pub async fn read(&self, hash: String) -> Result<Option<Vec<u8>>, EdgePointsError> {
        Ok(self
            .inner
            .read(&crate::parse::content_hash(&hash)?)
            .await?
            .map(|b| b.to_vec()))
    }

    /// Whether the item is cached here.
    pub fn contains(&self, hash: String) -> Result<bool, EdgePointsError> {
        Ok(self.inner.contains(&crate::parse::content_hash(&hash)?)?)
    }

    /// Deletes every cached item; returns how many.
    pub async fn purge(&self) -> Result<i64, EdgePointsError> {
        Ok(self.inner.purge().await?.signed())
    }

    /// How full the cache is.
    pub fn stats(&self) -> Result<CacheStats, EdgePointsError> {
        Ok(self.inner.stats()?.into())
    }
}
