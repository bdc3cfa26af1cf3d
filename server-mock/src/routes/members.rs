//! Members over HTTP: sign-up, login, logout and account closing (device-
//! signed envelopes), the session read, and the session admin for QA.

use std::net::SocketAddr;
use std::sync::Arc;

use super::extract::Json;
use super::extract::Path;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::{
    paths, DeviceId, LedgerPage, MemberHeartbeat, MemberHeartbeatAccepted, MemberLogin, MemberSession, MemberSignUp,
    MemberSignedUp, Notice, NoticePost, PointsBalance, ProblemCode, Purpose, SessionEnd, SessionEnded, SessionTimeouts,
    SESSION_HEADER,
};

use super::auth::{DevicePayload, DeviceSigned};
use super::devices::{parse_device_id, signed_read};
use crate::members::{self, CloseRefused, LoginRefused, SessionExpired, SessionRecord, SignUpRefused};
use crate::notices;
use crate::problem::ApiError;
use crate::ControlPlane;

impl DevicePayload for MemberSignUp {
    const PURPOSE: Purpose = Purpose::MemberSignUp;
    const MISMATCH: &'static str = "the sign-up names another device";
    const FIELD: &'static str = "sign_up.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for MemberLogin {
    const PURPOSE: Purpose = Purpose::MemberLogin;
    const MISMATCH: &'static str = "the login names another device";
    const FIELD: &'static str = "login.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for MemberHeartbeat {
    const PURPOSE: Purpose = Purpose::MemberHeartbeat;
    const MISMATCH: &'static str = "the heartbeat names another device";
    const FIELD: &'static str = "heartbeat.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for SessionEnd {
    const PURPOSE: Purpose = Purpose::SessionEnd;
    const MISMATCH: &'static str = "the request names another device";
    const FIELD: &'static str = "session_end.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

pub(super) fn session_expired() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ProblemCode::SessionExpired,
        "the session expired or was ended: log in again",
    )
}

fn login_refused(refused: LoginRefused) -> ApiError {
    match refused {
        LoginRefused::Failed => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemCode::LoginFailed,
            "wrong member name or password",
        ),
        LoginRefused::TooManyAttempts { retry_after_s } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ProblemCode::TooManyAttempts,
            "too many failed logins for this member: wait before trying again",
        )
        .retry_after(retry_after_s),
    }
}

/// The endpoint a call came through, as its `Host` names it.
/// The live session `key` of a member logged in on `device_id`, for a
/// member's signed call that carries its session key in the payload.
pub(super) async fn live_session(
    control_plane: &ControlPlane,
    headers: &HeaderMap,
    key: &str,
    device_id: &DeviceId,
) -> Result<SessionRecord, ApiError> {
    members::use_session(control_plane, key, device_id, endpoint(headers))
        .await?
        .map_err(|SessionExpired| session_expired())
}

pub(super) fn endpoint(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `POST /v1/devices/{device_id}/members`: a new account.
#[utoipa::path(
    post,
    path = templates::DEVICE_MEMBERS,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<MemberSignUp>, description = "Signed by the device of the path"),
    responses((status = 201, body = MemberSignedUp), crate::openapi::Problems),
)]
pub(super) async fn sign_up(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { payload, .. }: DeviceSigned<MemberSignUp>,
) -> Result<(StatusCode, Json<MemberSignedUp>), ApiError> {
    match members::sign_up(&control_plane, &payload.member, &payload.password).await? {
        Ok(record) => Ok((
            StatusCode::CREATED,
            Json(MemberSignedUp {
                member_id: record.member_id,
                member: record.member,
                created_at_ms: record.created_at_ms,
            }),
        )),
        Err(SignUpRefused::Input(why)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "member name or password refused",
        )
        .detail(why.to_string())),
        Err(SignUpRefused::Taken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ProblemCode::MemberTaken,
            "that member name is taken",
        )),
    }
}

/// `POST /v1/devices/{device_id}/login`: a new session for the device.
#[utoipa::path(
    post,
    path = templates::DEVICE_LOGIN,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<MemberLogin>, description = "Signed by the device of the path"),
    responses((status = 200, body = MemberSession), crate::openapi::Problems),
)]
pub(super) async fn login(
    State(control_plane): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<MemberLogin>,
) -> Result<Json<MemberSession>, ApiError> {
    members::login(
        &control_plane,
        &payload.member,
        &payload.password,
        &device_id,
        peer.to_string(),
        endpoint(&headers),
    )
    .await?
    .map(Json)
    .map_err(login_refused)
}

