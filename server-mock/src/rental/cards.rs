//! Member cards: one bound card per member, kept as its hash (see
//! [`edgepoints_protocol::rental::card`]); the next credential carries it.

use edgepoints_protocol::rental::card::{card_hash, card_hint, CardNumberError};
use edgepoints_protocol::rental::MemberCardBound;
use serde::{Deserialize, Serialize};

use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardRecord {
    pub card_hash: String,
    pub card_hint: String,
    pub bound_at_ms: u64,
}

fn card_key(member_id: &str) -> String {
    format!("{}{member_id}", keys::MEMBER_CARD_PREFIX)
}

/// Binds `card_number` to `member_id`, replacing the card bound before.
pub async fn bind(
    control_plane: &ControlPlane,
    member_id: &str,
    card_number: &str,
) -> Result<Result<MemberCardBound, CardNumberError>, StoreError> {
    let (hash, hint) = match (card_hash(member_id, card_number), card_hint(card_number)) {
        (Ok(hash), Ok(hint)) => (hash, hint),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let record = CardRecord {
        card_hash: hash,
        card_hint: hint,
        bound_at_ms: now(control_plane).await?,
    };
    put_json(control_plane.store(), &card_key(member_id), &record).await?;
    Ok(Ok(MemberCardBound {
        member_id: member_id.to_owned(),
        card_hint: record.card_hint,
        bound_at_ms: record.bound_at_ms,
    }))
}

pub async fn bound(control_plane: &ControlPlane, member_id: &str) -> Result<Option<CardRecord>, StoreError> {
    get_json(control_plane.store(), &card_key(member_id)).await
}
