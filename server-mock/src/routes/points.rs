//! Heartbeats, points and the ledger; the clock and the rules for QA.

use std::sync::Arc;

use super::extract::Json;
use super::extract::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::receipts::RECEIPT_WINDOW_MS;
use edgepoints_protocol::{
    paths, AccessTicket, DeliveryStatement, Heartbeat, HeartbeatAccepted, LedgerPage, PointsBalance, PointsRules,
    ProblemCode, Purpose, Receipt, ReceiptAccepted, SignedEnvelope,
};
use serde::{Deserialize, Serialize};

use super::auth::DeviceSigned;
use super::devices::{parse_device_id, signed_read, unknown_device};
use super::parse_json;
use crate::points::{self, CheckedReceipt, HeartbeatRefused, NodeStanding, ReceiptRefused};
use crate::problem::ApiError;
use crate::state::{keys, unix_millis, NodeRecord};
use crate::store::update_json;
use crate::ControlPlane;

/// Ledger entries per page.
const LEDGER_PAGE: usize = 50;

/// `POST /v1/devices/{device_id}/heartbeats`.
#[utoipa::path(
    post,
    path = templates::DEVICE_HEARTBEATS,
    tag = "points",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<Heartbeat>, description = "Signed by the device of the path"),
    responses((status = 200, body = HeartbeatAccepted), crate::openapi::Problems),
)]
pub(super) async fn heartbeat(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned {
        device_id,
        payload: heartbeat,
        device,
    }: DeviceSigned<Heartbeat>,
) -> Result<Json<HeartbeatAccepted>, ApiError> {
    let consenting = device.consents();
    let node = control_plane.node(&device_id).await?;
    let reachable = node.as_ref().is_some_and(|n| n.routable_url().is_some());
    let member = crate::members::logged_in_member(&control_plane, &device_id).await?;
    let standing = NodeStanding {
        consenting,
        reachable,
        member,
    };
    match points::accept_heartbeat(&control_plane, &heartbeat, standing).await? {
        Ok(accepted) => {
            control_plane.count(&keys::applied("heartbeats")).await?;
            crate::metrics::heartbeat(true);
            update_load(&control_plane, &heartbeat, node.as_ref(), accepted.next_interval_ms).await?;
            if accepted.credited_points > 0 {
                tracing::info!(%device_id, points = accepted.credited_points, balance = accepted.balance, "points credited");
            }
            Ok(Json(accepted))
        }
        Err(HeartbeatRefused::OutOfOrder { seq, last }) => {
            control_plane.count(&keys::applied("heartbeats_refused")).await?;
            crate::metrics::heartbeat(false);
            Err(ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::HeartbeatOutOfOrder,
                "heartbeat refused: duplicate, replayed or out of order",
            )
            .detail(format!("sequence {seq} is not above the last accepted, {last}")))
        }
    }
}

fn receipt_refused(code: ProblemCode, title: &str, detail: impl Into<String>) -> ApiError {
    // 422, not 409: the outbox would retry a conflict, and a refused
    // receipt never becomes acceptable.
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, title).detail(detail)
}

fn invalid_receipt(detail: impl Into<String>) -> ApiError {
    receipt_refused(
        ProblemCode::ReceiptInvalid,
        "receipt refused: it does not verify",
        detail,
    )
}

