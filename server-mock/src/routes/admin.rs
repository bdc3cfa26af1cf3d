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
use crate::faults::FaultRule;
use crate::problem::ApiError;
use crate::state::StateDump;
use crate::ControlPlane;

pub(super) fn router() -> Router<Arc<ControlPlane>> {
    Router::new()
        .route("/admin/state", get(state))
        .route("/admin/faults", get(list_faults).post(add_fault).delete(reset_faults))
}

async fn state(State(control_plane): State<Arc<ControlPlane>>) -> Json<StateDump> {
    Json(control_plane.dump())
}

async fn list_faults(State(control_plane): State<Arc<ControlPlane>>) -> Json<Vec<FaultRule>> {
    Json(control_plane.faults.rules())
}

async fn add_fault(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<FaultRule>>), ApiError> {
    let rule: FaultRule = parse_json(&body)?;
    control_plane.faults.add(rule).map_err(|why| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "invalid fault rule",
        )
        .detail(why)
    })?;
    Ok((StatusCode::CREATED, Json(control_plane.faults.rules())))
}

async fn reset_faults(State(control_plane): State<Arc<ControlPlane>>) -> StatusCode {
    control_plane.faults.reset();
    StatusCode::NO_CONTENT
}
