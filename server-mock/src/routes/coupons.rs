//! Coupons over HTTP: merchant enrolment, activity drafts and their review,
//! the public list of live activities, claims, the trust list, and the
//! merchant and key admin for QA.

use std::sync::Arc;

use super::extract::Json;
use super::extract::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use edgepoints_protocol::coupons::activities::{
    templates, Activity, ActivityAction, ActivityState, ActivityWrite, ClaimRollback, ClaimRolledBack, ClaimedCoupon,
    CouponClaim, MerchantEnrolled, MerchantEnrolment, Share, ShareRequest, Template,
};
use edgepoints_protocol::coupons::funnel::{ActivityFunnel, OnlineValidation, ValidationRequest};
use edgepoints_protocol::coupons::redemption::{
    Redemption, RedemptionRequest, RollbackRequest, RolledBack, MAX_ORDER_REF,
};
use edgepoints_protocol::coupons::TrustList;
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{DeviceId, ProblemCode, Purpose, SignedEnvelope};
use serde::Deserialize;

use super::auth::{DevicePayload, DeviceSigned};
use crate::coupons::activities::{self, ActivityRefused, ClaimRefused, Claimer};
use crate::coupons::claim_rollbacks::{self, ClaimRollbackRefused};
use crate::coupons::funnel;
use crate::coupons::issuer;
use crate::coupons::merchants::{self, EnrolmentCode, EnrolmentRefused, MerchantCreated, MerchantRecord};
use crate::coupons::redemptions::{self, RedeemRefused};
use crate::coupons::shares::{self, ShareRefused};
use crate::problem::ApiError;
use crate::review::rules::DEFAULT_TENANT;
use crate::ControlPlane;

macro_rules! device_payload {
    ($payload:ty, $purpose:expr, $what:literal) => {
        impl DevicePayload for $payload {
            const PURPOSE: Purpose = $purpose;
            const MISMATCH: &'static str = concat!("the ", $what, " names another device");
            const FIELD: &'static str = concat!($what, ".device_id");
            fn device(&self) -> &DeviceId {
                &self.device_id
            }
        }
    };
}

device_payload!(MerchantEnrolment, Purpose::MerchantEnrolment, "enrolment");
device_payload!(ActivityWrite, Purpose::ActivityWrite, "activity");
device_payload!(ActivityAction, Purpose::ActivityAction, "action");
device_payload!(CouponClaim, Purpose::CouponClaim, "claim");
device_payload!(RedemptionRequest, Purpose::Redemption, "redemption");
device_payload!(RollbackRequest, Purpose::Rollback, "rollback");
device_payload!(ShareRequest, Purpose::Share, "share");
device_payload!(ClaimRollback, Purpose::ClaimRollback, "claim rollback");
device_payload!(ValidationRequest, Purpose::CouponValidation, "validation");
device_payload!(
    edgepoints_protocol::coupons::redemption::OfflineRedemption,
    Purpose::OfflineRedemption,
    "offline redemption"
);

/// `POST /v1/devices/{device_id}/offline-redemptions`: settles a redemption
/// made offline; a conflict is an answer (both tills hear of it), not a
/// refusal.
#[utoipa::path(
    post,
    path = templates::DEVICE_OFFLINE_REDEMPTIONS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<edgepoints_protocol::coupons::redemption::OfflineRedemption>, description = "Signed by the device of the path"),
    responses((status = 200, body = edgepoints_protocol::coupons::redemption::Settlement), crate::openapi::Problems),
)]
pub(super) async fn settle_offline(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<edgepoints_protocol::coupons::redemption::OfflineRedemption>,
) -> Result<Json<edgepoints_protocol::coupons::redemption::Settlement>, ApiError> {
    let settled = redemptions::settle_offline(&control_plane, &device_id, &payload)
        .await?
        .map_err(redeem_refused)?;
    control_plane
        .count(&crate::state::keys::applied("offline_redemptions"))
        .await?;
    Ok(Json(settled))
}