/// `POST /v1/devices/{device_id}/receipts`: a consumer's receipt for a
/// verified delivery; the node is credited for the bytes.
///
/// Checked, in order: the consumer's signature (401), that the receipt is
/// the consumer's own (403), that node and consumer differ, the control
/// plane's ticket (issued to this consumer, for this node and item), the
/// acceptance window, the node's signature on its delivery statement and
/// that the statement says what the receipt says (the whole item, to this
/// consumer), that no standing report says this node served the item wrong
/// (see [`crate::verify`]), and last, atomically with the credit, that the
/// nonce was not taken.
#[utoipa::path(
    post,
    path = templates::DEVICE_RECEIPTS,
    tag = "points",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<Receipt>, description = "Signed by the device of the path"),
    responses((status = 201, body = ReceiptAccepted), crate::openapi::Problems),
)]
pub(super) async fn submit_receipt(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned {
        device_id: consumer,
        payload: receipt,
        ..
    }: DeviceSigned<Receipt>,
) -> Result<(StatusCode, Json<ReceiptAccepted>), ApiError> {
    let checked = match check_receipt(&control_plane, &receipt).await {
        Ok(checked) => checked,
        Err(error) => {
            // A refusal is counted; the store failing (503) is not one.
            if error.0.status == StatusCode::UNPROCESSABLE_ENTITY.as_u16() {
                control_plane.count(&keys::applied("receipts_refused")).await?;
            }
            return Err(error);
        }
    };
    let node = receipt.node_id.to_string();
    let member = crate::members::logged_in_member(&control_plane, &receipt.node_id).await?;
    let accepted = points::accept_receipt(
        &control_plane,
        CheckedReceipt {
            node: &node,
            consumer: consumer.as_str(),
            content: &receipt.content.to_hex(),
            nonce: &checked.nonce,
            bytes: receipt.bytes,
            forget_after_ms: checked.forget_after_ms,
            member: member.as_deref(),
        },
    )
    .await?;
    match accepted {
        Ok(accepted) => {
            control_plane.count(&keys::applied("receipts")).await?;
            tracing::info!(%consumer, node = %receipt.node_id, bytes = accepted.credited_bytes, points = accepted.credited_points, "receipt taken");
            Ok((StatusCode::CREATED, Json(accepted)))
        }
        Err(ReceiptRefused::Replayed { taken_at_ms }) => {
            control_plane.count(&keys::applied("receipts_refused")).await?;
            Err(receipt_refused(
                ProblemCode::ReceiptReplayed,
                "receipt refused: this delivery was credited before",
                format!("nonce {} was taken at {taken_at_ms}", checked.nonce),
            ))
        }
    }
}

/// What a receipt's checks leave for the credit.
struct ReceiptChecks {
    nonce: String,
    forget_after_ms: u64,
}

async fn check_receipt(control_plane: &ControlPlane, receipt: &Receipt) -> Result<ReceiptChecks, ApiError> {
    if receipt.node_id == receipt.consumer_id {
        return Err(receipt_refused(
            ProblemCode::SelfReceipt,
            "receipt refused: a node cannot deliver to itself",
            receipt.node_id.to_string(),
        ));
    }
    if receipt.ticket.len() > 2048 || receipt.delivery.len() > 2048 {
        return Err(invalid_receipt("ticket and delivery statement are at most 2 KiB each"));
    }
    let key = &control_plane.key;
    let ticket = AccessTicket::verify_signature(&receipt.ticket, key.key_id(), &key.verifying_key())
        .map_err(|e| invalid_receipt(format!("the ticket: {e}")))?;
    if ticket.node_id != receipt.node_id || ticket.content != receipt.content {
        return Err(invalid_receipt("the ticket is for another node or item"));
    }
    if ticket.consumer_id != receipt.consumer_id {
        return Err(invalid_receipt("the ticket was issued to another consumer"));
    }
    let forget_after_ms = ticket.expires_at_ms.saturating_add(RECEIPT_WINDOW_MS);
    if unix_millis() > forget_after_ms {
        return Err(receipt_refused(
            ProblemCode::ReceiptExpired,
            "receipt refused: too old",
            "receipts are accepted until 7 days after their ticket expired",
        ));
    }
    let node = control_plane
        .device(&receipt.node_id)
        .await?
        .ok_or_else(unknown_device)?;
    let node_key = control_plane
        .device_keys
        .decode(&node.public_key)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let statement: DeliveryStatement = SignedEnvelope::from_compact(Purpose::DeliveryStatement, &receipt.delivery)
        .and_then(|envelope| {
            if envelope.key_id != receipt.node_id.as_str() {
                return Err(edgepoints_protocol::EnvelopeError::Malformed(
                    "signed by another key".into(),
                ));
            }
            envelope.open(Purpose::DeliveryStatement, &node_key)
        })
        .map_err(|e| invalid_receipt(format!("the node's delivery statement: {e}")))?;
    if statement.node_id != receipt.node_id
        || statement.consumer_id != receipt.consumer_id
        || statement.content != receipt.content
    {
        return Err(invalid_receipt(
            "the delivery statement names another node, consumer or item",
        ));
    }
    if !edgepoints_protocol::receipts::is_valid_nonce(&statement.nonce) {
        return Err(invalid_receipt("the delivery statement's nonce is malformed"));
    }
    if statement.served_at_ms > ticket.expires_at_ms {
        return Err(invalid_receipt("served after the ticket expired"));
    }
    let item = crate::origin::item(control_plane, &receipt.content)
        .await?
        .ok_or_else(|| invalid_receipt("no such item"))?;
    // The consumer can verify only a whole item against its hash.
    if statement.offset != 0 || statement.length != item.size || receipt.bytes != item.size {
        return Err(invalid_receipt(format!(
            "only whole, verified deliveries earn: the item has {} bytes, the statement says {}..+{}, the receipt {}",
            item.size, statement.offset, statement.length, receipt.bytes
        )));
    }
    if control_plane
        .node_stands_reported(&receipt.node_id, &receipt.content)
        .await?
    {
        return Err(receipt_refused(
            ProblemCode::ContentReportedFailed,
            "receipt refused: this node was reported serving this item wrong",
            receipt.content.to_string(),
        ));
    }
    Ok(ReceiptChecks {
        nonce: statement.nonce,
        forget_after_ms,
    })
}

