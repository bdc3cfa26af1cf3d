//! Device registration, consent reports and the sync-status query.

use std::sync::Arc;

use super::extract::Json;
use super::extract::Path;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use edgepoints_protocol::consent::validate_terms_version;
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::request_auth::{verify_request, RequestAuthError, DEVICE_SIGNATURE_HEADER};
use edgepoints_protocol::{
    paths, ConsentDecision, ConsentRecorded, ConsentReport, DeviceId, DeviceRegistered, DeviceRegistration,
    EnvelopeError, OperationState, OperationStatus, ProblemCode, Purpose,
};

use super::auth::DeviceSigned;
use super::{parse_envelope, parse_json};
use crate::idempotency::{self, Record};
use crate::problem::ApiError;
use crate::signature_batches::Refusal;
use crate::state::{keys, unix_millis, ConsentRecord, DeviceRecord};
use crate::store::update_json;
use crate::ControlPlane;

fn signature_refused(error: EnvelopeError) -> ApiError {
    match error {
        EnvelopeError::BadSignature => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemCode::BadSignature,
            "signature does not verify",
        ),
        EnvelopeError::WrongPurpose { .. } => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemCode::BadSignature,
            "envelope is for another purpose",
        )
        .detail(error.to_string()),
        EnvelopeError::Malformed(_) | EnvelopeError::BadPayload(_) => ApiError::bad_request(error.to_string()),
    }
}

/// Opens a device-signed envelope addressed to `device_id`'s route: it must
/// be signed by that device's registered key, for `purpose`.
pub(super) async fn device_envelope<T: serde::de::DeserializeOwned>(
    control_plane: &ControlPlane,
    device_id: &DeviceId,
    body: &Bytes,
    purpose: Purpose,
) -> Result<(T, DeviceRecord), ApiError> {
    let envelope = parse_envelope(body)?;
    if envelope.key_id != device_id.as_str() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::DeviceMismatch,
            "signed by another device",
        ));
    }
    let device = control_plane.device(device_id).await?.ok_or_else(unknown_device)?;
    let public_key = control_plane
        .device_keys
        .device_key(&device.public_key)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let check = envelope.signature_check(purpose).map_err(signature_refused)?;
    let verified = match control_plane.signature_batches.verify(check, public_key).await {
        Ok(verified) => verified,
        Err(Refusal::BadSignature) => return Err(signature_refused(EnvelopeError::BadSignature)),
        Err(Refusal::CheckerGone) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::Unavailable,
                "the control plane is shutting down",
            ))
        }
    };
    let payload = parse_json(&Bytes::from(verified.into_payload()))?;
    Ok((payload, device))
}

/// Checks the signature header of a device's signed `GET` of `path`.
pub(super) async fn signed_read(
    control_plane: &ControlPlane,
    device_id: &DeviceId,
    headers: &HeaderMap,
    path: &str,
) -> Result<DeviceRecord, ApiError> {
    let device = control_plane.device(device_id).await?.ok_or_else(unknown_device)?;
    let public_key = control_plane
        .device_keys
        .decode(&device.public_key)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let header = headers
        .get(DEVICE_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ProblemCode::BadSignature,
                "signature header missing",
            )
        })?;
    verify_request(header, &public_key, "GET", path, unix_millis()).map_err(|e| match e {
        RequestAuthError::Stale => ApiError::new(StatusCode::UNAUTHORIZED, ProblemCode::StaleRequest, "stale request"),
        other => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemCode::BadSignature,
            "signature does not verify",
        )
        .detail(other.to_string()),
    })?;
    Ok(device)
}

pub(super) fn unknown_device() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::UnknownDevice, "unknown device")
}

pub(super) fn parse_device_id(text: &str) -> Result<DeviceId, ApiError> {
    DeviceId::parse(text).map_err(|e| unknown_device().detail(e.to_string()))
}