/// `GET /v1/devices/{device_id}/offline-budget` (a signed read).
#[utoipa::path(
    get,
    path = templates::DEVICE_OFFLINE_BUDGET,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::SignedRead),
    responses((status = 200, body = edgepoints_protocol::coupons::redemption::OfflineBudget), crate::openapi::Problems),
)]
pub(super) async fn offline_budget(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<edgepoints_protocol::coupons::redemption::OfflineBudget>, ApiError> {
    let device_id = super::devices::parse_device_id(&device_id)?;
    let path = edgepoints_protocol::paths::device_offline_budget(device_id.as_str());
    super::devices::signed_read(&control_plane, &device_id, &headers, &path).await?;
    Ok(Json(redemptions::offline_budget(&control_plane, &device_id).await?))
}

/// `GET /v1/devices/{device_id}/redemption-conflicts` (a signed read).
#[utoipa::path(
    get,
    path = templates::DEVICE_REDEMPTION_CONFLICTS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::SignedRead),
    responses((status = 200, body = Vec<edgepoints_protocol::coupons::redemption::RedemptionConflict>), crate::openapi::Problems),
)]
pub(super) async fn conflicts(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<edgepoints_protocol::coupons::redemption::RedemptionConflict>>, ApiError> {
    let device_id = super::devices::parse_device_id(&device_id)?;
    let path = edgepoints_protocol::paths::device_redemption_conflicts(device_id.as_str());
    super::devices::signed_read(&control_plane, &device_id, &headers, &path).await?;
    Ok(Json(redemptions::conflicts_of(&control_plane, &device_id).await?))
}

/// `POST /v1/devices/{device_id}/shares`: records a share and gives its link.
#[utoipa::path(
    post,
    path = templates::DEVICE_SHARES,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ShareRequest>, description = "Signed by the device of the path"),
    responses((status = 201, body = Share), crate::openapi::Problems),
)]
pub(super) async fn share(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: axum::http::HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ShareRequest>,
) -> Result<(StatusCode, Json<Share>), ApiError> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    match shares::share(
        &control_plane,
        &device_id,
        &payload.activity_id,
        &payload.channel,
        &format!("http://{host}"),
    )
    .await?
    {
        Ok(share) => {
            control_plane.count(&crate::state::keys::applied("shares")).await?;
            Ok((StatusCode::CREATED, Json(share)))
        }
        Err(ShareRefused::NotLive) => Err(not_found("live activity")),
        Err(ShareRefused::BadChannel) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "a channel is 1 to 32 characters",
        )),
    }
}

fn redeem_refused(refused: RedeemRefused) -> ApiError {
    let conflict = |code, title: &str| ApiError::new(StatusCode::CONFLICT, code, title);
    match refused {
        RedeemRefused::NotAMerchant => ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::NotAMerchant,
            "this device acts for no merchant: enrol it first",
        ),
        RedeemRefused::NotFound => not_found("coupon of this merchant"),
        RedeemRefused::AlreadyRedeemed => conflict(ProblemCode::AlreadyRedeemed, "the coupon was redeemed already"),
        RedeemRefused::Revoked => conflict(ProblemCode::Revoked, "the coupon was revoked"),
        RedeemRefused::Expired => conflict(ProblemCode::Expired, "the coupon has expired"),
        RedeemRefused::RollbackWindowClosed => conflict(
            ProblemCode::RollbackWindowClosed,
            "the redemption can no longer be rolled back",
        ),
        RedeemRefused::Replayed => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::StaleRequest,
            "this offline redemption's counter was taken before",
        ),
        RedeemRefused::OverBudget => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::OfflineBudgetExceeded,
            "the device's offline budget for the day is used up",
        ),
    }
}

/// `POST /v1/devices/{device_id}/redemptions`: redeems a coupon, once.
#[utoipa::path(
    post,
    path = templates::DEVICE_REDEMPTIONS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<RedemptionRequest>, description = "Signed by the device of the path"),
    responses((status = 201, body = Redemption), crate::openapi::Problems),
)]
pub(super) async fn redeem(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<RedemptionRequest>,
) -> Result<(StatusCode, Json<Redemption>), ApiError> {
    if payload.order_ref.chars().count() > MAX_ORDER_REF {
        return Err(ApiError::bad_request("an order reference is at most 64 characters"));
    }
    let redemption = redemptions::redeem(&control_plane, &device_id, &payload.presentation, &payload.order_ref)
        .await?
        .map_err(redeem_refused)?;
    control_plane.count(&crate::state::keys::applied("redemptions")).await?;
    Ok((StatusCode::CREATED, Json(redemption)))
}

/// `POST /v1/devices/{device_id}/rollbacks`: gives a use back, in the window.
#[utoipa::path(
    post,
    path = templates::DEVICE_ROLLBACKS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<RollbackRequest>, description = "Signed by the device of the path"),
    responses((status = 200, body = RolledBack), crate::openapi::Problems),
)]
pub(super) async fn rollback(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<RollbackRequest>,
) -> Result<Json<RolledBack>, ApiError> {
    let rolled_back = redemptions::rollback(&control_plane, &device_id, &payload.activity_id, &payload.redemption_id)
        .await?
        .map_err(redeem_refused)?;
    Ok(Json(rolled_back))
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, &format!("no such {what}"))
}

