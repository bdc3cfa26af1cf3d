//! Access tickets: the control plane's permission for one consumer to fetch
//! one item from one node, until a deadline. A node verifies them offline
//! with the control plane's public key, so only users the service routed
//! can fetch from a phone.
//!
//! Wire form, in the `Edgepoints-Ticket` header:
//! `key_id.payload.signature`, the payload being base64url JSON of
//! [`AccessTicket`] signed as a [`SignedEnvelope`] with purpose
//! `cp.access-ticket`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{ContentHash, DeviceId, EnvelopeError, Purpose, SignedEnvelope};

pub const TICKET_HEADER: &str = "Edgepoints-Ticket";

/// What a ticket allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessTicket {
    /// The node that may serve.
    pub node_id: DeviceId,
    /// The device the control plane routed there. The node cannot check
    /// who presents the ticket; it names this device in its delivery
    /// statement, and the control plane credits a receipt only when the
    /// consumer who signed it is the one the ticket was issued to.
    pub consumer_id: DeviceId,
    /// The item it may serve.
    pub content: ContentHash,
    /// Until when (ms since the Unix epoch).
    pub expires_at_ms: u64,
}

/// Why a ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("ticket is malformed")]
    Malformed,
    #[error("ticket is signed by key {0}, not the control plane's")]
    UnknownKey(String),
    #[error(transparent)]
    Signature(#[from] EnvelopeError),
    #[error("ticket expired")]
    Expired,
    #[error("ticket is for another node")]
    OtherNode,
    #[error("ticket is for other content")]
    OtherContent,
}

impl AccessTicket {
    /// The header value, signed by the control plane's key.
    pub fn sign(&self, key_id: &str, key: &SigningKey) -> String {
        SignedEnvelope::sign(Purpose::AccessTicket, key_id, key, self).to_compact()
    }

    /// Checks signature, key, node, content and expiry.
    pub fn verify(
        token: &str,
        key_id: &str,
        key: &VerifyingKey,
        node: &DeviceId,
        content: &ContentHash,
        now_ms: u64,
    ) -> Result<AccessTicket, TicketError> {
        let ticket = Self::verify_signature(token, key_id, key)?;
        ticket.check(node, content, now_ms)?;
        Ok(ticket)
    }

    /// Checks only the signature (for caching verified tickets).
    pub fn verify_signature(token: &str, key_id: &str, key: &VerifyingKey) -> Result<AccessTicket, TicketError> {
        let envelope =
            SignedEnvelope::from_compact(Purpose::AccessTicket, token).map_err(|_| TicketError::Malformed)?;
        if envelope.key_id != key_id {
            return Err(TicketError::UnknownKey(envelope.key_id.chars().take(40).collect()));
        }
        if URL_SAFE_NO_PAD.decode(&envelope.payload).is_err() {
            return Err(TicketError::Malformed);
        }
        Ok(envelope.open(Purpose::AccessTicket, key)?)
    }

    /// Checks node, content and expiry of an already verified ticket.
    pub fn check(&self, node: &DeviceId, content: &ContentHash, now_ms: u64) -> Result<(), TicketError> {
        if &self.node_id != node {
            return Err(TicketError::OtherNode);
        }
        if &self.content != content {
            return Err(TicketError::OtherContent);
        }
        if now_ms >= self.expires_at_ms {
            return Err(TicketError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_verify_only_for_their_node_content_and_time() {
        let cp = SigningKey::from_bytes(&[1; 32]);
        let node = DeviceId::from_public_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
        let other_node = DeviceId::from_public_key(&SigningKey::from_bytes(&[3; 32]).verifying_key());
        let content = ContentHash::of(b"item");
        let ticket = AccessTicket {
            node_id: node.clone(),
            consumer_id: other_node.clone(),
            content,
            expires_at_ms: 1_000,
        };
        let token = ticket.sign("cp_1", &cp);
        let vk = cp.verifying_key();
        assert_eq!(
            AccessTicket::verify(&token, "cp_1", &vk, &node, &content, 999).unwrap(),
            ticket
        );
        assert_eq!(
            AccessTicket::verify(&token, "cp_1", &vk, &node, &content, 1_000),
            Err(TicketError::Expired)
        );
        assert_eq!(
            AccessTicket::verify(&token, "cp_1", &vk, &other_node, &content, 0),
            Err(TicketError::OtherNode)
        );
        assert_eq!(
            AccessTicket::verify(&token, "cp_1", &vk, &node, &ContentHash::of(b"x"), 0),
            Err(TicketError::OtherContent)
        );
        let forger = SigningKey::from_bytes(&[9; 32]);
        let forged = ticket.sign("cp_1", &forger);
        assert!(AccessTicket::verify(&forged, "cp_1", &vk, &node, &content, 0).is_err());
        assert!(matches!(
            AccessTicket::verify(&token, "cp_2", &vk, &node, &content, 0),
            Err(TicketError::UnknownKey(_))
        ));
        assert_eq!(
            AccessTicket::verify("a.b", "cp_1", &vk, &node, &content, 0),
            Err(TicketError::Malformed)
        );
    }
}
