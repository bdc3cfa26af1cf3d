//! Heartbeats, points and the ledger; the clock and the rules for QA.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use edgepoints_protocol::{
    paths, ConsentDecision, Heartbeat, HeartbeatAccepted, LedgerPage, PointsBalance, PointsRules, ProblemCode, Purpose,
};
use serde::{Deserialize, Serialize};

use super::devices::{device_envelope, parse_device_id, signed_read};
use super::parse_json;
use crate::points::{self, HeartbeatRefused, NodeStanding};
use crate::problem::ApiError;
use crate::state::{keys, NodeRecord};
use crate::store::update_json;
use crate::ControlPlane;

/// Ledger entries per page.
const LEDGER_PAGE: usize = 50;

/// `POST /v1/devices/{device_id}/heartbeats`.
pub(super) async fn heartbeat(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<Json<HeartbeatAccepted>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let heartbeat: Heartbeat = device_envelope(&control_plane, &device_id, &body, Purpose::Heartbeat).await?;
    if heartbeat.device_id != device_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::DeviceMismatch,
            "the heartbeat names another device",
        ));
    }
    let consenting = control_plane
        .device(&device_id)
        .await?
        .and_then(|d| d.consent)
        .is_some_and(|c| matches!(c.decision, ConsentDecision::Granted { .. }));
    let reachable = control_plane
        .node(&device_id)
        .await?
        .is_some_and(|n| n.routable_url().is_some());
    match points::accept_heartbeat(&control_plane, &heartbeat, NodeStanding { consenting, reachable }).await? {
        Ok(accepted) => {
            control_plane.count(&keys::applied("heartbeats")).await?;
            update_load(&control_plane, &heartbeat, accepted.next_interval_ms).await?;
            if accepted.credited_points > 0 {
                tracing::info!(%device_id, points = accepted.credited_points, balance = accepted.balance, "points credited");
            }
            Ok(Json(accepted))
        }
        Err(HeartbeatRefused::OutOfOrder { seq, last }) => {
            control_plane.count(&keys::applied("heartbeats_refused")).await?;
            Err(ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::HeartbeatOutOfOrder,
                "heartbeat refused: duplicate, replayed or out of order",
            )
            .detail(format!("sequence {seq} is not above the last accepted, {last}")))
        }
    }
}

/// The node's load for routing: requests per second over the last interval.
async fn update_load(
    control_plane: &ControlPlane,
    heartbeat: &Heartbeat,
    interval_ms: u64,
) -> Result<(), crate::store::StoreError> {
    let load = (heartbeat.requests_delta.saturating_mul(1000) / interval_ms.max(1)).min(u32::MAX as u64) as u32;
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
        control_plane.store().increment(keys::NODES_VERSION, 1).await?;
    }
    Ok(())
}

/// `GET /v1/devices/{device_id}/points`: a signed read.
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
    let all = points::device_points(&control_plane, device_id.as_str()).await?.ledger;
    let entries: Vec<_> = all.into_iter().filter(|e| e.id > after).take(LEDGER_PAGE + 1).collect();
    let more = entries.len() > LEDGER_PAGE;
    let entries: Vec<_> = entries.into_iter().take(LEDGER_PAGE).collect();
    let next_after = more.then(|| entries.last().map(|e| e.id)).flatten();
    Ok(Json(LedgerPage { entries, next_after }))
}

#[derive(Debug, Deserialize)]
pub(super) struct Advance {
    advance_ms: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct Clock {
    now_ms: u64,
}

/// `GET /admin/clock`.
pub(super) async fn clock(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Clock>, ApiError> {
    Ok(Json(Clock {
        now_ms: points::now(&control_plane).await?,
    }))
}

/// `POST /admin/clock` `{"advance_ms": N}`: moves the clock forward.
pub(super) async fn advance_clock(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<Json<Clock>, ApiError> {
    let advance: Advance = parse_json(&body)?;
    Ok(Json(Clock {
        now_ms: points::advance_clock(&control_plane, advance.advance_ms).await?,
    }))
}

/// `GET /admin/points-rules`.
pub(super) async fn rules(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<PointsRules>, ApiError> {
    Ok(Json(points::rules(&control_plane).await?))
}

/// `PUT /admin/points-rules`.
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
