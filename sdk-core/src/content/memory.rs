//! The memory tier: an LRU of whole items, bounded in bytes (not in count:
//! one 16 MiB video segment weighs as much as four thousand thumbnails).

use bytes::Bytes;
use edgepoints_protocol::ContentHash;
use lru::LruCache;

pub(crate) struct MemoryCache {
    items: LruCache<ContentHash, Bytes>,
    bytes: u64,
    budget: u64,
}

impl MemoryCache {
    pub(crate) fn new(budget: u64) -> Self {
        MemoryCache {
            items: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    pub(crate) fn get(&mut self, hash: &ContentHash) -> Option<Bytes> {
        self.items.get(hash).cloned()
    }

    /// Keeps `bytes`, evicting the least recently used items to fit; an
    /// item larger than the whole budget is not kept at all.
    pub(crate) fn insert(&mut self, hash: ContentHash, bytes: Bytes) {
        let size = bytes.len() as u64;
        if size > self.budget {
            return;
        }
        self.remove(&hash);
        while self.bytes + size > self.budget {
            match self.items.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.len() as u64,
                None => break,
            }
        }
        self.bytes += size;
        self.items.put(hash, bytes);
    }

    pub(crate) fn remove(&mut self, hash: &ContentHash) {
        if let Some(old) = self.items.pop(hash) {
            self.bytes -= old.len() as u64;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8, len: usize) -> (ContentHash, Bytes) {
        let bytes = Bytes::from(vec![n; len]);
        (ContentHash::of(&bytes), bytes)
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let mut cache = MemoryCache::new(100);
        let (a, a_bytes) = item(1, 40);
        let (b, b_bytes) = item(2, 40);
        let (c, c_bytes) = item(3, 40);
        cache.insert(a, a_bytes);
        cache.insert(b, b_bytes);
        assert!(cache.get(&a).is_some(), "a is now the most recent");
        cache.insert(c, c_bytes);
        assert!(cache.bytes() <= 100);
        assert!(cache.get(&b).is_none(), "b was least recently used");
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        let (big, big_bytes) = item(4, 101);
        cache.insert(big, big_bytes);
        assert!(cache.get(&big).is_none());
        assert_eq!(cache.bytes(), 80);
    }
}