/// The node's load for routing: requests per second over the last interval.
async fn update_load(
    control_plane: &ControlPlane,
    heartbeat: &Heartbeat,
    node: Option<&NodeRecord>,
    interval_ms: u64,
) -> Result<(), crate::store::StoreError> {
    let load = (heartbeat.requests_delta.saturating_mul(1000) / interval_ms.max(1)).min(u32::MAX as u64) as u32;
    // Most beats carry the load the node already has (or come from a device
    // that is no node): then the record read before the heartbeat was
    // accepted says so, and nothing is written.
    if node.is_none_or(|node| node.load == load) {
        return Ok(());
    }
    let changed = update_json::<NodeRecord, bool, ()>(
        control_plane.store(),
        &keys::node(heartbeat.device_id.as_str()),
        |node| {
            Ok(match node {
                Some(node) if node.load != load => (Some(NodeRecord { load, ..node }), true),
                other => (other, false),
            })
        },
    )
    .await?
    .unwrap_or(false);
    if changed {
        crate::registry::note_change(control_plane, Some(&heartbeat.device_id)).await?;
    }
    Ok(())
}

/// `GET /v1/devices/{device_id}/points`: a signed read.
#[utoipa::path(
    get,
    path = templates::DEVICE_POINTS,
    tag = "points",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::SignedRead),
    responses((status = 200, body = PointsBalance), crate::openapi::Problems),
)]
pub(super) async fn balance(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PointsBalance>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    signed_read(
        &control_plane,
        &device_id,
        &headers,
        &paths::device_points(device_id.as_str()),
    )
    .await?;
    Ok(Json(points::balance(&control_plane, device_id.as_str()).await?))
}

/// `GET /v1/devices/{device_id}/ledger/{after}`: a signed read.
#[utoipa::path(
    get,
    path = templates::DEVICE_LEDGER,
    tag = "points",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("after" = u64, Path, description = "The last entry already seen; 0 for the first page"), crate::openapi::SignedRead),
    responses((status = 200, body = LedgerPage), crate::openapi::Problems),
)]
pub(super) async fn ledger(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, after)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Result<Json<LedgerPage>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    signed_read(
        &control_plane,
        &device_id,
        &headers,
        &paths::device_ledger(device_id.as_str(), after),
    )
    .await?;
    let all = points::device_points(&control_plane, device_id.as_str())
        .await?
        .account
        .ledger;
    Ok(Json(ledger_page(all, after)))
}