fn activity_refused(refused: ActivityRefused) -> ApiError {
    match refused {
        ActivityRefused::NotAMerchant => ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::NotAMerchant,
            "this device acts for no merchant: enrol it first",
        ),
        ActivityRefused::NotFound => not_found("activity of this merchant"),
        ActivityRefused::Invalid(problems) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::InvalidActivity,
            "the draft does not fit its template",
        )
        .detail(problems.join("; ")),
        ActivityRefused::WrongState(state) => ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::ActivityState,
            "not possible in the activity's state",
        )
        .detail(format!("{state:?}")),
    }
}

/// `POST /v1/devices/{device_id}/merchant-enrolment`.
#[utoipa::path(
    post,
    path = templates::DEVICE_MERCHANT_ENROLMENT,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<MerchantEnrolment>, description = "Signed by the device of the path"),
    responses((status = 200, body = MerchantEnrolled), crate::openapi::Problems),
)]
pub(super) async fn enrol(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<MerchantEnrolment>,
) -> Result<Json<MerchantEnrolled>, ApiError> {
    match merchants::enrol(&control_plane, &device_id, &payload.code).await? {
        Ok(merchant) => Ok(Json(MerchantEnrolled {
            merchant_id: merchant.merchant_id,
            name: merchant.name,
            shops: merchant.shops,
        })),
        // 404 for a wrong or spent code alike: a code is not enumerable.
        Err(EnrolmentRefused::BadCode) => Err(not_found("enrolment code")),
        Err(EnrolmentRefused::OtherMerchant) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::ActivityState,
            "this device acts for another merchant",
        )),
    }
}

/// `POST /v1/devices/{device_id}/activities`: a new draft, or an edit.
#[utoipa::path(
    post,
    path = templates::DEVICE_ACTIVITIES,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ActivityWrite>, description = "Signed by the device of the path"),
    responses((status = 201, body = Activity), crate::openapi::Problems),
)]
pub(super) async fn write(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ActivityWrite>,
) -> Result<(StatusCode, Json<Activity>), ApiError> {
    let created = payload.activity_id.is_none();
    let activity = activities::write(
        &control_plane,
        &device_id,
        payload.activity_id.as_deref(),
        payload.draft,
    )
    .await?
    .map_err(activity_refused)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(activity)))
}

/// `POST /v1/devices/{device_id}/activity-actions`: submit or withdraw.
#[utoipa::path(
    post,
    path = templates::DEVICE_ACTIVITY_ACTIONS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ActivityAction>, description = "Signed by the device of the path"),
    responses((status = 200, body = Activity), crate::openapi::Problems),
)]
pub(super) async fn act(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ActivityAction>,
) -> Result<Json<Activity>, ApiError> {
    let activity = activities::act(&control_plane, &device_id, &payload.activity_id, payload.step)
        .await?
        .map_err(activity_refused)?;
    Ok(Json(activity))
}

/// `GET /v1/coupon-templates`.
#[utoipa::path(
    get,
    path = templates::COUPON_TEMPLATES,
    tag = "coupons",
    responses((status = 200, body = Vec<Template>), crate::openapi::Problems),
)]
pub(super) async fn list_templates() -> Json<Vec<Template>> {
    Json(templates())
}