fn ended(session: &SessionRecord, sessions_ended: u32) -> Json<SessionEnded> {
    Json(SessionEnded {
        member_id: session.member_id.clone(),
        sessions_ended,
    })
}

/// `POST /v1/devices/{device_id}/logout`: ends the session.
#[utoipa::path(
    post,
    path = templates::DEVICE_LOGOUT,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<SessionEnd>, description = "Signed by the device of the path"),
    responses((status = 200, body = SessionEnded), crate::openapi::Problems),
)]
pub(super) async fn logout(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<SessionEnd>,
) -> Result<Json<SessionEnded>, ApiError> {
    match members::logout(&control_plane, &payload.session_key, &device_id).await? {
        Ok(session) => Ok(ended(&session, 1)),
        Err(SessionExpired) => Err(session_expired()),
    }
}

/// `POST /v1/devices/{device_id}/members/close`: ends the account and its
/// sessions; the password is asked again.
#[utoipa::path(
    post,
    path = templates::DEVICE_MEMBER_CLOSE,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<SessionEnd>, description = "Signed by the device of the path"),
    responses((status = 200, body = SessionEnded), crate::openapi::Problems),
)]
pub(super) async fn close(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<SessionEnd>,
) -> Result<Json<SessionEnded>, ApiError> {
    let password = payload
        .password
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("closing an account asks for the password"))?;
    match members::close(&control_plane, &payload.session_key, &device_id, password).await? {
        Ok((member_id, sessions_ended)) => Ok(Json(SessionEnded {
            member_id,
            sessions_ended,
        })),
        Err(CloseRefused::Session) => Err(session_expired()),
        Err(CloseRefused::Login(refused)) => Err(login_refused(refused)),
    }
}

/// A member read: signed by the device (for `path`) and carrying a live
/// session of it, which the read renews. The session.
pub(super) async fn member_read(
    control_plane: &ControlPlane,
    device_id: &DeviceId,
    headers: &HeaderMap,
    path: &str,
) -> Result<SessionRecord, ApiError> {
    signed_read(control_plane, device_id, headers, path).await?;
    let key = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(session_expired)?;
    members::use_session(control_plane, key, device_id, endpoint(headers))
        .await?
        .map_err(|SessionExpired| session_expired())
}

/// `GET /v1/devices/{device_id}/session`: a signed read with the session
/// key; renews the session's idle expiry.
#[utoipa::path(
    get,
    path = templates::DEVICE_SESSION,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::MemberRead),
    responses((status = 200, body = MemberSession), crate::openapi::Problems),
)]
pub(super) async fn session(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<MemberSession>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_session(device_id.as_str());
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    Ok(Json(members::describe(
        &session,
        members::timeouts(&control_plane).await?,
    )))
}

/// `POST /v1/devices/{device_id}/member-heartbeats`: keeps the session,
/// drops the notices it acknowledges, and answers the rest.
#[utoipa::path(
    post,
    path = templates::DEVICE_MEMBER_HEARTBEATS,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<MemberHeartbeat>, description = "Signed by the device of the path"),
    responses((status = 200, body = MemberHeartbeatAccepted), crate::openapi::Problems),
)]
pub(super) async fn heartbeat(
    State(control_plane): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    DeviceSigned { device_id, payload, .. }: DeviceSigned<MemberHeartbeat>,
) -> Result<Json<MemberHeartbeatAccepted>, ApiError> {
    let session = members::use_session(&control_plane, &payload.session_key, &device_id, endpoint(&headers))
        .await?
        .map_err(|SessionExpired| session_expired())?;
    let notices = notices::acknowledge(&control_plane, &session.member_id, &payload.acked).await?;
    let timeouts = members::timeouts(&control_plane).await?;
    Ok(Json(MemberHeartbeatAccepted {
        session: members::describe(&session, timeouts),
        next_interval_ms: timeouts.heartbeat_interval_ms,
        notices,
    }))
}

/// `GET /v1/devices/{device_id}/member/points`: the member's balance.
#[utoipa::path(
    get,
    path = templates::DEVICE_MEMBER_POINTS,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::MemberRead),
    responses((status = 200, body = PointsBalance), crate::openapi::Problems),
)]
pub(super) async fn points(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PointsBalance>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_member_points(device_id.as_str());
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    Ok(Json(
        crate::points::member_balance(&control_plane, &device_id, &session.member_id).await?,
    ))
}

