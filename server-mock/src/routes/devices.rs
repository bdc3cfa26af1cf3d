//! Device registration and consent reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use edgepoints_protocol::envelope::decode_public_key;
use edgepoints_protocol::{
    ConsentDecision, ConsentRecorded, ConsentReport, DeviceId, DeviceRegistered, DeviceRegistration, EnvelopeError,
    ProblemCode, Purpose,
};

use super::{parse_envelope, parse_json};
use crate::problem::ApiError;
use crate::state::{unix_millis, ConsentRecord, DeviceRecord};
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

/// `POST /v1/devices`: a registration signed by the key it announces.
pub(super) async fn register(
    State(control_plane): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<(StatusCode, Json<DeviceRegistered>), ApiError> {
    let envelope = parse_envelope(&body)?;
    let claimed: DeviceRegistration =
        serde_json::from_slice(&envelope.unverified_payload().map_err(signature_refused)?)
            .map_err(|e| ApiError::bad_request(format!("registration payload: {e}")))?;
    let public_key = decode_public_key(&claimed.public_key).map_err(|e| ApiError::bad_request(e.to_string()))?;
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
    let mut registry = control_plane.registry();
    let (status, registered_at_ms) = match registry.devices.get(&registration.device_id) {
        // Same id means same key (the id is derived from it): a device that
        // lost its stored registration is answered with the original one.
        Some(existing) => (StatusCode::OK, existing.registered_at_ms),
        None => {
            let now = unix_millis();
            registry.devices.insert(
                registration.device_id.clone(),
                DeviceRecord {
                    device_id: registration.device_id.clone(),
                    public_key: registration.public_key.clone(),
                    platform: registration.platform.clone(),
                    app_version: registration.app_version.clone(),
                    sdk_version: registration.sdk_version.clone(),
                    registered_at_ms: now,
                    consent: None,
                },
            );
            registry.applied.registrations += 1;
            tracing::info!(device_id = %registration.device_id, "device registered");
            (StatusCode::CREATED, now)
        }
    };
    Ok((
        status,
        Json(DeviceRegistered {
            device_id: registration.device_id,
            registered_at_ms,
            control_plane_key_id: control_plane.key.key_id().to_owned(),
            control_plane_public_key: control_plane.key.public_key(),
        }),
    ))
}

/// `PUT /v1/devices/{device_id}/consent`: the device's newest decision.
pub(super) async fn report_consent(
    State(control_plane): State<Arc<ControlPlane>>,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<Json<ConsentRecorded>, ApiError> {
    let device_id = DeviceId::parse(&device_id).map_err(|e| {
        ApiError::new(StatusCode::NOT_FOUND, ProblemCode::UnknownDevice, "unknown device").detail(e.to_string())
    })?;
    let envelope = parse_envelope(&body)?;
    if envelope.key_id != device_id.as_str() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::DeviceMismatch,
            "the report is signed by another device",
        ));
    }
    let public_key = {
        let registry = control_plane.registry();
        let device = registry
            .devices
            .get(&device_id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ProblemCode::UnknownDevice, "unknown device"))?;
        decode_public_key(&device.public_key).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let report: ConsentReport = envelope
        .verify(Purpose::ConsentReport, &public_key)
        .map_err(signature_refused)
        .and_then(|bytes| parse_json(&Bytes::from(bytes)))?;
    if report.device_id != device_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::DeviceMismatch,
            "the report names another device",
        ));
    }
    if let ConsentDecision::Granted { terms_version, policy } = &report.decision {
        edgepoints_protocol::consent::validate_terms_version(terms_version)
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
    let mut registry = control_plane.registry();
    let registry = &mut *registry;
    let device = registry
        .devices
        .get_mut(&device_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ProblemCode::UnknownDevice, "unknown device"))?;
    let current = device.consent.as_ref().map(|c| c.revision).unwrap_or(0);
    // Only a newer revision replaces the stored one: a late retry of an
    // older decision must never undo a newer one.
    let applied = report.revision > current;
    if applied {
        device.consent = Some(ConsentRecord {
            revision: report.revision,
            decision: report.decision,
            decided_at_ms: report.decided_at_ms,
            recorded_at_ms: unix_millis(),
        });
        registry.applied.consent_reports += 1;
        tracing::info!(%device_id, revision = report.revision, "consent recorded");
    }
    Ok(Json(ConsentRecorded {
        device_id,
        current_revision: report.revision.max(current),
        applied,
    }))
}
