//! Fault injection for QA: make chosen routes fail, stall, or lose their
//! answer after committing — the case that makes naive clients sync twice.
//!
//! A rule names a route as `METHOD /path/{param}` (as the router spells it),
//! or no route for every API route; admin and health routes are never
//! faulted. Rules live in the shared state store, so a rule set through one
//! instance holds for all of them.
//!
//! ```json
//! {"route": "POST /v1/devices", "action": "fail", "status": 503, "count": 2}
//! {"action": "drop_after_commit", "probability": 0.2, "seed": 7}
//! {"route": "PUT /v1/devices/{device_id}/consent", "action": "delay", "delay_ms": 300}
//! {"route": "GET /origin/{hash}", "action": "tamper", "count": 1}
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edgepoints_protocol::ProblemCode;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;
use crate::state::keys;
use crate::store::{get_json, update_json, StateStore, StoreError};
use crate::{ControlPlane, InstanceStats};

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with `status` without running the request.
    Fail {
        #[serde(default = "default_status")]
        #[schema(maximum = 65535)]
        status: u16,
        /// Seconds to put in a `Retry-After` header, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
    },
    /// Run and commit the request, store its result, then close the
    /// connection without answering.
    DropAfterCommit,
    /// Hold the request this long before running it.
    Delay { delay_ms: u64 },
    /// Run the request, then flip one byte in the middle of its answer's
    /// body: a corrupted origin, for testing that clients verify.
    Tamper,
}

fn default_status() -> u16 {
    503
}

/// One fault rule. Set over `POST /admin/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaultRule {
    /// `METHOD /path/{param}`, e.g. `POST /v1/devices`; none for every API route.
    #[serde(default)]
    pub route: Option<String>,
    #[serde(flatten)]
    pub action: FaultAction,
    /// How many matching requests it hits; none for every one until reset.
    #[serde(default)]
    pub count: Option<u32>,
    /// Chance (0 to 1) that a matching request is hit; none for certainty.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Seed of the random sequence behind `probability`, for reproducible runs.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl FaultRule {
    fn validate(&self) -> Result<(), String> {
        if let FaultAction::Fail { status, .. } = self.action {
            let status = StatusCode::from_u16(status).map_err(|e| e.to_string())?;
            if !(status.is_client_error() || status.is_server_error()) {
                return Err(format!("a failure needs a 4xx or 5xx status, not {status}"));
            }
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("probability must be between 0 and 1, got {p}"));
            }
        }
        if self.count == Some(0) {
            return Err("a count of 0 would never fire".into());
        }
        Ok(())
    }

    fn matches(&self, route: &str) -> bool {
        self.route.as_deref().is_none_or(|r| r == route)
    }
}

/// A rule with its progress: hits left and the state of its random sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActiveFault {
    #[serde(flatten)]
    pub rule: FaultRule,
    pub remaining: Option<u32>,
    rng_state: u64,
}

impl ActiveFault {
    /// Whether this request is hit; counts the hit.
    fn strike(&mut self) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        if let Some(p) = self.rule.probability {
            let mut rng = fastrand::Rng::with_seed(self.rng_state);
            let draw = rng.f64();
            self.rng_state = rng.get_seed();
            if draw >= p {
                return false;
            }
        }
        if let Some(left) = &mut self.remaining {
            *left -= 1;
        }
        true
    }
}

/// What happens to a request before it runs, and whether any rule may act
/// on it after it ran.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct BeforeRun {
    pub delay: Duration,
    pub fail: Option<StatusCode>,
    pub retry_after_s: Option<u64>,
    /// A tamper rule matched the route when the request started.
    pub may_tamper: bool,
    /// A drop-after-commit rule matched the route when the request started.
    pub may_drop: bool,
}

/// Marks a response whose request started with no drop-after-commit rule
/// for its route: the idempotency layer need not read the rules again to
/// know its answer is not to be lost. (A rule added while a request runs
/// acts from the next request on, as it would had it come a moment later.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoDropRule;

