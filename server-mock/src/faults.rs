//! Fault injection for QA: make chosen routes fail or slow down on purpose.
//!
//! A rule names a route as `METHOD /path/{param}` (as the router spells it),
//! or no route for all API routes. Admin and health routes are never faulted.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::ProblemCode;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;
use crate::ControlPlane;

/// One fault. Set over `POST /admin/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// `METHOD /path/{param}`, e.g. `POST /v1/devices`; `None` for every API route.
    #[serde(default)]
    pub route: Option<String>,
    /// Fail this many of the next matching requests, before they run.
    #[serde(default)]
    pub fail_next: u32,
    /// Status of an injected failure.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Delay every matching request by this long, until the rule is reset.
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_status() -> u16 {
    503
}

impl FaultRule {
    fn matches(&self, route: &str) -> bool {
        self.route.as_deref().is_none_or(|r| r == route)
    }

    fn is_spent(&self) -> bool {
        self.fail_next == 0 && self.delay_ms == 0
    }
}

/// The rules in force.
#[derive(Default)]
pub struct FaultTable {
    rules: Mutex<Vec<FaultRule>>,
}

enum Verdict {
    Pass { delay: Duration },
    Fail { delay: Duration, status: StatusCode },
}

impl FaultTable {
    pub fn add(&self, rule: FaultRule) -> Result<(), String> {
        let status = StatusCode::from_u16(rule.status).map_err(|e| e.to_string())?;
        if !(status.is_client_error() || status.is_server_error()) {
            return Err(format!(
                "an injected failure needs a 4xx or 5xx status, not {}",
                rule.status
            ));
        }
        self.lock().push(rule);
        Ok(())
    }

    pub fn reset(&self) {
        self.lock().clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn judge(&self, route: &str) -> Verdict {
        let mut rules = self.lock();
        let delay = rules
            .iter()
            .filter(|r| r.matches(route))
            .map(|r| Duration::from_millis(r.delay_ms))
            .max()
            .unwrap_or_default();
        let mut verdict = Verdict::Pass { delay };
        if let Some(rule) = rules.iter_mut().find(|r| r.matches(route) && r.fail_next > 0) {
            rule.fail_next -= 1;
            verdict = Verdict::Fail {
                delay,
                status: StatusCode::from_u16(rule.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            };
        }
        rules.retain(|r| !r.is_spent());
        verdict
    }
}

/// Counts every API request by route; outermost, so replays count too.
pub(crate) async fn count_requests(
    State(control_plane): State<Arc<ControlPlane>>,
    request: Request,
    next: Next,
) -> Response {
    control_plane.count_request(&route_of(&request));
    next.run(request).await
}

/// The fault middleware. It sits inside the idempotency layer: a delayed
/// request holds its key (a replay meanwhile gets 409, as with a slow server),
/// and an injected 5xx releases the key like any other 5xx.
pub(crate) async fn layer(State(control_plane): State<Arc<ControlPlane>>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    match control_plane.faults.judge(&route) {
        Verdict::Pass { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            next.run(request).await
        }
        Verdict::Fail { delay, status } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            tracing::info!(%route, %status, "injected fault");
            ApiError::new(status, ProblemCode::InjectedFault, "injected fault")
                .detail(format!("fault injected on {route}"))
                .into_response()
        }
    }
}

/// `METHOD /path/{param}`, as rules and counters name routes.
fn route_of(request: &Request) -> String {
    format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str())
            .unwrap_or_else(|| request.uri().path())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down_and_is_removed() {
        let table = FaultTable::default();
        table
            .add(FaultRule {
                route: Some("POST /v1/devices".into()),
                fail_next: 2,
                status: 503,
                delay_ms: 0,
            })
            .unwrap();
        assert!(matches!(table.judge("PUT /other"), Verdict::Pass { .. }));
        assert!(matches!(table.judge("POST /v1/devices"), Verdict::Fail { .. }));
        assert!(matches!(table.judge("POST /v1/devices"), Verdict::Fail { .. }));
        assert!(matches!(table.judge("POST /v1/devices"), Verdict::Pass { .. }));
        assert!(table.rules().is_empty());
    }

    #[test]
    fn refuses_non_error_statuses() {
        let table = FaultTable::default();
        let rule = FaultRule {
            route: None,
            fail_next: 1,
            status: 200,
            delay_ms: 0,
        };
        assert!(table.add(rule).is_err());
    }
}
