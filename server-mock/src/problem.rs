//! Errors as `application/problem+json` responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::{Problem, ProblemCode, PROBLEM_CONTENT_TYPE};

/// A refusal from a handler or a layer, and when to come back (seconds,
/// sent as `Retry-After`) if it says.
#[derive(Debug)]
pub(crate) struct ApiError(pub Problem, pub Option<u64>);

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ProblemCode, title: &str) -> Self {
        ApiError(Problem::new(status.as_u16(), code, title), None)
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.1 = Some(seconds);
        self
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::MalformedRequest,
            "malformed request",
        )
        .detail(detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if let Some(seconds) = self.1 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// The state store failing is the control plane being unavailable: 503,
    /// which clients retry and the idempotency layer does not store.
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "state store failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::Unavailable,
            "the control plane's state store is unavailable",
        )
        .detail(error.to_string())
    }
}
