//! State in Redis, shared by mock instances running as separate processes
//! (as the source systems share sessions and sync status).

use std::time::Duration;

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, Script};

use super::{PendingEntry, StateStore, StoreError, StreamEntry, StreamMessage, StreamReader, StreamView, Swap};

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

/// Many swaps in one script: `ARGV[1]` is how many keys are swapped
/// (`KEYS[1..n]`, four arguments each: has-expected, expected, has-new,
/// new); if every one holds what it must, all are written and each message
/// body (the arguments after) is `XADD`ed to its stream (`KEYS[n+1..]`),
/// so all or nothing.
const COMPARE_AND_SWAP_MANY: &str = r"
local n = tonumber(ARGV[1])
for i = 1, n do
  local at = 1 + (i - 1) * 4
  local current = redis.call('GET', KEYS[i])
  if ARGV[at + 1] == '0' then
    if current then return 0 end
  else
    if current ~= ARGV[at + 2] then return 0 end
  end
end
for i = 1, n do
  local at = 1 + (i - 1) * 4
  if ARGV[at + 3] == '0' then
    redis.call('DEL', KEYS[i])
  else
    redis.call('SET', KEYS[i], ARGV[at + 4])
  end
end
for j = n + 1, #KEYS do
  redis.call('XADD', KEYS[j], '*', 'body', ARGV[1 + n * 4 + (j - n)])
end
return 1
";

/// Where streams live inside the namespace, apart from the plain keys.
const STREAM_INFIX: &str = "stream:";

pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    namespace: String,
    url: String,
    compare_and_swap: Script,
    compare_and_swap_many: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); every key is put under
    /// `namespace:` so several control planes can share one Redis.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client.clone()).await?;
        Ok(RedisStore {
            client,
            connection,
            namespace: namespace.to_owned(),
            url: url.to_owned(),
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
            compare_and_swap_many: Script::new(COMPARE_AND_SWAP_MANY),
        })
    }

    fn full(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }

    fn stream_key(&self, stream: &str) -> String {
        stream_key(&self.namespace, stream)
    }
}

fn stream_key(namespace: &str, stream: &str) -> String {
    format!("{namespace}:{STREAM_INFIX}{stream}")
}

/// A missing group or stream reads as empty, not as an error.
fn is_no_group(error: &redis::RedisError) -> bool {
    error.code() == Some("NOGROUP")
}

fn entry_body(entry: &redis::streams::StreamId) -> Vec<u8> {
    entry
        .map
        .get("body")
        .and_then(|v| redis::from_redis_value::<Vec<u8>>(v).ok())
        .unwrap_or_default()
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

    async fn compare_and_swap_many(&self, swaps: &[Swap<'_>], messages: &[StreamMessage]) -> Result<bool, StoreError> {
        let mut invocation = self.compare_and_swap_many.prepare_invoke();
        for swap in swaps {
            invocation.key(self.full(swap.key));
        }
        for message in messages {
            invocation.key(self.stream_key(&message.stream));
        }
        invocation.arg(swaps.len());
        for swap in swaps {
            invocation
                .arg(if swap.expected.is_some() { "1" } else { "0" })
                .arg(swap.expected.unwrap_or_default())
                .arg(if swap.new.is_some() { "1" } else { "0" })
                .arg(swap.new.unwrap_or_default());
        }
        for message in messages {
            invocation.arg(&message.body[..]);
        }
        let swapped: i64 = invocation.invoke_async(&mut self.connection.clone()).await?;
        Ok(swapped == 1)
    }

    async fn stream_reader(&self) -> Result<Box<dyn StreamReader>, StoreError> {
        Ok(Box::new(RedisStreamReader {
            connection: self.client.get_multiplexed_async_connection().await?,
            namespace: self.namespace.clone(),
            groups_made: Vec::new(),
        }))
    }

    async fn stream_ack(&self, stream: &str, group: &str, id: &str) -> Result<bool, StoreError> {
        let acked: i64 = self
            .connection
            .clone()
            .xack(self.stream_key(stream), group, &[id])
            .await?;
        Ok(acked == 1)
    }

    async fn stream_view(&self, stream: &str, group: &str, limit: usize) -> Result<StreamView, StoreError> {
        let key = self.stream_key(stream);
        let mut connection = self.connection.clone();
        let length: u64 = connection.xlen(&key).await?;
        let newest: redis::streams::StreamRangeReply = connection.xrevrange_count(&key, "+", "-", limit).await?;
        let pending = match connection
            .xpending_count::<_, _, _, _, _, StreamPendingCountReply>(&key, group, "-", "+", limit.max(1))
            .await
        {
            Ok(reply) => reply
                .ids
                .into_iter()
                .map(|p| PendingEntry {
                    id: p.id,
                    consumer: p.consumer,
                    idle_ms: p.last_delivered_ms as u64,
                    deliveries: p.times_delivered as u64,
                })
                .collect(),
            Err(error) if is_no_group(&error) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        Ok(StreamView {
            length,
            entries: newest
                .ids
                .iter()
                .map(|e| StreamEntry {
                    id: e.id.clone(),
                    body: entry_body(e),
                })
                .collect(),
            pending,
        })
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
        // Every key of the namespace, streams included (which MGET, and so
        // `scan`, does not return).
        let pattern = format!("{}*", glob_escape(&self.full("")));
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
        for chunk in keys.chunks(500) {
            let _: () = self.connection.clone().del(chunk).await?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{} (namespace {})", self.url, self.namespace)
    }
}

/// A reader with its own connection: `XREADGROUP … BLOCK` holds it.
struct RedisStreamReader {
    connection: MultiplexedConnection,
    namespace: String,
    /// Groups this reader made sure of, so it asks once.
    groups_made: Vec<(String, String)>,
}

impl RedisStreamReader {
    async fn ensure_group(&mut self, key: &str, group: &str) -> Result<(), StoreError> {
        if self.groups_made.iter().any(|(k, g)| k == key && g == group) {
            return Ok(());
        }
        let made: Result<(), redis::RedisError> = self.connection.xgroup_create_mkstream(key, group, "0").await;
        match made {
            Ok(()) => {}
            Err(error) if error.code() == Some("BUSYGROUP") => {}
            Err(error) => return Err(error.into()),
        }
        self.groups_made.push((key.to_owned(), group.to_owned()));
        Ok(())
    }
}

#[async_trait::async_trait]
impl StreamReader for RedisStreamReader {
    async fn read_new(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let key = stream_key(&self.namespace, stream);
        self.ensure_group(&key, group).await?;
        let options = StreamReadOptions::default()
            .group(group, consumer)
            .count(count)
            .block(block.as_millis().max(1) as usize);
        let reply: Option<StreamReadReply> = self.connection.xread_options(&[&key], &[">"], &options).await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| StreamEntry {
                body: entry_body(&e),
                id: e.id,
            })
            .collect())
    }

    async fn claim_idle(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let key = stream_key(&self.namespace, stream);
        self.ensure_group(&key, group).await?;
        let reply: StreamAutoClaimReply = self
            .connection
            .xautoclaim_options(
                &key,
                group,
                consumer,
                min_idle.as_millis() as u64,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply
            .claimed
            .into_iter()
            .map(|e| StreamEntry {
                body: entry_body(&e),
                id: e.id,
            })
            .collect())
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
