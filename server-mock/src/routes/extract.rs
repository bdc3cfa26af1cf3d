//! axum's extractors with the mock's refusals: a body, path or query that
//! does not parse is `application/problem+json` with axum's status (400,
//! 413, 415, 422) and its reason, like every other refusal, not axum's
//! plain text. `Json` is also the answer type, so handlers import one name.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::ProblemCode;
use serde::Serialize;

use crate::problem::ApiError;

/// A JSON body, or a JSON answer.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

/// Query parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

fn refused(status: axum::http::StatusCode, what: &str, reason: String) -> ApiError {
    ApiError::new(status, ProblemCode::MalformedRequest, what).detail(reason)
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        refused(
            rejection.status(),
            "the body is not as this route takes it",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        refused(
            rejection.status(),
            "a path parameter is not as this route takes it",
            rejection.body_text(),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        refused(
            rejection.status(),
            "the query is not as this route takes it",
            rejection.body_text(),
        )
    }
}
