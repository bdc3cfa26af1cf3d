//! Where the control plane keeps its state: behind one small trait, so that
//! several mock instances can share it — in one process through memory, or
//! as separate processes through Redis — and both backends run the same
//! domain code.
//!
//! The trait is a key-value store with one atomic primitive,
//! compare-and-swap; every read-modify-write of the control plane goes
//! through [`update_json`], an optimistic loop over it.

mod memory;
mod redis;
mod streams;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
pub use self::streams::{PendingEntry, StreamEntry, StreamMessage, StreamReader, StreamView};

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("stored value is corrupt at `{key}`: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("too much contention on `{0}`")]
    Contention(String),
}

/// One key's part of [`StateStore::compare_and_swap_many`].
#[derive(Debug, Clone, Copy)]
pub struct Swap<'a> {
    pub key: &'a str,
    /// What the key must hold (`None`: absent).
    pub expected: Option<&'a [u8]>,
    /// What it is to hold (`None`: deleted).
    pub new: Option<&'a [u8]>,
}

/// A key-value store with compare-and-swap. Keys are namespaced by the
/// store itself, so several control planes can share one Redis.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `new` (deletes it for `None`) if, and only if, it holds
    /// `expected` (is absent for `None`). Returns whether it did.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;

    /// Adds `by` to the integer at `key` (0 when absent); returns the sum.
    async fn increment(&self, key: &str, by: i64) -> Result<i64, StoreError>;

    /// Every key under `prefix`, with its value.
    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Swaps every key of `swaps` (each from its `expected` to its `new`)
    /// if, and only if, each holds its `expected`; and if it swaps,
    /// appends `messages` to their streams in the same atomic step. Two
    /// records that must change together (a debit and the coupon it pays
    /// for) change together or not at all, and a change and the messages
    /// announcing it are never one without the other. The keys are distinct.
    async fn compare_and_swap_many(&self, swaps: &[Swap<'_>], messages: &[StreamMessage]) -> Result<bool, StoreError>;

    /// [`StateStore::compare_and_swap_many`] of one key.
    async fn compare_and_swap_publishing(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        messages: &[StreamMessage],
    ) -> Result<bool, StoreError> {
        self.compare_and_swap_many(&[Swap { key, expected, new }], messages)
            .await
    }

    /// A reader of streams for one consumer. It has a connection of its
    /// own, since a blocking read holds its connection while it waits.
    async fn stream_reader(&self) -> Result<Box<dyn StreamReader>, StoreError>;

    /// Acknowledges entry `id` of `stream` for `group`: it is done and is
    /// not delivered again. True if it was pending.
    async fn stream_ack(&self, stream: &str, group: &str, id: &str) -> Result<bool, StoreError>;

    /// A stream as QA sees it: its length, its newest `limit` entries, and
    /// the entries `group` has been given and not acknowledged.
    async fn stream_view(&self, stream: &str, group: &str, limit: usize) -> Result<StreamView, StoreError>;

    /// Deletes every key and stream of this store's namespace.
    async fn clear(&self) -> Result<(), StoreError>;

    /// A name for logs: `memory` or the Redis URL.
    fn describe(&self) -> String;
}

pub async fn get_json<T: DeserializeOwned>(store: &dyn StateStore, key: &str) -> Result<Option<T>, StoreError> {
    store.get(key).await?.map(|bytes| decode(key, &bytes)).transpose()
}

/// Sets `key` to `value`, whatever it held (a compare-and-swap loop, so a
/// concurrent writer is never half-overwritten).
pub async fn put_json<T: Serialize + DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let encoded = serde_json::to_vec(value).expect("state values serialise");
    loop {
        let current = store.get(key).await?;
        if store.compare_and_swap(key, current.as_deref(), Some(&encoded)).await? {
            return Ok(());
        }
    }
}

/// Removes `key`, whatever it held; true if it held something.
pub async fn delete(store: &dyn StateStore, key: &str) -> Result<bool, StoreError> {
    loop {
        let Some(current) = store.get(key).await? else {
            return Ok(false);
        };
        if store.compare_and_swap(key, Some(&current), None).await? {
            return Ok(true);
        }
    }
}

/// Every value under `prefix`, decoded.
pub async fn scan_json<T: DeserializeOwned>(store: &dyn StateStore, prefix: &str) -> Result<Vec<T>, StoreError> {
    store
        .scan(prefix)
        .await?
        .into_iter()
        .map(|(key, bytes)| decode(&key, &bytes))
        .collect()
}

pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Like [`update_json`], and `change` also names the messages to publish
/// with the change (see [`StateStore::compare_and_swap_publishing`]):
/// published only if the change is written, once.
pub async fn update_json_publishing<T, R, E>(
    store: &dyn StateStore,
    key: &str,
    mut change: impl FnMut(Option<T>) -> Result<(Option<T>, R, Vec<StreamMessage>), E>,
) -> Result<Result<R, E>, StoreError>
where
    T: Serialize + DeserializeOwned,
{
    for _ in 0..1000 {
        let current = store.get(key).await?;
        let value = current.as_deref().map(|bytes| decode(key, bytes)).transpose()?;
        let (next, outcome, messages) = match change(value) {
            Ok(decided) => decided,
            Err(refused) => return Ok(Err(refused)),
        };
        let next = next.map(|v| serde_json::to_vec(&v).expect("state serialises"));
        if next == current && messages.is_empty() {
            return Ok(Ok(outcome));
        }
        if store
            .compare_and_swap_publishing(key, current.as_deref(), next.as_deref(), &messages)
            .await?
        {
            return Ok(Ok(outcome));
        }
        tokio::task::yield_now().await;
    }
    Err(StoreError::Contention(key.to_owned()))
}

/// Reads `key`, lets `change` decide the new value (or `None` to delete,
/// or the same value to leave it), and writes it if nobody wrote in between;
/// otherwise reads again. `change` may run several times: no side effects.
pub async fn update_json<T, R, E>(
    store: &dyn StateStore,
    key: &str,
    mut change: impl FnMut(Option<T>) -> Result<(Option<T>, R), E>,
) -> Result<Result<R, E>, StoreError>
where
    T: Serialize + DeserializeOwned,
{
    for _ in 0..1000 {
        let current = store.get(key).await?;
        let value = current.as_deref().map(|bytes| decode(key, bytes)).transpose()?;
        let (next, outcome) = match change(value) {
            Ok(decided) => decided,
            Err(refused) => return Ok(Err(refused)),
        };
        let next = next.map(|v| serde_json::to_vec(&v).expect("state serialises"));
        if next == current {
            return Ok(Ok(outcome));
        }
        if store.compare_and_swap(key, current.as_deref(), next.as_deref()).await? {
            return Ok(Ok(outcome));
        }
        tokio::task::yield_now().await;
    }
    Err(StoreError::Contention(key.to_owned()))
}

/// Like [`update_json`] over two records at once: `change` sees both and
/// decides both, and they are written in one atomic swap (or neither is).
pub async fn update_json_pair<A, B, R, E>(
    store: &dyn StateStore,
    (key_a, key_b): (&str, &str),
    mut change: impl FnMut(Option<A>, Option<B>) -> Result<(Option<A>, Option<B>, R), E>,
) -> Result<Result<R, E>, StoreError>
where
    A: Serialize + DeserializeOwned,
    B: Serialize + DeserializeOwned,
{
    assert_ne!(key_a, key_b, "a pair is two records");
    for _ in 0..1000 {
        let (current_a, current_b) = (store.get(key_a).await?, store.get(key_b).await?);
        let a = current_a.as_deref().map(|bytes| decode(key_a, bytes)).transpose()?;
        let b = current_b.as_deref().map(|bytes| decode(key_b, bytes)).transpose()?;
        let (next_a, next_b, outcome) = match change(a, b) {
            Ok(decided) => decided,
            Err(refused) => return Ok(Err(refused)),
        };
        let next_a = next_a.map(|v| serde_json::to_vec(&v).expect("state serialises"));
        let next_b = next_b.map(|v| serde_json::to_vec(&v).expect("state serialises"));
        if next_a == current_a && next_b == current_b {
            return Ok(Ok(outcome));
        }
        let swaps = [
            Swap {
                key: key_a,
                expected: current_a.as_deref(),
                new: next_a.as_deref(),
            },
            Swap {
                key: key_b,
                expected: current_b.as_deref(),
                new: next_b.as_deref(),
            },
        ];
        if store.compare_and_swap_many(&swaps, &[]).await? {
            return Ok(Ok(outcome));
        }
        tokio::task::yield_now().await;
    }
    Err(StoreError::Contention(format!("{key_a} and {key_b}")))
}
