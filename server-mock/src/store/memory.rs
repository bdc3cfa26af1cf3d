//! The embedded default: state in this process's memory, with streams that
//! behave as Redis Streams do (see [`super::streams`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{PendingEntry, StateStore, StoreError, StreamEntry, StreamMessage, StreamReader, StreamView, Swap};

/// An entry id: milliseconds and a sequence within them, as Redis's.
type EntryId = (u64, u64);

fn format_id((millis, seq): EntryId) -> String {
    format!("{millis}-{seq}")
}

fn parse_id(text: &str) -> Option<EntryId> {
    let (millis, seq) = text.split_once('-')?;
    Some((millis.parse().ok()?, seq.parse().ok()?))
}

struct Pending {
    consumer: String,
    delivered_at: Instant,
    deliveries: u64,
}

#[derive(Default)]
struct Group {
    last_delivered: EntryId,
    pending: BTreeMap<EntryId, Pending>,
}

#[derive(Default)]
struct Stream {
    entries: BTreeMap<EntryId, Vec<u8>>,
    last_id: EntryId,
    groups: BTreeMap<String, Group>,
}

impl Stream {
    fn append(&mut self, body: Vec<u8>) {
        let millis = crate::state::unix_millis();
        let id = if millis > self.last_id.0 {
            (millis, 0)
        } else {
            (self.last_id.0, self.last_id.1 + 1)
        };
        self.last_id = id;
        self.entries.insert(id, body);
    }
}

/// The keys and their values: hashed for the lookups every request makes
/// (a tree of the hundreds of thousands of keys a load leaves, idempotency
/// records mostly, costs a dozen string comparisons and cache misses per
/// lookup), and the keys kept in order too, for prefix scans.
#[derive(Default)]
struct Entries {
    values: HashMap<String, Vec<u8>>,
    ordered: BTreeSet<String>,
}

impl Entries {
    fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.values.get(key)
    }

    fn set(&mut self, key: &str, value: Vec<u8>) {
        if let Some(held) = self.values.get_mut(key) {
            *held = value;
        } else {
            self.values.insert(key.to_owned(), value);
            self.ordered.insert(key.to_owned());
        }
    }

    fn remove(&mut self, key: &str) {
        if self.values.remove(key).is_some() {
            self.ordered.remove(key);
        }
    }

    fn scan(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.ordered
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|key| key.starts_with(prefix))
            .filter_map(|key| Some((key.clone(), self.values.get(key)?.clone())))
            .collect()
    }

    fn clear(&mut self) {
        self.values.clear();
        self.ordered.clear();
    }
}

