//! Spending points over HTTP: the rewards catalogue, redeeming a reward,
//! the member's grants; for QA, editing the catalogue and the balance check.

use std::sync::Arc;

use super::extract::Json;
use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use edgepoints_protocol::loyalty::{BalanceCheck, Reward, RewardGrant, RewardRedemption};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{paths, DeviceId, ProblemCode, Purpose};

use super::auth::{DevicePayload, DeviceSigned};
use super::coupons::{member_required, not_enough_points};
use super::devices::parse_device_id;
use super::members::{live_session, member_read};
use crate::loyalty::rewards::{self, RewardRefused};
use crate::problem::ApiError;
use crate::ControlPlane;

impl DevicePayload for RewardRedemption {
    const PURPOSE: Purpose = Purpose::RewardRedemption;
    const MISMATCH: &'static str = "the redemption names another device";
    const FIELD: &'static str = "redemption.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

/// `GET /v1/rewards`: the rewards offered now.
#[utoipa::path(
    get,
    path = templates::REWARDS,
    tag = "loyalty",
    responses((status = 200, body = Vec<Reward>), crate::openapi::Problems),
)]
pub(super) async fn offered_rewards(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<Reward>>, ApiError> {
    let mut rewards = rewards::catalogue(&control_plane).await?;
    rewards.retain(|r| r.active);
    Ok(Json(rewards))
}

/// `POST /v1/devices/{device_id}/reward-redemptions`: the member's points
/// for a reward, once.
#[utoipa::path(
    post,
    path = templates::DEVICE_REWARD_REDEMPTIONS,
    tag = "loyalty",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<RewardRedemption>, description = "Signed by the device of the path"),
    responses((status = 201, body = RewardGrant), crate::openapi::Problems),
)]
pub(super) async fn redeem_reward(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<RewardRedemption>,
) -> Result<(StatusCode, Json<RewardGrant>), ApiError> {
    if payload.session_key.is_empty() {
        return Err(member_required());
    }
    let session = live_session(&control_plane, &headers, &payload.session_key, &device_id).await?;
    match rewards::redeem(&control_plane, &device_id, &session.member_id, &payload.reward_id).await? {
        Ok(grant) => {
            control_plane
                .count(&crate::state::keys::applied("reward_redemptions"))
                .await?;
            Ok((StatusCode::CREATED, Json(grant)))
        }
        Err(RewardRefused::NotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            "no such reward offered",
        )),
        Err(RewardRefused::NotEnoughPoints(short)) => Err(not_enough_points(short)),
    }
}

/// `GET /v1/devices/{device_id}/member/grants`: the member's grants.
#[utoipa::path(
    get,
    path = templates::DEVICE_MEMBER_GRANTS,
    tag = "loyalty",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::MemberRead),
    responses((status = 200, body = Vec<RewardGrant>), crate::openapi::Problems),
)]
pub(super) async fn grants(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<RewardGrant>>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_member_grants(device_id.as_str());
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    Ok(Json(rewards::grants(&control_plane, &session.member_id).await?))
}

/// `GET /admin/rewards`: every reward, offered or not.
#[utoipa::path(
    get,
    path = "/admin/rewards",
    tag = "admin",
    responses((status = 200, body = Vec<Reward>), crate::openapi::Problems),
)]
pub(super) async fn all_rewards(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<Vec<Reward>>, ApiError> {
    Ok(Json(rewards::catalogue(&control_plane).await?))
}

/// `PUT /admin/rewards` with a reward: added, or replacing its namesake.
#[utoipa::path(
    put,
    path = "/admin/rewards",
    tag = "admin",
    request_body = Reward,
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn put_reward(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(reward): Json<Reward>,
) -> Result<StatusCode, ApiError> {
    if let Some(problem) = reward.problem() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            problem,
        ));
    }
    rewards::put_reward(&control_plane, reward).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/points/check`: every balance against its ledger, every
/// bought coupon and grant against its debit.
#[utoipa::path(
    get,
    path = "/admin/points/check",
    tag = "admin",
    responses((status = 200, body = BalanceCheck), crate::openapi::Problems),
)]
pub(super) async fn check(State(control_plane): State<Arc<ControlPlane>>) -> Result<Json<BalanceCheck>, ApiError> {
    Ok(Json(crate::loyalty::integrity::check(&control_plane).await?))
}
