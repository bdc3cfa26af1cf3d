//! Prometheus metrics of the mock control plane, at `GET /metrics`, through
//! the `metrics` facade and its Prometheus exporter.
//!
//! | series | labels | what |
//! |---|---|---|
//! | `edgepoints_mock_requests_total` | `route`, `status` | every request answered |
//! | `edgepoints_mock_request_duration_seconds` | `route` | time to answer (histogram) |
//! | `edgepoints_mock_idempotent_replays_total` | `route` | stored answers replayed |
//! | `edgepoints_mock_faults_fired_total` | `route`, `action` | injected faults that struck |
//! | `edgepoints_mock_heartbeats_total` | `outcome` (`accepted`, `refused`) | node heartbeats the accounting took or refused (duplicate, replayed, out of order); a forged one is a 4xx of its route |
//! | `edgepoints_mock_routing_lookups_total` | | "nearest nodes holding X" answers |
//! | `edgepoints_mock_signature_batch_size` | `outcome` (`valid`, `failed`) | device signatures checked together (histogram); a failed batch was checked again one by one |
//! | `edgepoints_mock_queue_length` | `stream` | messages in a queue stream (read at scrape) |
//! | `edgepoints_mock_queue_pending` | `stream` | messages taken and not yet acknowledged |
//!
//! `route` is the route as the router matched it (`POST /v1/devices`), never
//! the raw path: a fuzzer's random paths all count as `unmatched`, so the
//! number of series stays bounded. The recorder is the process's: instances
//! in one process (`--instances 3`) add into the same series, as the
//! instances of one control plane.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::problem::ApiError;
use crate::ControlPlane;

/// Latency buckets in seconds: the mock answers in microseconds to
/// milliseconds, and QA's delay faults take hundreds of milliseconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Signature batch sizes, up to the most a batch takes.
const BATCH_BUCKETS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, crate::signature_batches::MOST_AT_ONCE as f64];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. If the host process set
/// another global recorder, the mock's series go there and `/metrics`
/// renders only what this handle saw (nothing).
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(SIGNATURE_BATCH_SIZE.into()), &BATCH_BUCKETS))
                .expect("the buckets are not empty")
        };
        builder()
            .install_recorder()
            .unwrap_or_else(|_| builder().build_recorder().handle())
    })
}

/// Counts and times every request, by matched route and status.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = route_label(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("edgepoints_mock_requests_total", "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("edgepoints_mock_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A request no route matched (a wrong path, or a wrong method).
pub(crate) fn unmatched(status: axum::http::StatusCode) {
    metrics::counter!("edgepoints_mock_requests_total", "route" => "unmatched", "status" => status.as_u16().to_string())
        .increment(1);
}

fn route_label(request: &Request) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(path) => format!("{} {}", request.method(), path.as_str()),
        None => "unmatched".to_owned(),
    }
}

pub(crate) fn idempotent_replay(route: &str) {
    metrics::counter!("edgepoints_mock_idempotent_replays_total", "route" => route.to_owned()).increment(1);
}

pub(crate) fn fault_fired(route: &str, action: &'static str) {
    metrics::counter!("edgepoints_mock_faults_fired_total", "route" => route.to_owned(), "action" => action)
        .increment(1);
}

pub(crate) fn heartbeat(accepted: bool) {
    let outcome = if accepted { "accepted" } else { "refused" };
    metrics::counter!("edgepoints_mock_heartbeats_total", "outcome" => outcome).increment(1);
}

const SIGNATURE_BATCH_SIZE: &str = "edgepoints_mock_signature_batch_size";

pub(crate) fn signature_batch(size: usize, valid: bool) {
    let outcome = if valid { "valid" } else { "failed" };
    metrics::histogram!(SIGNATURE_BATCH_SIZE, "outcome" => outcome).record(size as f64);
}

pub(crate) fn routing_lookup() {
    metrics::counter!("edgepoints_mock_routing_lookups_total").increment(1);
}

/// `GET /metrics`: the Prometheus text format, with the queues' depths read
/// from the shared state now.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), crate::openapi::Problems),
)]
pub(crate) async fn render(State(control_plane): State<Arc<ControlPlane>>) -> Result<Response, ApiError> {
    let queues = crate::rental::workers::view(&control_plane).await?;
    for stream in queues.streams {
        metrics::gauge!("edgepoints_mock_queue_length", "stream" => stream.stream.clone()).set(stream.length as f64);
        metrics::gauge!("edgepoints_mock_queue_pending", "stream" => stream.stream).set(stream.pending.len() as f64);
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        recorder().render(),
    )
        .into_response())
}