/// `GET /v1/devices/{device_id}/member/ledger/{after}`: the member's ledger.
#[utoipa::path(
    get,
    path = templates::DEVICE_MEMBER_LEDGER,
    tag = "members",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("after" = u64, Path, description = "The last entry already seen; 0 for the first page"), crate::openapi::MemberRead),
    responses((status = 200, body = LedgerPage), crate::openapi::Problems),
)]
pub(super) async fn ledger(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, after)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Result<Json<LedgerPage>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let path = paths::device_member_ledger(device_id.as_str(), after);
    let session = member_read(&control_plane, &device_id, &headers, &path).await?;
    crate::points::settle(&control_plane, &device_id, &session.member_id, false).await?;
    let member = crate::points::member_points(&control_plane, &session.member_id).await?;
    Ok(Json(super::points::ledger_page(member.account.ledger, after)))
}

/// `POST /admin/members/{member_id}/notices`: QA posts a notice.
#[utoipa::path(
    post,
    path = "/admin/members/{member_id}/notices",
    tag = "admin",
    params(("member_id" = String, Path)),
    request_body = NoticePost,
    responses((status = 201, body = Notice), crate::openapi::Problems),
)]
pub(super) async fn post_notice(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(member_id): Path<String>,
    Json(notice): Json<NoticePost>,
) -> Result<(StatusCode, Json<Notice>), ApiError> {
    if notice.text.is_empty()
        || notice.text.len() > notices::MAX_TEXT
        || notice.kind.is_empty()
        || notice.kind.len() > 64
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "a notice has a kind of 1 to 64 bytes and a text of 1 to 1000",
        ));
    }
    if !members::member_exists(&control_plane, &member_id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            "no such member",
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(notices::post(&control_plane, &member_id, notice).await?),
    ))
}

/// `GET /admin/members/{member_id}/notices`: notices not yet acknowledged.
#[utoipa::path(
    get,
    path = "/admin/members/{member_id}/notices",
    tag = "admin",
    params(("member_id" = String, Path)),
    responses((status = 200, body = Vec<Notice>), crate::openapi::Problems),
)]
pub(super) async fn pending_notices(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(member_id): Path<String>,
) -> Result<Json<Vec<Notice>>, ApiError> {
    Ok(Json(notices::pending(&control_plane, &member_id).await?))
}

/// `GET /admin/members`: every member account, without password material.
#[utoipa::path(
    get,
    path = "/admin/members",
    tag = "admin",
    responses((status = 200, body = Vec<members::MemberView>), crate::openapi::Problems),
)]
pub(super) async fn list_members(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<members::MemberView>>, ApiError> {
    Ok(Json(members::all(&control_plane).await?))
}

/// `GET /admin/sessions`: every open session.
#[utoipa::path(
    get,
    path = "/admin/sessions",
    tag = "admin",
    responses((status = 200, body = Vec<SessionRecord>), crate::openapi::Problems),
)]
pub(super) async fn list_sessions(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<SessionRecord>>, ApiError> {
    Ok(Json(members::sessions(&control_plane).await?))
}

/// `DELETE /admin/sessions/{key}`: ends a session, as an expiry would.
#[utoipa::path(
    delete,
    path = "/admin/sessions/{key}",
    tag = "admin",
    params(("key" = String, Path)),
    responses((status = 204), crate::openapi::Problems),
)]
pub(super) async fn expire_session(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    if members::expire(&control_plane, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            "no such session",
        ))
    }
}

#[utoipa::path(
    get,
    path = "/admin/session-timeouts",
    tag = "admin",
    responses((status = 200, body = SessionTimeouts), crate::openapi::Problems),
)]
pub(super) async fn timeouts(
    State(control_plane): State<Arc<ControlPlane>>,
) -> Result<Json<SessionTimeouts>, ApiError> {
    Ok(Json(members::timeouts(&control_plane).await?))
}

/// `PUT /admin/session-timeouts`: the idle and absolute timeouts.
#[utoipa::path(
    put,
    path = "/admin/session-timeouts",
    tag = "admin",
    request_body = SessionTimeouts,
    responses((status = 200, body = SessionTimeouts), crate::openapi::Problems),
)]
pub(super) async fn set_timeouts(
    State(control_plane): State<Arc<ControlPlane>>,
    Json(timeouts): Json<SessionTimeouts>,
) -> Result<Json<SessionTimeouts>, ApiError> {
    if let Some(problem) = timeouts.problem() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::MalformedRequest,
            "timeouts refused",
        )
        .detail(problem));
    }
    members::set_timeouts(&control_plane, timeouts).await?;
    Ok(Json(timeouts))
}
