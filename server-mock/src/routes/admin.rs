//! The admin API for QA: state inspection and fault injection. Not behind
//! the idempotency layer, and never faulted itself.

use std::sync::Arc;

use super::extract::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use edgepoints_protocol::ProblemCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_json;
use crate::faults::{self, ActiveFault, FaultRule};
use crate::geo::{self, GeoPrefix, GeoTable};
use crate::problem::ApiError;
use crate::state::StateDump;
use crate::ControlPlane;

pub(super) fn router() -> OpenApiRouter<Arc<ControlPlane>> {
    // Content up to 64 MiB may be published.
    let publish = OpenApiRouter::new()
        .routes(routes!(super::content::publish, super::content::published))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    OpenApiRouter::new()
        .routes(routes!(state))
        .routes(routes!(list_faults, add_fault, reset_faults))
        .merge(publish)
        .routes(routes!(super::content::withdraw))
        .routes(routes!(geo_prefixes, set_geo_prefixes))
}

/// `GET /admin/geo-prefixes`: the prefix → location table, longest first.
#[utoipa::path(
    get,
    path = "/admin/geo-prefixes",
    tag = "admin",
    responses((status = 200, body = Vec<GeoPrefix>), crate::openapi::Problems),
)]
async fn geo_prefixes(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<GeoPrefix>>, ApiError> {
    Ok(Json(geo::table(&control_plane).await?.rows().to_vec()))
}

/// `PUT /admin/geo-prefixes` `[{"prefix": "10.1.0.0/16", "location":
/// {"latitude": …, "longitude": …}, "label": "…"}, …]`: replaces the table.
#[utoipa::path(
    put,
    path = "/admin/geo-prefixes",
    tag = "admin",
    request_body = Vec<GeoPrefix>,
    responses((status = 200, body = Vec<GeoPrefix>), crate::openapi::Problems),
)]
async fn set_geo_prefixes(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<Json<Vec<GeoPrefix>>, ApiError> {
    let rows: Vec<GeoPrefix> = parse_json(&body)?;
    let table = GeoTable::new(rows).map_err(|why| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "invalid prefix table",
        )
        .detail(why)
    })?;
    geo::set_table(&control_plane, table.clone()).await?;
    Ok(Json(table.rows().to_vec()))
}

#[utoipa::path(
    get,
    path = "/admin/state",
    tag = "admin",
    responses((status = 200, body = StateDump), crate::openapi::Problems),
)]
async fn state(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<StateDump>, ApiError> {
    Ok(Json(control_plane.dump().await?))
}

#[utoipa::path(
    get,
    path = "/admin/faults",
    tag = "admin",
    responses((status = 200, body = Vec<ActiveFault>), crate::openapi::Problems),
)]
async fn list_faults(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<ActiveFault>>, ApiError> {
    Ok(Json(faults::list(control_plane.store()).await?))
}

#[utoipa::path(
    post,
    path = "/admin/faults",
    tag = "admin",
    request_body = FaultRule,
    responses((status = 201, body = Vec<ActiveFault>), crate::openapi::Problems),
)]
async fn add_fault(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<ActiveFault>>), ApiError> {
    let rule: FaultRule = parse_json(&body)?;
    faults::add(control_plane.store(), rule).await?.map_err(|why| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "invalid fault rule",
        )
        .detail(why)
    })?;
    Ok((StatusCode::CREATED, Json(faults::list(control_plane.store()).await?)))
}

#[utoipa::path(
    delete,
    path = "/admin/faults",
    tag = "admin",
    responses((status = 204), crate::openapi::Problems),
)]
async fn reset_faults(State(control_plane): State<Arc<ControlPlane>>) -> Result<StatusCode, ApiError> {
    faults::reset(control_plane.store()).await?;
    Ok(StatusCode::NO_CONTENT)
}
