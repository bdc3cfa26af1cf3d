//! The review rules over the admin API: read, replace, and try a text.

use std::sync::Arc;

use super::extract::Json;
use super::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use edgepoints_protocol::review::{Finding, ReviewRules};
use edgepoints_protocol::ProblemCode;
use serde::Deserialize;

use crate::problem::ApiError;
use crate::review::rules;
use crate::ControlPlane;

/// Longest text the check route takes, in bytes.
const MAX_CHECK_TEXT: usize = 1 << 20;

/// `GET /admin/review-rules/{tenant}`.
#[utoipa::path(
    get,
    path = "/admin/review-rules/{tenant}",
    tag = "admin",
    params(("tenant" = String, Path)),
    responses((status = 200, body = ReviewRules), crate::openapi::Problems),
)]
pub(super) async fn get_rules(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(tenant): Path<String>,
) -> Result<Json<ReviewRules>, ApiError> {
    Ok(Json(rules::rules(&control_plane, &tenant).await?))
}

/// `PUT /admin/review-rules/{tenant}`: replaces the rules, if they compile.
#[utoipa::path(
    put,
    path = "/admin/review-rules/{tenant}",
    tag = "admin",
    params(("tenant" = String, Path)),
    request_body = ReviewRules,
    responses((status = 200, body = ReviewRules), crate::openapi::Problems),
)]
pub(super) async fn set_rules(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(tenant): Path<String>,
    Json(new): Json<ReviewRules>,
) -> Result<Json<ReviewRules>, ApiError> {
    match rules::set_rules(&control_plane, &tenant, &new).await? {
        Ok(()) => Ok(Json(new)),
        Err(error) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "review rules refused",
        )
        .detail(error.to_string())),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct CheckText {
    text: String,
}

/// `POST /admin/review-rules/{tenant}/check` `{"text": …}`: what the review
/// finds in a text, for QA to try the rules.
#[utoipa::path(
    post,
    path = "/admin/review-rules/{tenant}/check",
    tag = "admin",
    params(("tenant" = String, Path)),
    request_body = CheckText,
    responses((status = 200, body = Vec<Finding>), crate::openapi::Problems),
)]
pub(super) async fn check(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(tenant): Path<String>,
    Json(body): Json<CheckText>,
) -> Result<Json<Vec<Finding>>, ApiError> {
    if body.text.len() > MAX_CHECK_TEXT {
        return Err(ApiError::bad_request("a text to check is at most 1 MiB"));
    }
    let reviewer = rules::reviewer(&control_plane, &tenant).await?;
    Ok(Json(reviewer.review(&body.text)))
}
