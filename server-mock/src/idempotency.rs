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
//! storing 401/403 also stops a forger from burning a device's keys. A
//! running request holds its key for at most [`IN_FLIGHT_LEASE`]: an instance
//! killed mid-request does not block the key for ever.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::idempotency::validate_idempotency_key;
use edgepoints_protocol::{ProblemCode, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
use serde::{Deserialize, Serialize};

use crate::faults;
use crate::problem::ApiError;
use crate::state::{keys, unix_millis};
use crate::store::{get_json, put_json, update_json, StateStore, StoreError};
use crate::ControlPlane;

/// Largest request body the control plane reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a running request holds its key.
pub const IN_FLIGHT_LEASE: Duration = Duration::from_secs(30);

/// Scope of requests whose body names no signer (malformed ones, mostly).
const ANONYMOUS_SCOPE: &str = "-";

/// What the store holds per (scope, key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Record {
    InFlight {
        fingerprint: String,
        started_at_ms: u64,
    },
    Completed {
        fingerprint: String,
        #[schema(maximum = 65535)]
        status: u16,
        content_type: Option<String>,
        body: String,
        completed_at_ms: u64,
    },
}

/// The one field of a signed envelope that scopes its keys (see
/// [`edgepoints_protocol::SignedEnvelope`]): read alone, the payload and
/// signature are skipped rather than copied out.
#[derive(Deserialize)]
struct Signer<'a> {
    #[serde(borrow)]
    key_id: std::borrow::Cow<'a, str>,
}

#[derive(Debug)]
enum Claim {
    /// The key is this request's now, held by this in-flight record.
    Fresh(Vec<u8>),
    Replay(Record),
    InProgress,
    Mismatch,
}

async fn claim(store: &dyn StateStore, record_key: &str, fingerprint: &str) -> Result<Claim, StoreError> {
    let now = unix_millis();
    let fresh = Record::InFlight {
        fingerprint: fingerprint.to_owned(),
        started_at_ms: now,
    };
    let held = serde_json::to_vec(&fresh).expect("records serialise");
    let claimed = update_json::<Record, Claim, ()>(store, record_key, |record| {
        let fresh = fresh.clone();
        Ok(match record {
            None => (Some(fresh), Claim::Fresh(held.clone())),
            Some(Record::InFlight {
                fingerprint: first,
                started_at_ms,
            }) => {
                let abandoned = now.saturating_sub(started_at_ms) > IN_FLIGHT_LEASE.as_millis() as u64;
                if first != fingerprint {
                    let keep = Record::InFlight {
                        fingerprint: first,
                        started_at_ms,
                    };
                    (Some(keep), Claim::Mismatch)
                } else if abandoned {
                    (Some(fresh), Claim::Fresh(held.clone()))
                } else {
                    let keep = Record::InFlight {
                        fingerprint: first,
                        started_at_ms,
                    };
                    (Some(keep), Claim::InProgress)
                }
            }
            Some(completed @ Record::Completed { .. }) => {
                let same = matches!(&completed, Record::Completed { fingerprint: f, .. } if f == fingerprint);
                let claim = if same {
                    Claim::Replay(completed.clone())
                } else {
                    Claim::Mismatch
                };
                (Some(completed), claim)
            }
        })
    })
    .await?;
    Ok(claimed.expect("the claim never refuses"))
}

async fn release(store: &dyn StateStore, record_key: &str) -> Result<(), StoreError> {
    update_json::<Record, (), ()>(store, record_key, |record| match record {
        Some(Record::InFlight { .. }) | None => Ok((None, ())),
        done => Ok((done, ())),
    })
    .await?
    .ok();
    Ok(())
}

