//! Device-signed requests, as one extractor: the device named in the path,
//! an envelope in the body signed by that device's registered key for the
//! payload's purpose, and a payload that names the same device. Handlers
//! that take a [`DeviceSigned`] start from a checked payload.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request};
use axum::http::StatusCode;
use axum::RequestExt as _;
use edgepoints_protocol::{
    ConsentReport, DeviceId, HashFailureReport, Heartbeat, NodeAnnouncement, ProblemCode, Purpose, Receipt,
};
use serde::de::DeserializeOwned;

use super::devices::{device_envelope, parse_device_id};
use crate::problem::ApiError;
use crate::state::DeviceRecord;
use crate::ControlPlane;

/// A payload a device signs for a route under its own id.
pub(crate) trait DevicePayload: DeserializeOwned + Send {
    const PURPOSE: Purpose;
    /// The refusal's title when the payload names another device.
    const MISMATCH: &'static str;
    /// The payload's field that names the device, for the refusal's detail.
    const FIELD: &'static str;
    fn device(&self) -> &DeviceId;
}

/// A checked device-signed request: `payload` verified against the key of
/// `device_id`, the device of the route, whose record is `device` as the
/// check read it (handlers that need it need not read it again).
pub(crate) struct DeviceSigned<T> {
    pub device_id: DeviceId,
    pub payload: T,
    pub device: DeviceRecord,
}

impl<T: DevicePayload> FromRequest<Arc<ControlPlane>> for DeviceSigned<T> {
    type Rejection = ApiError;

    async fn from_request(mut request: Request, control_plane: &Arc<ControlPlane>) -> Result<Self, ApiError> {
        // By name: some routes have more parameters after the device.
        let Path(params) = request
            .extract_parts::<Path<std::collections::HashMap<String, String>>>()
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let device_id = params
            .get("device_id")
            .ok_or_else(|| ApiError::bad_request("the route names no device"))?;
        let device_id = parse_device_id(device_id)?;
        let body = Bytes::from_request(request, control_plane).await.map_err(|e| {
            ApiError::new(e.status(), ProblemCode::MalformedRequest, "unreadable body").detail(e.body_text())
        })?;
        let (payload, device): (T, _) = device_envelope(control_plane, &device_id, &body, T::PURPOSE).await?;
        if payload.device() != &device_id {
            return Err(
                ApiError::new(StatusCode::FORBIDDEN, ProblemCode::DeviceMismatch, T::MISMATCH).detail(T::FIELD),
            );
        }
        Ok(DeviceSigned {
            device_id,
            payload,
            device,
        })
    }
}

impl DevicePayload for ConsentReport {
    const PURPOSE: Purpose = Purpose::ConsentReport;
    const MISMATCH: &'static str = "the report names another device";
    const FIELD: &'static str = "report.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for NodeAnnouncement {
    const PURPOSE: Purpose = Purpose::NodeAnnouncement;
    const MISMATCH: &'static str = "the payload names another device";
    const FIELD: &'static str = "announcement.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for HashFailureReport {
    const PURPOSE: Purpose = Purpose::HashFailureReport;
    const MISMATCH: &'static str = "the payload names another device";
    const FIELD: &'static str = "report.reporter";
    fn device(&self) -> &DeviceId {
        &self.reporter
    }
}

impl DevicePayload for Heartbeat {
    const PURPOSE: Purpose = Purpose::Heartbeat;
    const MISMATCH: &'static str = "the heartbeat names another device";
    const FIELD: &'static str = "heartbeat.device_id";
    fn device(&self) -> &DeviceId {
        &self.device_id
    }
}

impl DevicePayload for Receipt {
    const PURPOSE: Purpose = Purpose::Receipt;
    const MISMATCH: &'static str = "the receipt names another consumer";
    const FIELD: &'static str = "receipt.consumer_id";
    fn device(&self) -> &DeviceId {
        &self.consumer_id
    }
}
