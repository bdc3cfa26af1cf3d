//! The signed manifest, the origin, and publishing for QA.

use std::collections::HashMap;
use std::sync::Arc;

use super::extract::Json;
use super::extract::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{ContentHash, ManifestItem, ProblemCode, SignedEnvelope};

use crate::problem::ApiError;
use crate::{origin, ControlPlane};

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "no such content")
}

/// `GET /v1/manifest`.
#[utoipa::path(
    get,
    path = templates::MANIFEST,
    tag = "content",
    responses((status = 200, body = SignedEnvelope), crate::openapi::Problems),
)]
pub(super) async fn manifest(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<SignedEnvelope>, ApiError> {
    Ok(Json(origin::signed_manifest(&control_plane).await?))
}

/// `GET /origin/{hash}`: the bytes as published.
#[utoipa::path(
    get,
    path = templates::ORIGIN,
    tag = "content",
    params(("hash" = String, Path, description = "The item's BLAKE3 hash, 64 hex digits")),
    responses((status = 200, description = "The item's bytes", content_type = "application/octet-stream", body = Vec<u8>), crate::openapi::Problems),
)]
pub(super) async fn origin(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = ContentHash::parse(&hash).map_err(|_| not_found())?;
    let bytes = origin::bytes(&control_plane, &hash).await?.ok_or_else(not_found)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// `GET /admin/content`: every published item, highest priority first.
#[utoipa::path(
    get,
    path = "/admin/content",
    tag = "admin",
    responses((status = 200, body = Vec<ManifestItem>), crate::openapi::Problems),
)]
pub(super) async fn published(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<ManifestItem>>, ApiError> {
    Ok(Json(origin::manifest(&control_plane).await?.items))
}

/// `POST /admin/content?priority=N`: publishes the body.
#[utoipa::path(
    post,
    path = "/admin/content",
    tag = "admin",
    params(("priority" = Option<u32>, Query, description = "Higher is synced first (default 1)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The item's bytes (up to 64 MiB)"),
    responses((status = 201, body = ManifestItem), crate::openapi::Problems),
)]
pub(super) async fn publish(
    State(control_plane): State<Arc<ControlPlane>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<ManifestItem>), ApiError> {
    let priority = match query.get("priority") {
        None => 1,
        Some(p) => p
            .parse()
            .map_err(|_| ApiError::bad_request("priority must be a whole number"))?,
    };
    if body.is_empty() {
        return Err(ApiError::bad_request("nothing to publish"));
    }
    Ok((
        StatusCode::CREATED,
        Json(origin::publish(&control_plane, body, priority).await?),
    ))
}

/// `DELETE /admin/content/{hash}`: withdraws an item.
#[utoipa::path(
    delete,
    path = "/admin/content/{hash}",
    tag = "admin",
    params(("hash" = String, Path, pattern = "^[0-9a-f]{64}$", description = "An item's BLAKE3 hash")),
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn withdraw(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(hash): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hash = ContentHash::parse(&hash).map_err(|_| not_found())?;
    if origin::withdraw(&control_plane, &hash).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
