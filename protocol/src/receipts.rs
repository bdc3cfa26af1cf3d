//! Proof of delivery: what a node earns points for bytes with.
//!
//! A node's own byte counts are never credited: a device could claim any
//! number. Bytes are credited from a receipt that takes three signatures
//! to make:
//!
//! 1. the control plane's, on the access ticket it issued to this consumer
//!    for this node and item (so it routed the consumer there);
//! 2. the node's, on a [`DeliveryStatement`] it sends with the bytes when
//!    the consumer asks for one (`Edgepoints-Receipt-Nonce`), naming the
//!    consumer from the ticket, the item, the range and the consumer's
//!    nonce (so the node served those bytes, to that consumer, once);
//! 3. the consumer's, on the [`Receipt`] that carries both, made only after
//!    the bytes hashed to the item's name (so the bytes were right).
//!
//! **The consumer submits the receipt**, through its outbox. It is the one
//! party that knows the bytes were verified, at the moment it knows it, so
//! the receipt needs no extra round trip to a node that may have gone
//! away; the outbox carries it across a broken network and its
//! idempotency key makes a resend harmless. A node cannot hold back or
//! pile up receipts, and an app that drops them can only deny points,
//! never mint them. The control plane checks all three signatures, refuses
//! a receipt whose nonce it has credited before (a replay), one whose node
//! is its consumer (a self-receipt), and one for an item reported as
//! served wrong by that node; and it credits a consumer's repeated
//! deliveries of one item from one node once a day, so a colluding pair
//! cannot farm points by fetching the same item over and over.

use serde::{Deserialize, Serialize};

use crate::{ContentHash, DeviceId};

/// Request header: the consumer wants a delivery statement for this
/// response, bound to this nonce (16–64 hex digits, fresh per request).
pub const RECEIPT_NONCE_HEADER: &str = "Edgepoints-Receipt-Nonce";

/// Response header: the node's signed [`DeliveryStatement`], in the compact
/// envelope form `key_id.payload.signature`.
pub const DELIVERY_HEADER: &str = "Edgepoints-Delivery";

/// A receipt is accepted until this long after its ticket expired, and its
/// nonce is remembered for as long, so a replay is always recognised.
pub const RECEIPT_WINDOW_MS: u64 = 7 * 86_400_000;

/// What a "megabyte delivered" is in the points rules: 10⁶ bytes.
pub const BYTES_PER_MB: u64 = 1_000_000;

/// Whether `nonce` has the form a receipt nonce must have.
pub fn is_valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The node's signed word about one response: which bytes of which item
/// it is sending to which consumer, against which nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryStatement {
    pub node_id: DeviceId,
    /// The consumer the ticket names.
    pub consumer_id: DeviceId,
    pub content: ContentHash,
    /// The first byte sent and how many: the whole item unless a range was asked.
    pub offset: u64,
    pub length: u64,
    /// The item's whole size, as the node holds it.
    pub size: u64,
    pub nonce: String,
    pub served_at_ms: u64,
}

/// A consumer's signed receipt for a delivery it verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub consumer_id: DeviceId,
    pub node_id: DeviceId,
    pub content: ContentHash,
    /// Verified bytes received from the node.
    pub bytes: u64,
    pub received_at_ms: u64,
    /// The access ticket the consumer fetched with, as it travelled.
    pub ticket: String,
    /// The node's delivery statement, as it travelled (compact form).
    pub delivery: String,
}

/// The control plane's answer to an accepted receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptAccepted {
    pub node_id: DeviceId,
    /// Bytes counted toward the node's delivery points (0 for a repeat
    /// delivery of the same item to the same consumer within the day).
    pub credited_bytes: u64,
    /// Points the node was credited now (full megabytes, within its cap).
    pub credited_points: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_16_to_64_hex_digits() {
        assert!(is_valid_nonce(&"a".repeat(16)));
        assert!(is_valid_nonce(&"0F".repeat(32)));
        assert!(!is_valid_nonce(&"a".repeat(15)));
        assert!(!is_valid_nonce(&"a".repeat(65)));
        assert!(!is_valid_nonce("zzzzzzzzzzzzzzzzzzzz"));
    }
}