/// The page of `ledger` after entry `after`.
pub(super) fn ledger_page(ledger: Vec<edgepoints_protocol::LedgerEntry>, after: u64) -> LedgerPage {
    let entries: Vec<_> = ledger
        .into_iter()
        .filter(|e| e.id > after)
        .take(LEDGER_PAGE + 1)
        .collect();
    let more = entries.len() > LEDGER_PAGE;
    let entries: Vec<_> = entries.into_iter().take(LEDGER_PAGE).collect();
    let next_after = more.then(|| entries.last().map(|e| e.id)).flatten();
    LedgerPage { entries, next_after }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Advance {
    /// How far to move the clock forward, at most ten years at a time.
    #[schema(maximum = 315_360_000_000_u64)]
    advance_ms: u64,
}

/// The most one move of the clock may take it forward: ten years. The
/// offset it adds to the wall clock must stay far from overflowing.
const MAX_ADVANCE_MS: u64 = 10 * 365 * 24 * 3600 * 1000;

/// How far forward the mock's clock may be in all: a thousand years.
const MAX_OFFSET_MS: u64 = 100 * MAX_ADVANCE_MS;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Clock {
    now_ms: u64,
}

/// `GET /admin/clock`.
#[utoipa::path(
    get,
    path = "/admin/clock",
    tag = "admin",
    responses((status = 200, body = Clock), crate::openapi::Problems),
)]
pub(super) async fn clock(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Clock>, ApiError> {
    Ok(Json(Clock {
        now_ms: points::now(&control_plane).await?,
    }))
}

/// `POST /admin/clock` `{"advance_ms": N}`: moves the clock forward.
#[utoipa::path(
    post,
    path = "/admin/clock",
    tag = "admin",
    request_body = Advance,
    responses((status = 200, body = Clock), crate::openapi::Problems),
)]
pub(super) async fn advance_clock(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<Json<Clock>, ApiError> {
    let advance: Advance = parse_json(&body)?;
    let ahead = points::now(&control_plane)
        .await?
        .saturating_sub(crate::state::unix_millis());
    if advance.advance_ms > MAX_ADVANCE_MS || ahead.saturating_add(advance.advance_ms) > MAX_OFFSET_MS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "the clock moves at most ten years at a time, and a thousand in all",
        )
        .detail(format!(
            "advance_ms {} with the clock {ahead} ms ahead",
            advance.advance_ms
        )));
    }
    Ok(Json(Clock {
        now_ms: points::advance_clock(&control_plane, advance.advance_ms).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct RecentEntries {
    /// Ledger entries per account, newest first (default 20, at most 200).
    #[param(maximum = 200)]
    recent: Option<u16>,
}

/// `GET /admin/points`: every device's and member's points account.
#[utoipa::path(
    get,
    path = "/admin/points",
    tag = "admin",
    params(RecentEntries),
    responses((status = 200, body = points::PointsAccounts), crate::openapi::Problems),
)]
pub(super) async fn accounts(
    State(control_plane): State<Arc<ControlPlane>>,
    Query(query): Query<RecentEntries>,
) -> Result<Json<points::PointsAccounts>, ApiError> {
    let recent = usize::from(query.recent.unwrap_or(20).min(200));
    Ok(Json(points::accounts(&control_plane, recent).await?))
}

/// `GET /admin/points-rules`.
#[utoipa::path(
    get,
    path = "/admin/points-rules",
    tag = "admin",
    responses((status = 200, body = PointsRules), crate::openapi::Problems),
)]
pub(super) async fn rules(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<PointsRules>, ApiError> {
    Ok(Json(points::rules(&control_plane).await?))
}

/// `PUT /admin/points-rules`.
#[utoipa::path(
    put,
    path = "/admin/points-rules",
    tag = "admin",
    request_body = PointsRules,
    responses((status = 200, body = PointsRules), crate::openapi::Problems),
)]
pub(super) async fn set_rules(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<Json<PointsRules>, ApiError> {
    let rules: PointsRules = parse_json(&body)?;
    if rules.heartbeat_interval_ms < 100 || rules.gap_limit_intervals == 0 {
        return Err(ApiError::bad_request(
            "the heartbeat interval must be at least 100 ms and the gap limit at least one interval",
        ));
    }
    points::set_rules(&control_plane, rules.clone()).await?;
    Ok(Json(rules))
}