/// `GET /v1/activities`: every live activity, nearest first when the
/// request carries `Edgepoints-Location`.
#[utoipa::path(
    get,
    path = templates::ACTIVITIES,
    tag = "coupons",
    params(("Edgepoints-Location" = Option<String>, Header, description = "`latitude,longitude`: nearest shop first")),
    responses((status = 200, body = Vec<Activity>), crate::openapi::Problems),
)]
pub(super) async fn list_live(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<Activity>>, ApiError> {
    let near = headers
        .get(edgepoints_protocol::LOCATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(edgepoints_protocol::Location::from_header);
    Ok(Json(activities::live(&control_plane, near).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ViewQuery {
    /// The referral code of the share link the page was opened through.
    #[serde(default, rename = "ref")]
    #[param(rename = "ref")]
    referral: Option<String>,
}

/// `GET /v1/activities/{activity_id}[?ref=code]`: a live activity; counted
/// as a view in its funnel, for the channel of the share it came through.
#[utoipa::path(
    get,
    path = templates::ACTIVITY,
    tag = "coupons",
    params(("activity_id" = String, Path), ViewQuery),
    responses((status = 200, body = Activity), crate::openapi::Problems),
)]
pub(super) async fn one_live(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(activity_id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Json<Activity>, ApiError> {
    let activity = activities::activity(&control_plane, &activity_id)
        .await?
        .map(|r| r.activity)
        .filter(|a| a.state == ActivityState::Live)
        .ok_or_else(|| not_found("live activity"))?;
    let referral = query.referral.as_deref().map(str::trim).filter(|c| !c.is_empty());
    funnel::count_view(&control_plane, &activity_id, referral).await?;
    Ok(Json(activity))
}

/// `POST /v1/devices/{device_id}/claims`: a coupon, held by the device's
/// key; for an activity priced in points, paid by the member whose session
/// the claim carries.
#[utoipa::path(
    post,
    path = templates::DEVICE_CLAIMS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<CouponClaim>, description = "Signed by the device of the path"),
    responses((status = 201, body = ClaimedCoupon), crate::openapi::Problems),
)]
pub(super) async fn claim(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: axum::http::HeaderMap,
    DeviceSigned {
        device_id,
        payload,
        device,
    }: DeviceSigned<CouponClaim>,
) -> Result<(StatusCode, Json<ClaimedCoupon>), ApiError> {
    let holder_key = control_plane
        .device_keys
        .decode(&device.public_key)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .to_bytes();
    // A session that ended only matters if the activity has a price: a
    // free coupon is the device's to claim either way.
    let (session, session_ended) = match &payload.session_key {
        Some(key) => {
            match crate::members::use_session(&control_plane, key, &device_id, super::members::endpoint(&headers))
                .await?
            {
                Ok(session) => (Some(session), false),
                Err(crate::members::SessionExpired) => (None, true),
            }
        }
        None => (None, false),
    };
    let claimer = Claimer {
        device: &device_id,
        holder_key,
        member: session.as_ref().map(|s| s.member_id.as_str()),
    };
    let refused = |code, title: &str| ApiError::new(StatusCode::CONFLICT, code, title);
    match activities::claim(&control_plane, claimer, &payload.activity_id, payload.referral).await? {
        Ok(coupon) => {
            control_plane.count(&crate::state::keys::applied("claims")).await?;
            Ok((StatusCode::CREATED, Json(coupon)))
        }
        Err(ClaimRefused::NotFound) => Err(not_found("live activity")),
        Err(ClaimRefused::NotNow) => Err(refused(ProblemCode::NotClaimable, "the activity is not running now")),
        Err(ClaimRefused::SoldOut) => Err(refused(ProblemCode::UsageLimitReached, "every coupon is claimed")),
        Err(ClaimRefused::PerCustomerLimit) => Err(refused(
            ProblemCode::PerCustomerLimitReached,
            "this customer has claimed as many as allowed",
        )),
        Err(ClaimRefused::InvalidReferral) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::InvalidReferral,
            "the referral code is not a share of this activity, or it is the claimer's own",
        )),
        Err(ClaimRefused::MerchantDevice) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::NotClaimable,
            "a merchant's device does not claim coupons",
        )),
        Err(ClaimRefused::MemberRequired) if session_ended => Err(super::members::session_expired()),
        Err(ClaimRefused::MemberRequired) => Err(member_required()),
        Err(ClaimRefused::NotEnoughPoints(short)) => Err(not_enough_points(short)),
    }
}

pub(super) fn member_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ProblemCode::MemberRequired,
        "points are spent by a logged-in member: log in first",
    )
}

pub(super) fn not_enough_points(short: crate::points::NotEnoughPoints) -> ApiError {
    let mut refused = ApiError::new(
        StatusCode::CONFLICT,
        ProblemCode::NotEnoughPoints,
        "the member's points do not cover the price",
    )
    .detail(format!("balance {}, needed {}", short.balance, short.needed));
    refused.0.points = Some(Box::new(edgepoints_protocol::PointsShortfall {
        balance: short.balance,
        needed: short.needed,
    }));
    refused
}

