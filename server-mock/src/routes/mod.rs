//! The HTTP surface: API routes (behind faults and idempotency), public
//! reads (behind faults), admin and health routes (behind neither), and a
//! problem+json 404 for the rest. Every route is registered with its OpenAPI
//! description (see [`crate::openapi`]).

mod admin;
mod auth;
mod console;
mod content;
pub(crate) mod coupons;
mod devices;
mod extract;
mod loyalty;
mod members;
mod nodes;
mod points;
mod rental;
mod review;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::{middleware, Router};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{ProblemCode, SignedEnvelope};
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::ApiError;
use crate::{faults, idempotency, ControlPlane, InstanceStats};
pub(crate) use auth::DevicePayload;

pub(crate) fn router(control_plane: Arc<ControlPlane>, stats: Arc<InstanceStats>) -> Router {
    // Layers added later run first: request counting, then idempotency,
    // then faults, then the handler.
    let api = OpenApiRouter::new()
        .routes(routes!(devices::register))
        .routes(routes!(devices::report_consent))
        .routes(routes!(devices::operation_status))
        .routes(routes!(nodes::announce))
        .routes(routes!(nodes::sources))
        .routes(routes!(points::heartbeat))
        .routes(routes!(points::balance))
        .routes(routes!(points::submit_receipt))
        .routes(routes!(points::ledger))
        .routes(routes!(nodes::report_hash_failure))
        .routes(routes!(members::sign_up))
        .routes(routes!(members::login))
        .routes(routes!(members::logout))
        .routes(routes!(members::close))
        .routes(routes!(members::session))
        .routes(routes!(members::heartbeat))
        .routes(routes!(members::points))
        .routes(routes!(members::ledger))
        .routes(routes!(coupons::enrol))
        .routes(routes!(coupons::write))
        .routes(routes!(coupons::act))
        .routes(routes!(coupons::claim))
        .routes(routes!(coupons::redeem))
        .routes(routes!(coupons::rollback))
        .routes(routes!(coupons::share))
        .routes(routes!(coupons::roll_back_claim))
        .routes(routes!(coupons::validate))
        .routes(routes!(coupons::device_funnel))
        .routes(routes!(loyalty::redeem_reward))
        .routes(routes!(loyalty::grants))
        .routes(routes!(coupons::settle_offline))
        .routes(routes!(coupons::offline_budget))
        .routes(routes!(coupons::conflicts))
        .routes(routes!(rental::reserve))
        .routes(routes!(rental::rental))
        .routes(routes!(rental::current_rental))
        .routes(routes!(rental::bind_card))
        .routes(routes!(rental::reserve_charging))
        .routes(routes!(rental::cancel))
        .routes(routes!(rental::start))
        .routes(routes!(rental::confirm))
        .routes(routes!(rental::end))
        .route_layer(middleware::from_fn_with_state(control_plane.clone(), faults::layer))
        .route_layer(middleware::from_fn_with_state(
            control_plane.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            control_plane.clone(),
            faults::count_requests,
        ));
    // Public reads — the manifest, the origin (QA corrupts it to test
    // verification), coupons, rewards, cars and stations — are faulted and
    // counted too, but need no idempotency.
    let public = OpenApiRouter::new()
        .routes(routes!(content::origin))
        .routes(routes!(coupons::list_templates))
        .routes(routes!(coupons::list_live))
        .routes(routes!(coupons::one_live))
        .routes(routes!(coupons::trust_list))
        .routes(routes!(loyalty::offered_rewards))
        .routes(routes!(coupons::revocations))
        .routes(routes!(rental::search))
        .routes(routes!(rental::vehicle))
        .routes(routes!(rental::stations))
        .routes(routes!(rental::station))
        .routes(routes!(content::manifest))
        .route_layer(middleware::from_fn_with_state(control_plane.clone(), faults::layer))
        .route_layer(middleware::from_fn_with_state(
            control_plane.clone(),
            faults::count_requests,
        ));
    let (router, document) = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(api)
        .merge(public)
        .merge(admin::router())
        .merge(console::router())
        .routes(routes!(points::clock, points::advance_clock))
        .routes(routes!(points::rules, points::set_rules))
        .routes(routes!(points::accounts))
        .routes(routes!(members::list_sessions))
        .routes(routes!(members::list_members))
        .routes(routes!(members::expire_session))
        .routes(routes!(members::timeouts, members::set_timeouts))
        .routes(routes!(review::get_rules, review::set_rules))
        .routes(routes!(review::check))
        .routes(routes!(members::pending_notices, members::post_notice))
        .routes(routes!(loyalty::all_rewards, loyalty::put_reward))
        .routes(routes!(loyalty::check))
        .routes(routes!(coupons::admin_funnel))
        .routes(routes!(coupons::admin_activities))
        .routes(routes!(coupons::revoke))
        .routes(routes!(coupons::list_merchants, coupons::create_merchant))
        .routes(routes!(coupons::new_code))
        .routes(routes!(coupons::rotate_keys))
        .routes(routes!(coupons::set_offline_budget))
        .routes(routes!(rental::admin_vehicles, rental::add_vehicle))
        .routes(routes!(rental::edit_vehicle))
        .routes(routes!(rental::car))
        .routes(routes!(rental::admin_stations))
        .routes(routes!(rental::set_connector))
        .routes(routes!(rental::admin_rentals))
        .routes(routes!(rental::rental_tariff, rental::set_rental_tariff))
        .routes(routes!(rental::charging_tariff, rental::set_charging_tariff))
        .routes(routes!(rental::queues))
        .routes(routes!(rental::set_worker_settings))
        .routes(routes!(rental::crash_worker))
        .routes(routes!(health))
        .routes(routes!(crate::metrics::render))
        .routes(routes!(crate::openapi::serve))
        .split_for_parts();
    let document = crate::openapi::finish(document);
    router
        // Every matched route is counted and timed; the fallbacks below count
        // themselves as `unmatched`.
        .route_layer(middleware::from_fn(crate::metrics::track))
        .fallback(|| async {
            crate::metrics::unmatched(StatusCode::NOT_FOUND);
            ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "no such route")
        })
        .method_not_allowed_fallback(|| async {
            crate::metrics::unmatched(StatusCode::METHOD_NOT_ALLOWED);
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ProblemCode::MethodNotAllowed,
                "method not allowed",
            )
        })
        .layer(axum::Extension(document))
        .layer(axum::Extension(stats))
        .with_state(control_plane)
}

/// `GET /healthz`: this instance answers.
#[utoipa::path(get, path = templates::HEALTHZ, tag = "health", responses((status = 200, body = String, description = "`ok`")))]
async fn health() -> &'static str {
    "ok"
}

/// Reads a JSON body into `T`, answering problem+json 400 when it is not.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not valid JSON for this route: {e}")))
}

pub(crate) fn parse_envelope(body: &Bytes) -> Result<SignedEnvelope, ApiError> {
    parse_json(body)
}