#[derive(Default)]
struct Inner {
    entries: Entries,
    streams: BTreeMap<String, Stream>,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    /// Woken at every append, for blocked readers.
    appended: Arc<Notify>,
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

fn swap(inner: &mut Inner, key: &str, expected: Option<&[u8]>, new: Option<&[u8]>) -> bool {
    if inner.entries.get(key).map(Vec::as_slice) != expected {
        return false;
    }
    match new {
        Some(value) => inner.entries.set(key, value.to_vec()),
        None => inner.entries.remove(key),
    }
    true
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().entries.get(key).cloned())
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        Ok(swap(&mut self.lock(), key, expected, new))
    }

    async fn compare_and_swap_many(&self, swaps: &[Swap<'_>], messages: &[StreamMessage]) -> Result<bool, StoreError> {
        {
            let mut inner = self.lock();
            let holds =
                |inner: &Inner, swap: &Swap<'_>| inner.entries.get(swap.key).map(Vec::as_slice) == swap.expected;
            if !swaps.iter().all(|swap| holds(&inner, swap)) {
                return Ok(false);
            }
            for swap in swaps {
                let swapped = self::swap(&mut inner, swap.key, swap.expected, swap.new);
                debug_assert!(swapped, "the keys of one swap are distinct");
            }
            for message in messages {
                inner
                    .streams
                    .entry(message.stream.clone())
                    .or_default()
                    .append(message.body.clone());
            }
        }
        if !messages.is_empty() {
            self.appended.notify_waiters();
        }
        Ok(true)
    }

    async fn stream_reader(&self) -> Result<Box<dyn StreamReader>, StoreError> {
        Ok(Box::new(MemoryStreamReader {
            inner: self.inner.clone(),
            appended: self.appended.clone(),
        }))
    }

    async fn stream_ack(&self, stream: &str, group: &str, id: &str) -> Result<bool, StoreError> {
        let Some(id) = parse_id(id) else {
            return Ok(false);
        };
        let mut inner = self.lock();
        Ok(inner
            .streams
            .get_mut(stream)
            .and_then(|s| s.groups.get_mut(group))
            .and_then(|g| g.pending.remove(&id))
            .is_some())
    }

    async fn stream_view(&self, stream: &str, group: &str, limit: usize) -> Result<StreamView, StoreError> {
        let inner = self.lock();
        let Some(stream) = inner.streams.get(stream) else {
            return Ok(StreamView {
                length: 0,
                entries: Vec::new(),
                pending: Vec::new(),
            });
        };
        let now = Instant::now();
        Ok(StreamView {
            length: stream.entries.len() as u64,
            entries: stream
                .entries
                .iter()
                .rev()
                .take(limit)
                .map(|(id, body)| StreamEntry {
                    id: format_id(*id),
                    body: body.clone(),
                })
                .collect(),
            pending: stream
                .groups
                .get(group)
                .map(|g| {
                    g.pending
                        .iter()
                        .map(|(id, p)| PendingEntry {
                            id: format_id(*id),
                            consumer: p.consumer.clone(),
                            idle_ms: now.duration_since(p.delivered_at).as_millis() as u64,
                            deliveries: p.deliveries,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let current = match inner.entries.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StoreError::Corrupt {
                    key: key.to_owned(),
                    reason: "not an integer".into(),
                })?,
        };
        // Redis refuses an increment past i64 as well, and changes nothing.
        let sum = current.checked_add(by).ok_or_else(|| StoreError::Corrupt {
            key: key.to_owned(),
            reason: format!("{current} + {by} overflows"),
        })?;
        inner.entries.set(key, sum.to_string().into_bytes());
        Ok(sum)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self.lock().entries.scan(prefix))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.streams.clear();
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

struct MemoryStreamReader {
    inner: Arc<Mutex<Inner>>,
    appended: Arc<Notify>,
}

impl MemoryStreamReader {
    fn take_new(&self, stream: &str, group: &str, consumer: &str, count: usize) -> Vec<StreamEntry> {
        let mut inner = lock(&self.inner);
        let stream = inner.streams.entry(stream.to_owned()).or_default();
        let group = stream.groups.entry(group.to_owned()).or_default();
        let now = Instant::now();
        let mut taken = Vec::new();
        for (id, body) in stream
            .entries
            .range((Bound::Excluded(group.last_delivered), Bound::Unbounded))
            .take(count)
        {
            group.pending.insert(
                *id,
                Pending {
                    consumer: consumer.to_owned(),
                    delivered_at: now,
                    deliveries: 1,
                },
            );
            taken.push(StreamEntry {
                id: format_id(*id),
                body: body.clone(),
            });
        }
        if let Some(last) = taken.last() {
            group.last_delivered = parse_id(&last.id).expect("ids we formatted parse");
        }
        taken
    }
}

#[async_trait::async_trait]
impl StreamReader for MemoryStreamReader {
    async fn read_new(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let deadline = tokio::time::Instant::now() + block;
        loop {
            // Registered before looking, so an append in between wakes us.
            let appended = self.appended.notified();
            let taken = self.take_new(stream, group, consumer, count);
            if !taken.is_empty() {
                return Ok(taken);
            }
            if tokio::time::timeout_at(deadline, appended).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn claim_idle(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let mut inner = lock(&self.inner);
        let Some(stream) = inner.streams.get_mut(stream) else {
            return Ok(Vec::new());
        };
        let Some(group) = stream.groups.get_mut(group) else {
            return Ok(Vec::new());
        };
        let now = Instant::now();
        let mut claimed = Vec::new();
        for (id, pending) in group.pending.iter_mut() {
            if claimed.len() == count {
                break;
            }
            if now.duration_since(pending.delivered_at) < min_idle {
                continue;
            }
            pending.consumer = consumer.to_owned();
            pending.delivered_at = now;
            pending.deliveries += 1;
            if let Some(body) = stream.entries.get(id) {
                claimed.push(StreamEntry {
                    id: format_id(*id),
                    body: body.clone(),
                });
            }
        }
        Ok(claimed)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_holds_the_contract() {
        crate::testing::store_contract(std::sync::Arc::new(super::MemoryStore::default())).await;
    }
}
