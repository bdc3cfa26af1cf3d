//! The embedded default: state in this process's memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{StateStore, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut entries = self.lock();
        if entries.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match new {
            Some(value) => entries.insert(key.to_owned(), value.to_vec()),
            None => entries.remove(key),
        };
        Ok(true)
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        let mut entries = self.lock();
        let current = match entries.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StoreError::Corrupt {
                    key: key.to_owned(),
                    reason: "not an integer".into(),
                })?,
        };
        let sum = current + by;
        entries.insert(key.to_owned(), sum.to_string().into_bytes());
        Ok(sum)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.lock().clear();
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_holds_the_contract() {
        crate::testing::store_contract(std::sync::Arc::new(super::MemoryStore::default())).await;
    }
}
