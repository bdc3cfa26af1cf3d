//! Content addressing: an item is named by the BLAKE3 hash of its bytes.
//!
//! Large items are also cut into chunks of [`CHUNK_SIZE`] bytes, each with
//! its own BLAKE3 hash, listed in the signed manifest. A byte range is then
//! verified by hashing only the chunks that cover it, without the whole
//! item. Chunk lists were chosen over a bao outboard: they are a plain list
//! in a signed document, cost 32 bytes per MiB, and need no extra crate on
//! the phone; the price is verifying up to two partial chunks more than the
//! range asked for.

use serde::{Deserialize, Serialize};

/// Size of a verification chunk (the last one may be shorter).
pub const CHUNK_SIZE: u64 = 1024 * 1024;

/// The BLAKE3 hash of an item's bytes, as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
pub struct ContentHash([u8; 32]);

/// Why a string is not a content hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a content hash (expected 64 lowercase hex digits)")]
pub struct ContentHashError(pub String);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the hex form; only lowercase is accepted, so one item has one name.
    pub fn parse(text: &str) -> Result<Self, ContentHashError> {
        let lowercase_hex = text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let mut bytes = [0u8; 32];
        if text.len() != 64 || !lowercase_hex || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(ContentHashError(text.chars().take(80).collect()));
        }
        Ok(ContentHash(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for ContentHash {
    type Error = ContentHashError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ContentHash::parse(&value)
    }
}

impl From<ContentHash> for String {
    fn from(hash: ContentHash) -> String {
        hash.to_hex()
    }
}

/// The chunk hashes of `bytes` (one per [`CHUNK_SIZE`] bytes).
pub fn chunk_hashes(bytes: &[u8]) -> Vec<ContentHash> {
    bytes.chunks(CHUNK_SIZE as usize).map(ContentHash::of).collect()
}

/// The chunks (first, last, inclusive) that cover bytes `start..=end`.
pub fn chunks_covering(start: u64, end: u64) -> (u64, u64) {
    (start / CHUNK_SIZE, end / CHUNK_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_refusals() {
        let hash = ContentHash::of(b"hello");
        assert_eq!(ContentHash::parse(&hash.to_hex()).unwrap(), hash);
        assert!(ContentHash::parse(&hash.to_hex().to_uppercase()).is_err());
        assert!(ContentHash::parse("../../etc/passwd").is_err());
        assert!(ContentHash::parse(&"a".repeat(63)).is_err());
    }

    #[test]
    fn chunks() {
        let bytes = vec![7u8; (CHUNK_SIZE * 2 + 10) as usize];
        let hashes = chunk_hashes(&bytes);
        assert_eq!(hashes.len(), 3);
        assert_eq!(hashes[2], ContentHash::of(&[7u8; 10]));
        assert_eq!(chunks_covering(0, 0), (0, 0));
        assert_eq!(chunks_covering(CHUNK_SIZE - 1, CHUNK_SIZE), (0, 1));
    }
}