/// `POST /v1/devices/{device_id}/claim-rollbacks`: the holder gives an
/// unused coupon back (refunded as its activity's rule says).
#[utoipa::path(
    post,
    path = templates::DEVICE_CLAIM_ROLLBACKS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ClaimRollback>, description = "Signed by the device of the path"),
    responses((status = 200, body = ClaimRolledBack), crate::openapi::Problems),
)]
pub(super) async fn roll_back_claim(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ClaimRollback>,
) -> Result<Json<ClaimRolledBack>, ApiError> {
    match claim_rollbacks::roll_back(&control_plane, &device_id, &payload.activity_id, &payload.serial).await? {
        Ok(rolled_back) => Ok(Json(rolled_back)),
        Err(ClaimRollbackRefused::NotFound) => Err(not_found("coupon held by this device")),
        Err(ClaimRollbackRefused::Used) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::CouponUsed,
            "the coupon was redeemed, revoked or has expired: nothing to give back",
        )),
    }
}

/// `POST /v1/devices/{device_id}/validations`: where the coupon behind a
/// presentation stands, for a till that is online.
#[utoipa::path(
    post,
    path = templates::DEVICE_VALIDATIONS,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ValidationRequest>, description = "Signed by the device of the path"),
    responses((status = 200, body = OnlineValidation), crate::openapi::Problems),
)]
pub(super) async fn validate(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<ValidationRequest>,
) -> Result<Json<OnlineValidation>, ApiError> {
    redemptions::validate(&control_plane, &device_id, &payload.presentation)
        .await?
        .map(Json)
        .map_err(redeem_refused)
}

/// `GET /v1/devices/{device_id}/activities/{activity_id}/funnel` (a signed
/// read by a device of the activity's merchant).
#[utoipa::path(
    get,
    path = templates::DEVICE_ACTIVITY_FUNNEL,
    tag = "coupons",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("activity_id" = String, Path), crate::openapi::SignedRead),
    responses((status = 200, body = ActivityFunnel), crate::openapi::Problems),
)]
pub(super) async fn device_funnel(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, activity_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<ActivityFunnel>, ApiError> {
    let device_id = super::devices::parse_device_id(&device_id)?;
    let path = edgepoints_protocol::paths::device_activity_funnel(device_id.as_str(), &activity_id);
    super::devices::signed_read(&control_plane, &device_id, &headers, &path).await?;
    let Some(merchant_id) = merchants::merchant_of(&control_plane, &device_id).await? else {
        return Err(redeem_refused(RedeemRefused::NotAMerchant));
    };
    let record = activities::activity(&control_plane, &activity_id)
        .await?
        .filter(|r| r.activity.merchant_id == merchant_id)
        .ok_or_else(|| not_found("activity of this merchant"))?;
    Ok(Json(funnel::funnel(&control_plane, &record).await?))
}

/// `GET /admin/activities`: every activity with its review findings,
/// claimed coupons and their redemptions.
#[utoipa::path(
    get,
    path = "/admin/activities",
    tag = "admin",
    responses((status = 200, body = Vec<activities::ActivityRecord>), crate::openapi::Problems),
)]
pub(super) async fn admin_activities(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<activities::ActivityRecord>>, ApiError> {
    Ok(Json(activities::all(&control_plane).await?))
}

/// `GET /admin/activities/{activity_id}/funnel`.
#[utoipa::path(
    get,
    path = "/admin/activities/{activity_id}/funnel",
    tag = "admin",
    params(("activity_id" = String, Path)),
    responses((status = 200, body = ActivityFunnel), crate::openapi::Problems),
)]
pub(super) async fn admin_funnel(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(activity_id): Path<String>,
) -> Result<Json<ActivityFunnel>, ApiError> {
    let record = activities::activity(&control_plane, &activity_id)
        .await?
        .ok_or_else(|| not_found("activity"))?;
    Ok(Json(funnel::funnel(&control_plane, &record).await?))
}

