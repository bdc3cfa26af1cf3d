//! The HTTP surface: API routes (behind faults and idempotency), admin and
//! health routes (behind neither), and a problem+json 404 for the rest.

mod admin;
mod auth;
mod content;
pub(crate) mod coupons;
mod devices;
mod loyalty;
mod members;
mod nodes;
mod points;
mod rental;
mod review;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{middleware, Router};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{ProblemCode, SignedEnvelope};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::{faults, idempotency, ControlPlane, InstanceStats};

pub(crate) fn router(control_plane: Arc<ControlPlane>, stats: Arc<InstanceStats>) -> Router {
    // Layers added later run first: request counting, then idempotency,
    // then faults, then the handler.
    let api = Router::new()
        .route(templates::DEVICES, post(devices::register))
        .route(templates::DEVICE_CONSENT, put(devices::report_consent))
        .route(templates::DEVICE_OPERATION, get(devices::operation_status))
        .route(templates::DEVICE_NODE, put(nodes::announce))
        .route(templates::DEVICE_SOURCES, get(nodes::sources))
        .route(templates::DEVICE_HEARTBEATS, post(points::heartbeat))
        .route(templates::DEVICE_POINTS, get(points::balance))
        .route(templates::DEVICE_RECEIPTS, post(points::submit_receipt))
        .route(templates::DEVICE_LEDGER, get(points::ledger))
        .route(templates::DEVICE_HASH_FAILURES, post(nodes::report_hash_failure))
        .route(templates::DEVICE_MEMBERS, post(members::sign_up))
        .route(templates::DEVICE_LOGIN, post(members::login))
        .route(templates::DEVICE_LOGOUT, post(members::logout))
        .route(templates::DEVICE_MEMBER_CLOSE, post(members::close))
        .route(templates::DEVICE_SESSION, get(members::session))
        .route(templates::DEVICE_MEMBER_HEARTBEATS, post(members::heartbeat))
        .route(templates::DEVICE_MEMBER_POINTS, get(members::points))
        .route(templates::DEVICE_MEMBER_LEDGER, get(members::ledger))
        .route(templates::DEVICE_MERCHANT_ENROLMENT, post(coupons::enrol))
        .route(templates::DEVICE_ACTIVITIES, post(coupons::write))
        .route(templates::DEVICE_ACTIVITY_ACTIONS, post(coupons::act))
        .route(templates::DEVICE_CLAIMS, post(coupons::claim))
        .route(templates::DEVICE_REDEMPTIONS, post(coupons::redeem))
        .route(templates::DEVICE_ROLLBACKS, post(coupons::rollback))
        .route(templates::DEVICE_SHARES, post(coupons::share))
        .route(templates::DEVICE_CLAIM_ROLLBACKS, post(coupons::roll_back_claim))
        .route(templates::DEVICE_VALIDATIONS, post(coupons::validate))
        .route(templates::DEVICE_ACTIVITY_FUNNEL, get(coupons::device_funnel))
        .route(templates::DEVICE_REWARD_REDEMPTIONS, post(loyalty::redeem_reward))
        .route(templates::DEVICE_MEMBER_GRANTS, get(loyalty::grants))
        .route(templates::DEVICE_OFFLINE_REDEMPTIONS, post(coupons::settle_offline))
        .route(templates::DEVICE_OFFLINE_BUDGET, get(coupons::offline_budget))
        .route(templates::DEVICE_REDEMPTION_CONFLICTS, get(coupons::conflicts))
        .route(templates::DEVICE_RESERVATIONS, post(rental::reserve))
        .route(templates::DEVICE_RENTAL, get(rental::rental))
        .route(templates::DEVICE_CURRENT_RENTAL, get(rental::current_rental))
        .route(templates::DEVICE_MEMBER_CARD, put(rental::bind_card))
        .route(templates::DEVICE_CHARGING_RESERVATIONS, post(rental::reserve_charging))
        .route(templates::DEVICE_RENTAL_CANCEL, post(rental::cancel))
        .route(templates::DEVICE_RENTAL_START, post(rental::start))
        .route(templates::DEVICE_RENTAL_CONFIRM, post(rental::confirm))
        .route(templates::DEVICE_RENTAL_END, post(rental::end))
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
    let origin = Router::new()
        .route(templates::ORIGIN, get(content::origin))
        .route(templates::COUPON_TEMPLATES, get(coupons::list_templates))
        .route(templates::ACTIVITIES, get(coupons::list_live))
        .route(templates::ACTIVITY, get(coupons::one_live))
        .route(templates::COUPON_TRUST_LIST, get(coupons::trust_list))
        .route(templates::REWARDS, get(loyalty::offered_rewards))
        .route(templates::COUPON_REVOCATIONS, get(coupons::revocations))
        .route(templates::VEHICLES, get(rental::search))
        .route(templates::VEHICLE, get(rental::vehicle))
        .route(templates::STATIONS, get(rental::stations))
        .route(templates::STATION, get(rental::station))
        .route(templates::MANIFEST, get(content::manifest))
        .route_layer(middleware::from_fn_with_state(control_plane.clone(), faults::layer))
        .route_layer(middleware::from_fn_with_state(
            control_plane.clone(),
            faults::count_requests,
        ));
    Router::new()
        .merge(api)
        .merge(origin)
        .merge(admin::router())
        .route("/admin/clock", get(points::clock).post(points::advance_clock))
        .route("/admin/points-rules", get(points::rules).put(points::set_rules))
        .route("/admin/sessions", get(members::list_sessions))
        .route("/admin/sessions/{key}", axum::routing::delete(members::expire_session))
        .route(
            "/admin/session-timeouts",
            get(members::timeouts).put(members::set_timeouts),
        )
        .route(
            "/admin/review-rules/{tenant}",
            get(review::get_rules).put(review::set_rules),
        )
        .route("/admin/review-rules/{tenant}/check", post(review::check))
        .route(
            "/admin/members/{member_id}/notices",
            get(members::pending_notices).post(members::post_notice),
        )
        .route("/admin/rewards", get(loyalty::all_rewards).put(loyalty::put_reward))
        .route("/admin/points/check", get(loyalty::check))
        .route("/admin/activities/{activity_id}/funnel", get(coupons::admin_funnel))
        .route("/admin/coupons/{activity_id}/{serial}/revoke", post(coupons::revoke))
        .route(
            "/admin/merchants",
            get(coupons::list_merchants).post(coupons::create_merchant),
        )
        .route(
            "/admin/merchants/{merchant_id}/enrolment-codes",
            post(coupons::new_code),
        )
        .route("/admin/coupon-keys/rotate", post(coupons::rotate_keys))
        .route(
            "/admin/devices/{device_id}/offline-budget",
            axum::routing::put(coupons::set_offline_budget),
        )
        .route("/admin/vehicles", get(rental::admin_vehicles).post(rental::add_vehicle))
        .route("/admin/vehicles/{vehicle_id}", put(rental::edit_vehicle))
        .route("/admin/vehicles/{vehicle_id}/car", get(rental::car))
        .route("/admin/stations", get(rental::admin_stations))
        .route(
            "/admin/stations/{station_id}/connectors/{connector_id}",
            put(rental::set_connector),
        )
        .route("/admin/rentals", get(rental::admin_rentals))
        .route(
            "/admin/rental-tariff",
            get(rental::rental_tariff).put(rental::set_rental_tariff),
        )
        .route(
            "/admin/charging-tariff",
            get(rental::charging_tariff).put(rental::set_charging_tariff),
        )
        .route("/admin/queues", get(rental::queues))
        .route("/admin/queues/settings", put(rental::set_worker_settings))
        .route("/admin/queues/{stream}/crash", post(rental::crash_worker))
        .route(templates::HEALTHZ, get(|| async { "ok" }))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ProblemCode::MethodNotAllowed,
                "method not allowed",
            )
        })
        .layer(axum::Extension(stats))
        .with_state(control_plane)
}

/// Reads a JSON body into `T`, answering problem+json 400 when it is not.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not valid JSON for this route: {e}")))
}

pub(crate) fn parse_envelope(body: &Bytes) -> Result<SignedEnvelope, ApiError> {
    parse_json(body)
}
