//! HTTP to the control plane: reqwest over rustls (ring provider), JSON, an
//! `Idempotency-Key` on every mutating request, and retries of transient
//! failures with the same key.
//!
//! Which endpoint: the configured endpoints stand on a consistent-hash ring
//! ([`ring`]); a member's calls (before login, the device's) go to the first
//! healthy endpoint of the member's preference list, so they stick to one
//! endpoint and move to the next only when it is ejected ([`outlier`]).
//! How often: transient failures (connect error, timeout, a body cut short,
//! 5xx, 408, 429, and a 409 that says the first attempt is still running)
//! are retried with capped exponential backoff and full jitter, honouring
//! `Retry-After`, within a retry budget ([`budget`]). Everything else is final
//! and comes back at once.

mod budget;
mod outlier;
mod retry;
mod retrying;
mod ring;
mod signed_get;
mod signed_post;

pub(crate) use retrying::retrying;
pub(crate) use signed_get::signed_get;
pub(crate) use signed_post::signed_post;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use edgepoints_protocol::{paths, Problem, ProblemCode, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;
use url::Url;

pub use budget::RetryBudgetPolicy;
pub use outlier::OutlierPolicy;
pub use retry::RetryPolicy;

use self::budget::RetryBudget;
use self::outlier::{Availability, OutlierDetector};
use self::ring::EndpointRing;
use crate::{Config, Error, TransportFailure};

/// The overall deadline of a streamed download: only a backstop, as the
/// wait between chunks is bounded by the caller.
const STREAM_DEADLINE: Duration = Duration::from_secs(3600);

/// One logical request; it may be sent several times.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: Method,
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// Required for every mutating method; the same key on every attempt.
    pub idempotency_key: Option<String>,
    /// Extra headers, e.g. the signature of a signed read.
    pub headers: Vec<(&'static str, String)>,
}

impl Outgoing {
    pub(crate) fn get(path: String) -> Self {
        Outgoing {
            method: Method::GET,
            path,
            body: None,
            idempotency_key: None,
            headers: Vec::new(),
        }
    }
}

/// The outcome of one attempt.
#[derive(Debug)]
pub(crate) enum Attempted {
    Done {
        status: u16,
        body: Vec<u8>,
        replayed: bool,
    },
    /// Final: the same request will never succeed (or, with
    /// `retry_after`, not before then: a login slowed down).
    Refused {
        status: u16,
        problem: Problem,
        retry_after: Option<Duration>,
    },
    /// May succeed later, with the same key.
    Transient {
        failure: TransportFailure,
        retry_after: Option<Duration>,
    },
}

impl Attempted {
    /// A single attempt as a call's result: the body, or the error.
    pub(crate) fn into_body(self) -> Result<Vec<u8>, Error> {
        match self {
            Attempted::Done { body, .. } => Ok(body),
            Attempted::Refused { status, problem, .. } => Err(Error::Rejected { status, problem }),
            Attempted::Transient { failure, retry_after } => Err(Error::Unavailable {
                attempts: 1,
                retry_after,
                last: failure,
            }),
        }
    }
}

pub(crate) struct Transport {
    client: reqwest::Client,
    endpoints: Vec<Url>,
    ring: EndpointRing,
    retry: RetryPolicy,
    health: Arc<Mutex<OutlierDetector>>,
    budget: Mutex<RetryBudget>,
    /// Whose calls these are: the member id once logged in, else the device id.
    sticky_key: RwLock<String>,
    probe_timeout: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Transport {
    pub(crate) fn new(config: &Config, sticky_key: &str) -> Result<Transport, Error> {
        let tls = tls_client_config()?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("edgepoints-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::HttpClientSetup(e.to_string()))?;
        Ok(Transport {
            client,
            ring: EndpointRing::new(&config.endpoints),
            endpoints: config.endpoints.clone(),
            retry: config.retry.clone(),
            health: Arc::new(Mutex::new(OutlierDetector::new(
                config.outlier.clone(),
                config.endpoints.len(),
            ))),
            budget: Mutex::new(RetryBudget::new(config.retry_budget.clone())),
            sticky_key: RwLock::new(sticky_key.to_owned()),
            probe_timeout: config.connect_timeout,
        })
    }

    /// Whose calls these are from now on: the member id after a login, the
    /// device id after a logout. The member's calls then stick to the
    /// member's endpoint, whichever device makes them.
    pub(crate) fn stick_to(&self, key: &str) {
        *self.sticky_key.write().unwrap_or_else(|p| p.into_inner()) = key.to_owned();
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The endpoint the next call goes to.
    pub(crate) fn current_endpoint(&self) -> Url {
        self.endpoints[self.choose()].clone()
    }

    /// The first healthy endpoint of the sticky key's preference list;
    /// starts probes of endpoints whose ejection is over. If every endpoint
    /// is ejected, the preferred one anyway: trying beats giving up.
    fn choose(&self) -> usize {
        let order = self
            .ring
            .preference(&self.sticky_key.read().unwrap_or_else(|p| p.into_inner()));
        let now = Instant::now();
        let mut health = lock(&self.health);
        let mut chosen = None;
        for &index in &order {
            match health.availability(index, now) {
                Availability::Healthy => {
                    chosen.get_or_insert(index);
                }
                Availability::DueForProbe => {
                    if health.start_probe(index) {
                        self.spawn_probe(index);
                    }
                }
                Availability::Ejected => {}
            }
        }
        chosen.unwrap_or(order[0])
    }

    fn spawn_probe(&self, index: usize) {
        let url = join(&self.endpoints[index], paths::HEALTHZ);
        let client = self.client.clone();
        let health = self.health.clone();
        let timeout = self.probe_timeout;
        tokio::spawn(async move {
            let healthy = client
                .get(url)
                .timeout(timeout)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            lock(&health).probe_finished(index, healthy, Instant::now());
        });
    }

    /// One attempt. `retry` says whether it repeats an earlier attempt; a
    /// retry the budget does not allow is not sent and comes back transient.
    pub(crate) async fn attempt(&self, request: &Outgoing, retry: bool) -> Attempted {
        if retry && !lock(&self.budget).try_retry(Instant::now()) {
            return Attempted::Transient {
                failure: TransportFailure::RetryBudgetExhausted,
                retry_after: None,
            };
        }
        if !retry {
            lock(&self.budget).record_request(Instant::now());
        }
        let index = self.choose();
        let outcome = self.send(&self.endpoints[index], request).await;
        let mut health = lock(&self.health);
        match &outcome {
            Attempted::Transient {
                failure: TransportFailure::Status { status: 429, .. },
                ..
            } => {}
            Attempted::Transient { failure, .. } => {
                tracing::warn!(
                    method = %request.method,
                    path = %request.path,
                    endpoint = %self.endpoints[index],
                    error = %failure,
                    "transient failure"
                );
                health.record_failure(index, Instant::now());
            }
            Attempted::Done { .. } | Attempted::Refused { .. } => health.record_success(index),
        }
        outcome
    }

    /// Starts a `GET` of `location` (a path on the control plane, or an
    /// absolute URL) with `headers`, and hands back the response for
    /// streaming its body. `first_byte` bounds the wait for the answer's
    /// head; the body has no overall deadline (the caller bounds the wait
    /// between chunks), so big items on slow links are not cut off.
    pub(crate) async fn fetch(
        &self,
        location: &str,
        headers: &[(&'static str, &str)],
        first_byte: Duration,
    ) -> Result<reqwest::Response, TransportFailure> {
        let url = if location.starts_with('/') {
            join(&self.endpoints[self.choose()], location)
        } else {
            location.to_owned()
        };
        let mut request = self.client.get(url).timeout(STREAM_DEADLINE);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = tokio::time::timeout(first_byte, request.send())
            .await
            .map_err(|_| TransportFailure::Recorded(format!("no answer within {first_byte:?}")))??;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(TransportFailure::Status {
                status: response.status().as_u16(),
                problem: None,
            })
        }
    }

    async fn send(&self, endpoint: &Url, request: &Outgoing) -> Attempted {
        match self.try_send(endpoint, request).await {
            Ok(outcome) => outcome,
            Err(http) => Attempted::Transient {
                failure: TransportFailure::Http(http),
                retry_after: None,
            },
        }
    }

    async fn try_send(&self, endpoint: &Url, request: &Outgoing) -> Result<Attempted, reqwest::Error> {
        let mut builder = self
            .client
            .request(request.method.clone(), join(endpoint, &request.path));
        if let Some(key) = &request.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
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
                status: status.as_u16(),
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
            retry_after,
        })
    }
}

fn is_transient(status: StatusCode, problem: Option<&Problem>) -> bool {
    let code = problem.map(|p| p.code);
    status.is_server_error()
        // A login slowed down for failures is the person's to retry, not
        // the transport's: trying again at once only fails again.
        || (status == StatusCode::TOO_MANY_REQUESTS && code != Some(ProblemCode::TooManyAttempts))
        || status == StatusCode::REQUEST_TIMEOUT
        || (status == StatusCode::CONFLICT && code == Some(ProblemCode::RequestInProgress))
}

fn join(endpoint: &Url, path: &str) -> String {
    format!("{}{}", endpoint.as_str().trim_end_matches('/'), path)
}

/// A plain HTTP client with the SDK's TLS setup, for hosts, tools and tests
/// that talk HTTP beside the SDK (the workspace builds reqwest without a
/// default crypto provider, so `reqwest::Client::new()` would panic).
pub fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_client_config()?)
        .build()
        .map_err(|e| Error::HttpClientSetup(e.to_string()))
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
        .map_err(|e| Error::HttpClientSetup(format!("TLS: {e}")))?
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
        let slowed = Problem::new(429, ProblemCode::TooManyAttempts, "wait");
        assert!(!is_transient(StatusCode::TOO_MANY_REQUESTS, Some(&slowed)));
    }

    #[test]
    fn joins_with_and_without_slash() {
        let a: Url = "http://h:1/".parse().unwrap();
        let b: Url = "http://h:1/base".parse().unwrap();
        assert_eq!(join(&a, "/v1/devices"), "http://h:1/v1/devices");
        assert_eq!(join(&b, "/v1/devices"), "http://h:1/base/v1/devices");
    }
}
