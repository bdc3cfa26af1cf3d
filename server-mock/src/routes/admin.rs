//! The admin API for QA: state inspection and fault injection. Not behind
//! the idempotency layer, and never faulted itself.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use edgepoints_protocol::ProblemCode;

use super::parse_json;
use crate::faults::{self, ActiveFault, FaultRule};
use crate::geo::{self, GeoPrefix, GeoTable};
use crate::problem::ApiError;
use crate::state::StateDump;
use crate::ControlPlane;

pub(super) fn router() -> Router<Arc<ControlPlane>> {
    Router::new()
        .route("/admin/state", get(state))
        .route("/admin/faults", get(list_faults).post(add_fault).delete(reset_faults))
        .route(
            "/admin/content",
            axum::routing::post(super::content::publish).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .route("/admin/content/{hash}", axum::routing::delete(super::content::withdraw))
        .route("/admin/geo-prefixes", get(geo_prefixes).put(set_geo_prefixes))
}

/// `GET /admin/geo-prefixes`: the prefix → location table, longest first.
async fn geo_prefixes(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<GeoPrefix>>, ApiError> {
    Ok(Json(geo::table(&control_plane).await?.rows().to_vec()))
}

/// `PUT /admin/geo-prefixes` `[{"prefix": "10.1.0.0/16", "location":
/// {"latitude": …, "longitude": …}, "label": "…"}, …]`: replaces the table.
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

async fn state(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<StateDump>, ApiError> {
    Ok(Json(control_plane.dump().await?))
}

async fn list_faults(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<ActiveFault>>, ApiError> {
    Ok(Json(faults::list(control_plane.store()).await?))
}

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

async fn reset_faults(State(control_plane): State<Arc<ControlPlane>>) -> Result<StatusCode, ApiError> {
    faults::reset(control_plane.store()).await?;
    Ok(StatusCode::NO_CONTENT)
}
