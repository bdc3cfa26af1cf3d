//! The idempotency layer, after the IETF httpapi Idempotency-Key draft.
//!
//! Every mutating request must carry an `Idempotency-Key`. Keys are scoped
//! per device (the signer named in the request's envelope), and a key is
//! bound to the request it first came with (method, path and body, hashed):
//!
//! - first time: the request runs and its response is stored;
//! - same key, same request, completed: the stored response is replayed, with
//!   `Idempotent-Replayed: true`, and nothing runs again;
//! - same key, same request, still running: 409;
//! - same key, another request: 422;
//! - no key: 400.
//!
//! The handler runs in a task of its own, so a client that hangs up cannot
//! cancel a request between its commit and the storing of its response.
//! Responses that say "not processed" (401, 403, 408, 409, 429, 5xx) are not
//! stored: the key is released and a retry runs the request anew. Not
//! storing 401/403 also stops a forger from burning a device's keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::idempotency::validate_idempotency_key;
use edgepoints_protocol::{ProblemCode, SignedEnvelope, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};

use crate::problem::ApiError;
use crate::ControlPlane;

/// Largest request body the control plane reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Scope of requests whose body names no signer (malformed ones, mostly).
const ANONYMOUS_SCOPE: &str = "-";

type RecordKey = (String, String);

#[derive(Debug, Clone)]
struct StoredResponse {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

#[derive(Debug, Clone)]
enum Record {
    InFlight {
        fingerprint: [u8; 32],
    },
    Completed {
        fingerprint: [u8; 32],
        response: StoredResponse,
    },
}

enum Claim {
    Fresh,
    Replay(StoredResponse),
    InProgress,
    Mismatch,
}

/// Stored results by (scope, key).
#[derive(Default)]
pub struct IdempotencyStore {
    records: Mutex<HashMap<RecordKey, Record>>,
}

impl IdempotencyStore {
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RecordKey, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim(&self, key: &RecordKey, fingerprint: [u8; 32]) -> Claim {
        let mut records = self.lock();
        match records.get(key) {
            None => {
                records.insert(key.clone(), Record::InFlight { fingerprint });
                Claim::Fresh
            }
            Some(Record::InFlight { fingerprint: first }) if *first == fingerprint => Claim::InProgress,
            Some(Record::Completed {
                fingerprint: first,
                response,
            }) if *first == fingerprint => Claim::Replay(response.clone()),
            Some(_) => Claim::Mismatch,
        }
    }

    fn complete(&self, key: RecordKey, fingerprint: [u8; 32], response: StoredResponse) {
        self.lock().insert(key, Record::Completed { fingerprint, response });
    }

    fn release(&self, key: &RecordKey) {
        let mut records = self.lock();
        if matches!(records.get(key), Some(Record::InFlight { .. })) {
            records.remove(key);
        }
    }
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a response means the request was processed and must be replayed
/// as it is, rather than run again.
fn is_final(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::CONFLICT
                | StatusCode::TOO_MANY_REQUESTS
        ))
}

/// The middleware; installed on every API route.
pub(crate) async fn layer(State(control_plane): State<Arc<ControlPlane>>, request: Request, next: Next) -> Response {
    if !is_mutating(request.method()) {
        return next.run(request).await;
    }
    let key = match request.headers().get(IDEMPOTENCY_KEY_HEADER) {
        None => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::MissingIdempotencyKey,
                "an Idempotency-Key header is required",
            )
            .into_response()
        }
        Some(value) => match value.to_str().map_err(|e| e.to_string()).and_then(|k| {
            validate_idempotency_key(k).map_err(|e| e.to_string())?;
            Ok(k.to_owned())
        }) {
            Ok(key) => key,
            Err(why) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ProblemCode::InvalidIdempotencyKey,
                    "invalid Idempotency-Key",
                )
                .detail(why)
                .into_response()
            }
        },
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ProblemCode::MalformedRequest,
                "request body too large",
            )
            .into_response()
        }
    };
    let scope = serde_json::from_slice::<SignedEnvelope>(&body)
        .ok()
        .map(|envelope| envelope.key_id)
        .filter(|id| id.len() <= 128)
        .unwrap_or_else(|| ANONYMOUS_SCOPE.to_owned());
    let fingerprint = {
        let mut hasher = blake3::Hasher::new();
        hasher.update(parts.method.as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(parts.uri.to_string().as_bytes());
        hasher.update(b"\n");
        hasher.update(&body);
        *hasher.finalize().as_bytes()
    };
    let record_key = (scope, key);
    match control_plane.idempotency.claim(&record_key, fingerprint) {
        Claim::Fresh => {}
        Claim::Replay(stored) => return replay(stored),
        Claim::InProgress => {
            return ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::RequestInProgress,
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response()
        }
        Claim::Mismatch => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            )
            .into_response()
        }
    }
    let request = Request::from_parts(parts, Body::from(body));
    let store = control_plane.clone();
    let task_key = record_key.clone();
    let handled = tokio::spawn(async move {
        let response = next.run(request).await;
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        if is_final(parts.status) {
            store.idempotency.complete(
                task_key,
                fingerprint,
                StoredResponse {
                    status: parts.status,
                    content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
                    body: body.clone(),
                },
            );
        } else {
            store.idempotency.release(&task_key);
        }
        Response::from_parts(parts, Body::from(body))
    })
    .await;
    match handled {
        Ok(response) => response,
        Err(panic) => {
            control_plane.idempotency.release(&record_key);
            tracing::error!(%panic, "handler failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ProblemCode::Internal,
                "internal error",
            )
            .into_response()
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = (stored.status, stored.body).into_response();
    if let Some(content_type) = stored.content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims() {
        let store = IdempotencyStore::default();
        let key = ("dev".to_owned(), "k1".to_owned());
        assert!(matches!(store.claim(&key, [1; 32]), Claim::Fresh));
        assert!(matches!(store.claim(&key, [1; 32]), Claim::InProgress));
        assert!(matches!(store.claim(&key, [2; 32]), Claim::Mismatch));
        store.complete(
            key.clone(),
            [1; 32],
            StoredResponse {
                status: StatusCode::CREATED,
                content_type: None,
                body: Bytes::from_static(b"{}"),
            },
        );
        assert!(matches!(store.claim(&key, [1; 32]), Claim::Replay(r) if r.status == StatusCode::CREATED));
        assert!(matches!(store.claim(&key, [2; 32]), Claim::Mismatch));
        // Scopes are separate: another device may use the same key.
        let other = ("dev2".to_owned(), "k1".to_owned());
        assert!(matches!(store.claim(&other, [2; 32]), Claim::Fresh));
    }

    #[test]
    fn released_keys_run_again() {
        let store = IdempotencyStore::default();
        let key = ("dev".to_owned(), "k1".to_owned());
        assert!(matches!(store.claim(&key, [1; 32]), Claim::Fresh));
        store.release(&key);
        assert!(matches!(store.claim(&key, [1; 32]), Claim::Fresh));
    }

    #[test]
    fn final_statuses() {
        assert!(is_final(StatusCode::OK));
        assert!(is_final(StatusCode::BAD_REQUEST));
        assert!(is_final(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!is_final(StatusCode::UNAUTHORIZED));
        assert!(!is_final(StatusCode::SERVICE_UNAVAILABLE));
    }
}
