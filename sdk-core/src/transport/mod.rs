//! HTTP to the control plane: reqwest over rustls (ring provider), JSON, an
//! `Idempotency-Key` on every mutating request, and retries of transient
//! failures with the same key.
//!
//! What counts as transient: a connect error, a timeout, a body cut short,
//! a 5xx, 408, 429, and a 409 that says the first attempt is still running.
//! Everything else is final and comes back at once.

mod retry;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use edgepoints_protocol::{Problem, ProblemCode, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

pub use retry::RetryPolicy;

use crate::{Config, Error, TransportFailure};

/// One logical request; it may be sent several times.
pub(crate) struct Outgoing<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Vec<u8>>,
    /// Required for every mutating method; the same key on every attempt.
    pub idempotency_key: Option<&'a str>,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub value: T,
    /// The server replayed a stored result: the call had already been applied.
    pub replayed: bool,
    pub attempts: u32,
}

pub(crate) struct Transport {
    client: reqwest::Client,
    endpoints: Vec<Url>,
    retry: RetryPolicy,
    /// Index of the endpoint that answered last; failover moves it on.
    current: AtomicUsize,
}

impl Transport {
    pub(crate) fn new(config: &Config) -> Result<Transport, Error> {
        let tls = tls_client_config()?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("edgepoints-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            client,
            endpoints: config.endpoints.clone(),
            retry: config.retry.clone(),
            current: AtomicUsize::new(0),
        })
    }

    /// Sends `request`, retrying transient failures, and decodes a 2xx body.
    pub(crate) async fn call<T: DeserializeOwned>(&self, request: Outgoing<'_>) -> Result<Answer<T>, Error> {
        let mutating = !matches!(request.method, Method::GET | Method::HEAD);
        if mutating && request.idempotency_key.is_none() {
            // A programming error inside the SDK, not the caller's input.
            return Err(Error::Protocol(format!(
                "{} {} sent without an idempotency key",
                request.method, request.path
            )));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let endpoint_index = self.current.load(Ordering::Relaxed) % self.endpoints.len();
            let failure = match self.attempt(&self.endpoints[endpoint_index], &request).await {
                Ok(Attempted::Done { body, replayed }) => {
                    let value = serde_json::from_slice(&body)
                        .map_err(|e| Error::Protocol(format!("{} {}: {e}", request.method, request.path)))?;
                    return Ok(Answer {
                        value,
                        replayed,
                        attempts: attempt,
                    });
                }
                Ok(Attempted::Refused { status, problem }) => {
                    return Err(Error::Rejected { status, problem });
                }
                Ok(Attempted::Transient { failure, retry_after }) => (failure, retry_after),
                Err(http) => (TransportFailure::Http(http), None),
            };
            let (failure, retry_after) = failure;
            tracing::warn!(
                method = %request.method,
                path = request.path,
                endpoint = %self.endpoints[endpoint_index],
                attempt,
                error = %failure,
                "transient failure"
            );
            if attempt >= self.retry.max_attempts {
                return Err(Error::Unavailable {
                    attempts: attempt,
                    last: failure,
                });
            }
            // Move the next attempt to the next endpoint; with one endpoint
            // this is the same one again.
            let _ = self.current.compare_exchange(
                endpoint_index,
                (endpoint_index + 1) % self.endpoints.len(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            let wait = self
                .retry
                .backoff(attempt)
                .max(retry_after.unwrap_or_default().min(self.retry.max_delay));
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, endpoint: &Url, request: &Outgoing<'_>) -> Result<Attempted, reqwest::Error> {
        let url = join(endpoint, request.path);
        let mut builder = self.client.request(request.method.clone(), url);
        if let Some(key) = request.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = builder.send().await?;
        let status = response.status();
        let replayed = response
            .headers()
            .get(IDEMPOTENT_REPLAYED_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Reading the body can fail too (connection cut mid-body): that is
        // transient like any other lost answer.
        let body = response.bytes().await?;
        if status.is_success() {
            return Ok(Attempted::Done {
                body: body.to_vec(),
                replayed,
            });
        }
        let problem: Option<Problem> = serde_json::from_slice(&body).ok();
        if is_transient(status, problem.as_ref()) {
            return Ok(Attempted::Transient {
                failure: TransportFailure::Status {
                    status: status.as_u16(),
                    problem,
                },
                retry_after,
            });
        }
        let problem = problem.unwrap_or_else(|| {
            Problem::new(
                status.as_u16(),
                ProblemCode::Unknown,
                status.canonical_reason().unwrap_or("error"),
            )
            .with_detail(String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
        });
        Ok(Attempted::Refused {
            status: status.as_u16(),
            problem,
        })
    }
}

enum Attempted {
    Done {
        body: Vec<u8>,
        replayed: bool,
    },
    Refused {
        status: u16,
        problem: Problem,
    },
    Transient {
        failure: TransportFailure,
        retry_after: Option<Duration>,
    },
}

fn is_transient(status: StatusCode, problem: Option<&Problem>) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status == StatusCode::CONFLICT && problem.is_some_and(|p| p.code == ProblemCode::RequestInProgress))
}

fn join(endpoint: &Url, path: &str) -> String {
    format!("{}{}", endpoint.as_str().trim_end_matches('/'), path)
}

/// rustls with the `ring` provider and the Mozilla roots compiled in: no
/// platform verifier to initialise from Java, and it cross-compiles to
/// Android and iOS without extra toolchains. Public so that hosts and tests
/// that make their own HTTP clients use the same TLS.
pub fn tls_client_config() -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidInput(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses() {
        assert!(is_transient(StatusCode::SERVICE_UNAVAILABLE, None));
        assert!(is_transient(StatusCode::TOO_MANY_REQUESTS, None));
        assert!(!is_transient(StatusCode::BAD_REQUEST, None));
        assert!(!is_transient(StatusCode::UNPROCESSABLE_ENTITY, None));
        let in_progress = Problem::new(409, ProblemCode::RequestInProgress, "busy");
        assert!(is_transient(StatusCode::CONFLICT, Some(&in_progress)));
        assert!(!is_transient(StatusCode::CONFLICT, None));
    }

    #[test]
    fn joins_with_and_without_slash() {
        let a: Url = "http://h:1/".parse().unwrap();
        let b: Url = "http://h:1/base".parse().unwrap();
        assert_eq!(join(&a, "/v1/devices"), "http://h:1/v1/devices");
        assert_eq!(join(&b, "/v1/devices"), "http://h:1/base/v1/devices");
    }
}
