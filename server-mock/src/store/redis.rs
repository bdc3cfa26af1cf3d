//! State in Redis, shared by mock instances running as separate processes
//! (as the source systems share sessions and sync status).

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{StateStore, StoreError};

/// Compare-and-swap in one atomic step: Lua scripts run alone in Redis, and
/// unlike WATCH they work on a multiplexed connection.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
else
  if current ~= ARGV[2] then return 0 end
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[4])
end
return 1
";

pub struct RedisStore {
    connection: ConnectionManager,
    namespace: String,
    url: String,
    compare_and_swap: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); every key is put under
    /// `namespace:` so several control planes can share one Redis.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client).await?;
        Ok(RedisStore {
            connection,
            namespace: namespace.to_owned(),
            url: url.to_owned(),
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
        })
    }

    fn full(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }
}

/// Escapes glob characters for SCAN MATCH.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait::async_trait]
impl StateStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.connection.clone().get(self.full(key)).await?)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let swapped: i64 = self
            .compare_and_swap
            .key(self.full(key))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(if new.is_some() { "1" } else { "0" })
            .arg(new.unwrap_or_default())
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(swapped == 1)
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        Ok(self.connection.clone().incr(self.full(key), by).await?)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let pattern = format!("{}*", glob_escape(&self.full(prefix)));
        let mut connection = self.connection.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let mut entries = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(chunk).query_async(&mut connection).await?;
            let strip = self.namespace.len() + 1;
            for (key, value) in chunk.iter().zip(values) {
                if let Some(value) = value {
                    entries.push((key[strip..].to_owned(), value));
                }
            }
        }
        Ok(entries)
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let keys: Vec<String> = self.scan("").await?.into_iter().map(|(k, _)| self.full(&k)).collect();
        for chunk in keys.chunks(500) {
            let _: () = self.connection.clone().del(chunk).await?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{} (namespace {})", self.url, self.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_store_holds_the_contract() {
        let redis = crate::testing::RedisServer::start().expect("redis-server for the Redis backend tests");
        let store = RedisStore::connect(&redis.url(), "contract").await.unwrap();
        crate::testing::store_contract(std::sync::Arc::new(store)).await;
    }

    #[tokio::test]
    async fn namespaces_do_not_see_each_other() {
        let redis = crate::testing::RedisServer::start().expect("redis-server for the Redis backend tests");
        let a = RedisStore::connect(&redis.url(), "a").await.unwrap();
        let b = RedisStore::connect(&redis.url(), "b").await.unwrap();
        a.compare_and_swap("k", None, Some(b"1")).await.unwrap();
        assert_eq!(b.get("k").await.unwrap(), None);
        b.clear().await.unwrap();
        assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"1"[..]));
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