/// The state of an operation, for the sync-status route.
pub async fn lookup(store: &dyn StateStore, scope: &str, key: &str) -> Result<Option<Record>, StoreError> {
    get_json(store, &keys::idempotency(scope, key)).await
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
    match run_once(control_plane, request, next).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn run_once(control_plane: Arc<ControlPlane>, request: Request, next: Next) -> Result<Response, ApiError> {
    let key = match request.headers().get(IDEMPOTENCY_KEY_HEADER) {
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::MissingIdempotencyKey,
                "an Idempotency-Key header is required",
            ))
        }
        Some(value) => value
            .to_str()
            .map_err(|e| e.to_string())
            .and_then(|k| {
                validate_idempotency_key(k)
                    .map(|()| k.to_owned())
                    .map_err(|e| e.to_string())
            })
            .map_err(|why| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ProblemCode::InvalidIdempotencyKey,
                    "invalid Idempotency-Key",
                )
                .detail(why)
            })?,
    };
    let route = faults::route_of(&request);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::MalformedRequest,
            "request body too large",
        )
    })?;
    let scope = serde_json::from_slice::<Signer<'_>>(&body)
        .ok()
        .map(|signer| signer.key_id.into_owned())
        .filter(|id| id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| ANONYMOUS_SCOPE.to_owned());
    let fingerprint = {
        let mut hasher = blake3::Hasher::new();
        hasher.update(parts.method.as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(parts.uri.path().as_bytes());
        hasher.update(b"\n");
        hasher.update(&body);
        hasher.finalize().to_hex().to_string()
    };
    let record_key = keys::idempotency(&scope, &key);
    let held = match claim(control_plane.store(), &record_key, &fingerprint).await? {
        Claim::Fresh(held) => held,
        Claim::Replay(stored) => {
            // A replay is an answer to a committed request too: it can be lost.
            if faults::drop_after_commit(control_plane.store(), &route).await? {
                tracing::info!(%route, "injected fault: replayed answer dropped");
                return Ok(Response::new(Body::new(LostAnswer)));
            }
            crate::metrics::idempotent_replay(&route);
            return Ok(replay(stored));
        }
        Claim::InProgress => {
            // The server is healthy and busy with it: the client should wait
            // rather than spend its retry budget asking again at once.
            let mut response = ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::RequestInProgress,
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            return Ok(response);
        }
        Claim::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ))
        }
    };
    let request = Request::from_parts(parts, Body::from(body));
    let task_plane = control_plane.clone();
    let task_key = record_key.clone();
    let executions_key = keys::executions(&scope, &key);
    let handled = tokio::spawn(async move {
        let store = task_plane.store();
        let response = next.run(request).await;
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        if is_final(parts.status) {
            if parts.status.is_success() {
                store.increment(&executions_key, 1).await?;
            }
            let completed = Record::Completed {
                fingerprint,
                status: parts.status.as_u16(),
                content_type: parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: String::from_utf8_lossy(&body).into_owned(),
                completed_at_ms: unix_millis(),
            };
            // The key holds this request's claim, unless its lease ran out
            // and another run took it: then this answer is written over it.
            let encoded = serde_json::to_vec(&completed).expect("records serialise");
            if !store.compare_and_swap(&task_key, Some(&held), Some(&encoded)).await? {
                put_json(store, &task_key, &completed).await?;
            }
        } else {
            release(store, &task_key).await?;
        }
        Ok::<_, StoreError>(Response::from_parts(parts, Body::from(body)))
    })
    .await;
    let response = match handled {
        Ok(Ok(response)) => response,
        Ok(Err(store_error)) => return Err(store_error.into()),
        Err(panic) => {
            release(control_plane.store(), &record_key).await?;
            tracing::error!(%panic, "handler failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ProblemCode::Internal,
                "internal error",
            ));
        }
    };
    let may_drop = response.extensions().get::<faults::NoDropRule>().is_none();
    if may_drop && faults::drop_after_commit(control_plane.store(), &route).await? {
        tracing::info!(%route, "injected fault: answer dropped after commit");
        return Ok(Response::new(Body::new(LostAnswer)));
    }
    Ok(response)
}

fn replay(stored: Record) -> Response {
    let Record::Completed {
        status,
        content_type,
        body,
        ..
    } = stored
    else {
        unreachable!("only completed records are replayed")
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, Bytes::from(body)).into_response();
    if let Some(content_type) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// A body that fails at once: the server aborts the connection instead of
/// answering, as when a mobile network drops after the server committed.
struct LostAnswer;

impl http_body::Body for LostAnswer {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("answer dropped by fault injection"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn claims_follow_the_draft() {
        let store = MemoryStore::default();
        let key = keys::idempotency("dev", "k1");
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::Fresh(_)));
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::InProgress));
        assert!(matches!(claim(&store, &key, "b").await.unwrap(), Claim::Mismatch));
        let done = Record::Completed {
            fingerprint: "a".into(),
            status: 201,
            content_type: None,
            body: "{}".into(),
            completed_at_ms: 1,
        };
        update_json::<Record, (), ()>(&store, &key, |_| Ok((Some(done.clone()), ())))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::Replay(r) if r == done));
        assert!(matches!(claim(&store, &key, "b").await.unwrap(), Claim::Mismatch));
        // Scopes are separate: another device may use the same key.
        let other = keys::idempotency("dev2", "k1");
        assert!(matches!(claim(&store, &other, "b").await.unwrap(), Claim::Fresh(_)));
    }

    #[tokio::test]
    async fn released_and_abandoned_keys_run_again() {
        let store = MemoryStore::default();
        let key = keys::idempotency("dev", "k1");
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::Fresh(_)));
        release(&store, &key).await.unwrap();
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::Fresh(_)));
        let stale = Record::InFlight {
            fingerprint: "a".into(),
            started_at_ms: unix_millis() - IN_FLIGHT_LEASE.as_millis() as u64 - 1000,
        };
        update_json::<Record, (), ()>(&store, &key, |_| Ok((Some(stale.clone()), ())))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(claim(&store, &key, "a").await.unwrap(), Claim::Fresh(_)));
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