/// `POST /v1/devices`: a registration signed by the key it announces.
#[utoipa::path(
    post,
    path = templates::DEVICES,
    tag = "devices",
    params(crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<DeviceRegistration>, description = "Signed by the key it registers"),
    responses((status = 201, body = DeviceRegistered), (status = 200, body = DeviceRegistered, description = "Registered before"), crate::openapi::Problems),
)]
pub(super) async fn register(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<(StatusCode, Json<DeviceRegistered>), ApiError> {
    let envelope = parse_envelope(&body)?;
    let claimed: DeviceRegistration =
        serde_json::from_slice(&envelope.unverified_payload().map_err(signature_refused)?)
            .map_err(|e| ApiError::bad_request(format!("registration payload: {e}")))?;
    let public_key = control_plane
        .device_keys
        .decode(&claimed.public_key)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if DeviceId::from_public_key(&public_key) != claimed.device_id || envelope.key_id != claimed.device_id.as_str() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::DeviceMismatch,
            "device id is not derived from the announced key",
        ));
    }
    let registration: DeviceRegistration = envelope
        .open(Purpose::DeviceRegistration, &public_key)
        .map_err(signature_refused)?;
    if registration.platform.len() > 32 || registration.app_version.len() > 64 || registration.sdk_version.len() > 64 {
        return Err(ApiError::bad_request("platform or version strings are too long"));
    }
    let now = unix_millis();
    let fresh = DeviceRecord {
        device_id: registration.device_id.clone(),
        public_key: registration.public_key.clone(),
        platform: registration.platform.clone(),
        app_version: registration.app_version.clone(),
        sdk_version: registration.sdk_version.clone(),
        registered_at_ms: now,
        consent: None,
        consent_history: Vec::new(),
    };
    // Same id means same key (the id is derived from it): a device that lost
    // its stored registration is answered with the original one.
    let (created, registered_at_ms) = update_json::<DeviceRecord, (bool, u64), ()>(
        control_plane.store(),
        &keys::device(fresh.device_id.as_str()),
        |existing| {
            Ok(match existing {
                Some(existing) => {
                    let at = existing.registered_at_ms;
                    (Some(existing), (false, at))
                }
                None => (Some(fresh.clone()), (true, now)),
            })
        },
    )
    .await?
    .expect("registration never refuses");
    if created {
        control_plane.count(&keys::applied("registrations")).await?;
        tracing::info!(device_id = %registration.device_id, "device registered");
    }
    Ok((
        if created { StatusCode::CREATED } else { StatusCode::OK },
        Json(DeviceRegistered {
            device_id: registration.device_id,
            registered_at_ms,
            control_plane_key_id: control_plane.key.key_id().to_owned(),
            control_plane_public_key: control_plane.key.public_key(),
        }),
    ))
}

/// `PUT /v1/devices/{device_id}/consent`: the device's newest decision.
#[utoipa::path(
    put,
    path = templates::DEVICE_CONSENT,
    tag = "devices",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<ConsentReport>, description = "Signed by the device of the path"),
    responses((status = 200, body = ConsentRecorded), crate::openapi::Problems),
)]
pub(super) async fn report_consent(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned {
        device_id,
        payload: report,
        ..
    }: DeviceSigned<ConsentReport>,
) -> Result<Json<ConsentRecorded>, ApiError> {
    if let ConsentDecision::Granted { terms_version, policy } = &report.decision {
        validate_terms_version(terms_version)
            .and_then(|()| policy.validate())
            .map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ProblemCode::InvalidPolicy,
                    "invalid consent",
                )
                .detail(e.to_string())
            })?;
    }
    if report.revision == 0 {
        return Err(ApiError::bad_request("consent revisions start at 1"));
    }
    let recorded_at_ms = unix_millis();
    let (applied, current) = update_json::<DeviceRecord, (bool, u64), ApiError>(
        control_plane.store(),
        &keys::device(device_id.as_str()),
        |device| {
            let mut device = device.ok_or_else(unknown_device)?;
            let current = device.consent.as_ref().map(|c| c.revision).unwrap_or(0);
            // Only a newer revision replaces the stored one: a late retry of
            // an older decision must never undo a newer one.
            if report.revision <= current {
                return Ok((Some(device), (false, current)));
            }
            device.consent = Some(ConsentRecord {
                revision: report.revision,
                decision: report.decision.clone(),
                decided_at_ms: report.decided_at_ms,
                recorded_at_ms,
            });
            device.consent_history.push(report.revision);
            Ok((Some(device), (true, report.revision)))
        },
    )
    .await??;
    if applied {
        control_plane.count(&keys::applied("consent_reports")).await?;
        tracing::info!(%device_id, revision = report.revision, "consent recorded");
    }
    Ok(Json(ConsentRecorded {
        device_id,
        current_revision: current,
        applied,
    }))
}

/// `GET /v1/devices/{device_id}/operations/{key}`: sync status, a signed read.
#[utoipa::path(
    get,
    path = templates::DEVICE_OPERATION,
    tag = "devices",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("idempotency_key" = String, Path), crate::openapi::SignedRead),
    responses((status = 200, body = OperationStatus), crate::openapi::Problems),
)]
pub(super) async fn operation_status(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, idempotency_key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<OperationStatus>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    signed_read(
        &control_plane,
        &device_id,
        &headers,
        &paths::device_operation(device_id.as_str(), &idempotency_key),
    )
    .await?;
    let record = idempotency::lookup(control_plane.store(), device_id.as_str(), &idempotency_key).await?;
    let status = match record {
        None => OperationStatus {
            idempotency_key,
            state: OperationState::Unknown,
            status: None,
            body: None,
        },
        Some(Record::InFlight { .. }) => OperationStatus {
            idempotency_key,
            state: OperationState::InProgress,
            status: None,
            body: None,
        },
        Some(Record::Completed { status, body, .. }) => OperationStatus {
            idempotency_key,
            state: OperationState::Completed,
            status: Some(status),
            body: Some(body),
        },
    };
    Ok(Json(status))
}