/// Adds a rule. A refused rule changes nothing.
pub async fn add(store: &dyn StateStore, rule: FaultRule) -> Result<Result<(), String>, StoreError> {
    if let Err(why) = rule.validate() {
        return Ok(Err(why));
    }
    let seed = rule.seed.unwrap_or_else(|| fastrand::u64(..));
    let active = ActiveFault {
        remaining: rule.count,
        rng_state: seed,
        rule,
    };
    update_json::<Vec<ActiveFault>, (), String>(store, keys::FAULTS, |rules| {
        let mut rules = rules.unwrap_or_default();
        rules.push(active.clone());
        Ok((Some(rules), ()))
    })
    .await
}

pub async fn reset(store: &dyn StateStore) -> Result<(), StoreError> {
    update_json::<Vec<ActiveFault>, (), ()>(store, keys::FAULTS, |_| Ok((None, ())))
        .await?
        .ok();
    Ok(())
}

pub async fn list(store: &dyn StateStore) -> Result<Vec<ActiveFault>, StoreError> {
    Ok(get_json(store, keys::FAULTS).await?.unwrap_or_default())
}

/// Applies the rules that act before a request runs.
pub(crate) async fn before_run(store: &dyn StateStore, route: &str) -> Result<BeforeRun, StoreError> {
    let outcome = update_json::<Vec<ActiveFault>, BeforeRun, ()>(store, keys::FAULTS, |rules| {
        let Some(mut rules) = rules else {
            return Ok((None, BeforeRun::default()));
        };
        let mut outcome = BeforeRun::default();
        for fault in rules.iter_mut().filter(|f| f.rule.matches(route)) {
            outcome.may_tamper |= fault.rule.action == FaultAction::Tamper;
            outcome.may_drop |= fault.rule.action == FaultAction::DropAfterCommit;
            match fault.rule.action.clone() {
                FaultAction::Delay { delay_ms } if fault.strike() => {
                    outcome.delay = outcome.delay.max(Duration::from_millis(delay_ms));
                }
                FaultAction::Fail { status, retry_after_s } if outcome.fail.is_none() && fault.strike() => {
                    outcome.fail = Some(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE));
                    outcome.retry_after_s = retry_after_s;
                }
                _ => {}
            }
        }
        rules.retain(|f| f.remaining != Some(0));
        Ok((if rules.is_empty() { None } else { Some(rules) }, outcome))
    })
    .await?;
    Ok(outcome.unwrap_or_default())
}

/// Whether a rule of `action` hits this request after it ran; counts the hit.
async fn strikes_after_run(store: &dyn StateStore, route: &str, action: FaultAction) -> Result<bool, StoreError> {
    let outcome = update_json::<Vec<ActiveFault>, bool, ()>(store, keys::FAULTS, |rules| {
        let Some(mut rules) = rules else {
            return Ok((None, false));
        };
        let mut hit = false;
        for fault in rules.iter_mut().filter(|f| f.rule.matches(route)) {
            if fault.rule.action == action && !hit && fault.strike() {
                hit = true;
            }
        }
        rules.retain(|f| f.remaining != Some(0));
        Ok((if rules.is_empty() { None } else { Some(rules) }, hit))
    })
    .await?;
    Ok(outcome.unwrap_or(false))
}

/// Whether the answer to a committed request is to be lost.
pub(crate) async fn drop_after_commit(store: &dyn StateStore, route: &str) -> Result<bool, StoreError> {
    let hit = strikes_after_run(store, route, FaultAction::DropAfterCommit).await?;
    if hit {
        crate::metrics::fault_fired(route, "drop_after_commit");
    }
    Ok(hit)
}

