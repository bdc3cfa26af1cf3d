//! Control-plane routes, spelled once for both sides.

/// `POST`: register a device (body: a [`crate::SignedEnvelope`] of [`crate::DeviceRegistration`]).
pub const DEVICES: &str = "/v1/devices";

/// `GET`: liveness of one control-plane endpoint.
pub const HEALTHZ: &str = "/healthz";

/// `PUT`: report the device's consent (body: a signed [`crate::ConsentReport`]).
pub fn device_consent(device_id: &str) -> String {
    format!("/v1/devices/{device_id}/consent")
}