/// `GET /v1/coupons/trust-list`: the issuing keys, signed.
#[utoipa::path(
    get,
    path = templates::COUPON_TRUST_LIST,
    tag = "coupons",
    responses((status = 200, body = SignedEnvelope), crate::openapi::Problems),
)]
pub(super) async fn trust_list(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<SignedEnvelope>, ApiError> {
    Ok(Json(issuer::signed_trust_list(&control_plane).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NewMerchant {
    name: String,
    shops: Vec<String>,
    #[serde(default)]
    tenant: Option<String>,
    /// Where shops are, by name.
    #[serde(default)]
    locations: std::collections::BTreeMap<String, edgepoints_protocol::Location>,
}

/// `POST /admin/merchants` `{"name", "shops", "tenant"?}`.
#[utoipa::path(
    post,
    path = "/admin/merchants",
    tag = "admin",
    request_body = NewMerchant,
    responses((status = 201, body = MerchantCreated), crate::openapi::Problems),
)]
pub(super) async fn create_merchant(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(new): Json<NewMerchant>,
) -> Result<(StatusCode, Json<MerchantCreated>), ApiError> {
    if new.name.trim().is_empty() || new.shops.is_empty() || new.shops.iter().any(|s| s.trim().is_empty()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "a merchant has a name and at least one named shop",
        ));
    }
    let tenant = new.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned());
    if new
        .locations
        .iter()
        .any(|(shop, at)| !new.shops.contains(shop) || !at.is_valid())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "a location names one of the shops and is a valid latitude and longitude",
        ));
    }
    let merchant = merchants::create(&control_plane, new.name.trim(), new.shops, &tenant, new.locations).await?;
    let enrolment_code = merchants::new_enrolment_code(&control_plane, &merchant.merchant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(MerchantCreated {
            merchant,
            enrolment_code,
        }),
    ))
}

/// `GET /admin/merchants`.
#[utoipa::path(
    get,
    path = "/admin/merchants",
    tag = "admin",
    responses((status = 200, body = Vec<MerchantRecord>), crate::openapi::Problems),
)]
pub(super) async fn list_merchants(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<MerchantRecord>>, ApiError> {
    Ok(Json(merchants::merchants(&control_plane).await?))
}

/// `POST /admin/merchants/{merchant_id}/enrolment-codes`: another code.
#[utoipa::path(
    post,
    path = "/admin/merchants/{merchant_id}/enrolment-codes",
    tag = "admin",
    params(("merchant_id" = String, Path)),
    responses((status = 201, body = EnrolmentCode), crate::openapi::Problems),
)]
pub(super) async fn new_code(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(merchant_id): Path<String>,
) -> Result<(StatusCode, Json<EnrolmentCode>), ApiError> {
    if merchants::merchant(&control_plane, &merchant_id).await?.is_none() {
        return Err(not_found("merchant"));
    }
    let enrolment_code = merchants::new_enrolment_code(&control_plane, &merchant_id).await?;
    Ok((StatusCode::CREATED, Json(EnrolmentCode { enrolment_code })))
}

/// `POST /admin/coupon-keys/rotate`: a new issuing key; the old one retired.
#[utoipa::path(
    post,
    path = "/admin/coupon-keys/rotate",
    tag = "admin",
    responses((status = 200, body = TrustList), crate::openapi::Problems),
)]
pub(super) async fn rotate_keys(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<TrustList>, ApiError> {
    Ok(Json(issuer::rotate(&control_plane).await?))
}

/// `GET /v1/coupons/revocations/{after}`: the revocation log's delta.
#[utoipa::path(
    get,
    path = templates::COUPON_REVOCATIONS,
    tag = "coupons",
    params(("after" = u64, Path, description = "The last entry already seen; 0 for the first page")),
    responses((status = 200, body = edgepoints_protocol::coupons::redemption::RevocationPage), crate::openapi::Problems),
)]
pub(super) async fn revocations(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(after): Path<u64>,
) -> Result<Json<edgepoints_protocol::coupons::redemption::RevocationPage>, ApiError> {
    Ok(Json(crate::coupons::revocations::page(&control_plane, after).await?))
}

/// `POST /admin/coupons/{activity_id}/{serial}/revoke`.
#[utoipa::path(
    post,
    path = "/admin/coupons/{activity_id}/{serial}/revoke",
    tag = "admin",
    params(("activity_id" = String, Path), ("serial" = String, Path)),
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn revoke(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((activity_id, serial)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if crate::coupons::revocations::revoke(&control_plane, &activity_id, &serial).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("coupon"))
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct BudgetSetting {
    max_count: u32,
    #[serde(default)]
    max_value_cents: Option<u64>,
}

/// `PUT /admin/devices/{device_id}/offline-budget`
/// `{"max_count": N, "max_value_cents": V?}`.
#[utoipa::path(
    put,
    path = "/admin/devices/{device_id}/offline-budget",
    tag = "admin",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id")),
    request_body = BudgetSetting,
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn set_offline_budget(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    Json(setting): Json<BudgetSetting>,
) -> Result<StatusCode, ApiError> {
    let device_id = super::devices::parse_device_id(&device_id)?;
    redemptions::set_offline_budget(&control_plane, &device_id, setting.max_count, setting.max_value_cents).await?;
    Ok(StatusCode::NO_CONTENT)
}