/// Flips a byte of the answer's body if a tamper rule hits this request.
async fn tamper(store: &dyn StateStore, route: &str, response: Response) -> Response {
    match strikes_after_run(store, route, FaultAction::Tamper).await {
        Ok(true) => {}
        Ok(false) => return response,
        Err(error) => return ApiError::from(error).into_response(),
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut bytes = bytes.to_vec();
    let middle = bytes.len() / 2;
    if let Some(middle) = bytes.get_mut(middle) {
        *middle ^= 0x01;
    }
    tracing::info!(%route, "injected tampering");
    crate::metrics::fault_fired(route, "tamper");
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Counts every API request by route, in the shared state and for this
/// instance; outermost, so replays count too.
pub(crate) async fn count_requests(
    State(control_plane): State<Arc<ControlPlane>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(stats) = request.extensions().get::<Arc<InstanceStats>>() {
        stats.count();
    }
    if let Err(error) = control_plane.count(&keys::requests(&route_of(&request))).await {
        return ApiError::from(error).into_response();
    }
    next.run(request).await
}

/// The fault middleware. It sits inside the idempotency layer: a delayed
/// request holds its key (a replay meanwhile gets 409, as with a slow server),
/// and an injected 5xx releases the key like any other 5xx.
pub(crate) async fn layer(State(control_plane): State<Arc<ControlPlane>>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let verdict = match before_run(control_plane.store(), &route).await {
        Ok(verdict) => verdict,
        Err(error) => return ApiError::from(error).into_response(),
    };
    if !verdict.delay.is_zero() {
        crate::metrics::fault_fired(&route, "delay");
        tokio::time::sleep(verdict.delay).await;
    }
    match verdict.fail {
        None => {
            let mut response = next.run(request).await;
            if !verdict.may_drop {
                response.extensions_mut().insert(NoDropRule);
            }
            if verdict.may_tamper {
                tamper(control_plane.store(), &route, response).await
            } else {
                response
            }
        }
        Some(status) => {
            tracing::info!(%route, %status, "injected fault");
            crate::metrics::fault_fired(&route, "fail");
            let mut response = ApiError::new(status, ProblemCode::InjectedFault, "injected fault")
                .detail(format!("fault injected on {route}"))
                .into_response();
            if let Some(seconds) = verdict.retry_after_s {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
            }
            response
        }
    }
}

/// `METHOD /path/{param}`, as rules and counters name routes.
pub(crate) fn route_of(request: &Request) -> String {
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
    use crate::store::MemoryStore;

    fn fail(route: Option<&str>, count: Option<u32>) -> FaultRule {
        FaultRule {
            route: route.map(str::to_owned),
            action: FaultAction::Fail {
                status: 503,
                retry_after_s: None,
            },
            count,
            probability: None,
            seed: None,
        }
    }

    #[tokio::test]
    async fn counted_failures_run_out_and_disappear() {
        let store = MemoryStore::default();
        add(&store, fail(Some("POST /v1/devices"), Some(2)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(before_run(&store, "PUT /other").await.unwrap().fail, None);
        assert!(before_run(&store, "POST /v1/devices").await.unwrap().fail.is_some());
        assert!(before_run(&store, "POST /v1/devices").await.unwrap().fail.is_some());
        assert_eq!(before_run(&store, "POST /v1/devices").await.unwrap().fail, None);
        assert!(list(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn probability_is_reproducible_from_its_seed() {
        let mut runs = Vec::new();
        for _ in 0..2 {
            let store = MemoryStore::default();
            let rule = FaultRule {
                probability: Some(0.3),
                seed: Some(42),
                ..fail(None, None)
            };
            add(&store, rule).await.unwrap().unwrap();
            let mut hits = Vec::new();
            for _ in 0..200 {
                hits.push(before_run(&store, "POST /x").await.unwrap().fail.is_some());
            }
            runs.push(hits);
        }
        assert_eq!(runs[0], runs[1]);
        let hit = runs[0].iter().filter(|h| **h).count();
        assert!((30..90).contains(&hit), "{hit} hits of 200 at p = 0.3");
    }

    #[tokio::test]
    async fn drop_rules_act_only_after_commit() {
        let store = MemoryStore::default();
        let rule = FaultRule {
            action: FaultAction::DropAfterCommit,
            ..fail(None, Some(1))
        };
        add(&store, rule).await.unwrap().unwrap();
        let before = before_run(&store, "POST /x").await.unwrap();
        assert_eq!(
            (before.fail, before.delay, before.may_drop),
            (None, Duration::ZERO, true)
        );
        assert!(drop_after_commit(&store, "POST /x").await.unwrap());
        assert!(!drop_after_commit(&store, "POST /x").await.unwrap());
    }

    #[tokio::test]
    async fn bad_rules_are_refused() {
        let store = MemoryStore::default();
        let ok_status = FaultRule {
            action: FaultAction::Fail {
                status: 200,
                retry_after_s: None,
            },
            ..fail(None, None)
        };
        assert!(add(&store, ok_status).await.unwrap().is_err());
        let certain = FaultRule {
            probability: Some(1.5),
            ..fail(None, None)
        };
        assert!(add(&store, certain).await.unwrap().is_err());
        assert!(list(&store).await.unwrap().is_empty());
    }
}
