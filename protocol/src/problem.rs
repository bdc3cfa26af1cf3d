//! Error bodies as `application/problem+json` (RFC 9457).

use serde::{Deserialize, Serialize};

/// Media type of every error body the control plane sends.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Machine-readable reason carried in [`Problem::code`]; clients branch on it,
/// never on the human-readable title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    MalformedRequest,
    MissingIdempotencyKey,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    RequestInProgress,
    BadSignature,
    UnknownDevice,
    DeviceMismatch,
    InvalidPolicy,
    NotFound,
    MethodNotAllowed,
    InjectedFault,
    StaleRequest,
    /// A heartbeat with a sequence number not above the last accepted one:
    /// a duplicate, a replay, or out of order. Nothing is credited.
    HeartbeatOutOfOrder,
    /// A receipt whose delivery was credited before. Nothing is credited.
    ReceiptReplayed,
    /// A receipt whose node is its consumer. Nothing is credited.
    SelfReceipt,
    /// A receipt whose ticket or delivery statement does not verify, or
    /// does not match the receipt. Nothing is credited.
    ReceiptInvalid,
    /// A receipt older than the acceptance window.
    ReceiptExpired,
    /// A receipt for an item reported as served wrong by that node.
    ContentReportedFailed,
    /// The member name is taken.
    MemberTaken,
    /// A wrong password or an unknown member: the same answer for both.
    LoginFailed,
    /// Too many failed logins for this member name lately; `Retry-After` says when.
    TooManyAttempts,
    /// The session expired, was ended, or never existed: log in again.
    SessionExpired,
    /// The device acts for no merchant (enrol it first).
    NotAMerchant,
    /// An activity's draft does not fit its template.
    InvalidActivity,
    /// Not possible in the activity's state.
    ActivityState,
    /// The activity is not running now, or the device may not claim.
    NotClaimable,
    /// Every coupon of the activity is claimed (or used).
    UsageLimitReached,
    /// The customer has claimed (or used) as many as allowed.
    PerCustomerLimitReached,
    /// The coupon was redeemed before.
    AlreadyRedeemed,
    /// The coupon was revoked.
    Revoked,
    /// The coupon expired (also the answer for a code that never was a
    /// valid coupon: codes cannot be probed).
    Expired,
    /// The rollback window of the redemption has closed.
    RollbackWindowClosed,
    /// A referral code that is not a share of this activity, or the
    /// claimer's own.
    InvalidReferral,
    /// The device's offline budget for the day is used up.
    OfflineBudgetExceeded,
    /// The member's points do not cover the price (`detail` says both).
    NotEnoughPoints,
    /// Only a logged-in member can do this (spend points, say).
    MemberRequired,
    /// The coupon was used (redeemed, revoked, rolled back or expired) and
    /// cannot be given back.
    CouponUsed,
    /// Another member holds or rents the vehicle (or it is out of service).
    VehicleTaken,
    /// The member holds a reservation or a rental already.
    AlreadyRenting,
    /// Not possible in the rental's state (say, ending a reserved rental).
    RentalState,
    /// The vehicle's reading fails the end criteria (`detail` says which:
    /// `not_locked`, `doors_open`, `not_at_station`).
    EndRefused,
    /// A vehicle's statement whose signature, vehicle or credential does
    /// not match the rental.
    VehicleProofInvalid,
    Unavailable,
    Internal,
    /// A code this client does not know yet (a newer server).
    #[serde(other)]
    Unknown,
}

impl ProblemCode {
    /// The wire spelling, e.g. `idempotency_key_reused`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::MalformedRequest => "malformed_request",
            ProblemCode::MissingIdempotencyKey => "missing_idempotency_key",
            ProblemCode::InvalidIdempotencyKey => "invalid_idempotency_key",
            ProblemCode::IdempotencyKeyReused => "idempotency_key_reused",
            ProblemCode::RequestInProgress => "request_in_progress",
            ProblemCode::BadSignature => "bad_signature",
            ProblemCode::UnknownDevice => "unknown_device",
            ProblemCode::DeviceMismatch => "device_mismatch",
            ProblemCode::InvalidPolicy => "invalid_policy",
            ProblemCode::NotFound => "not_found",
            ProblemCode::MethodNotAllowed => "method_not_allowed",
            ProblemCode::InjectedFault => "injected_fault",
            ProblemCode::StaleRequest => "stale_request",
            ProblemCode::HeartbeatOutOfOrder => "heartbeat_out_of_order",
            ProblemCode::ReceiptReplayed => "receipt_replayed",
            ProblemCode::SelfReceipt => "self_receipt",
            ProblemCode::ReceiptInvalid => "receipt_invalid",
            ProblemCode::ReceiptExpired => "receipt_expired",
            ProblemCode::ContentReportedFailed => "content_reported_failed",
            ProblemCode::MemberTaken => "member_taken",
            ProblemCode::LoginFailed => "login_failed",
            ProblemCode::TooManyAttempts => "too_many_attempts",
            ProblemCode::NotAMerchant => "not_a_merchant",
            ProblemCode::InvalidActivity => "invalid_activity",
            ProblemCode::ActivityState => "activity_state",
            ProblemCode::NotClaimable => "not_claimable",
            ProblemCode::UsageLimitReached => "usage_limit_reached",
            ProblemCode::PerCustomerLimitReached => "per_customer_limit_reached",
            ProblemCode::AlreadyRedeemed => "already_redeemed",
            ProblemCode::Revoked => "revoked",
            ProblemCode::Expired => "expired",
            ProblemCode::RollbackWindowClosed => "rollback_window_closed",
            ProblemCode::InvalidReferral => "invalid_referral",
            ProblemCode::OfflineBudgetExceeded => "offline_budget_exceeded",
            ProblemCode::NotEnoughPoints => "not_enough_points",
            ProblemCode::MemberRequired => "member_required",
            ProblemCode::CouponUsed => "coupon_used",
            ProblemCode::VehicleTaken => "vehicle_taken",
            ProblemCode::AlreadyRenting => "already_renting",
            ProblemCode::RentalState => "rental_state",
            ProblemCode::EndRefused => "end_refused",
            ProblemCode::VehicleProofInvalid => "vehicle_proof_invalid",
            ProblemCode::SessionExpired => "session_expired",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::Internal => "internal",
            ProblemCode::Unknown => "unknown",
        }
    }

    /// The URI placed in the `type` member; stable per code.
    pub fn type_uri(self) -> String {
        format!("https://edgepoints.dev/problems/{}", self.as_str().replace('_', "-"))
    }
}

/// One error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub code: ProblemCode,
    /// With `not_enough_points`: the balance and the points needed (an
    /// extension member, so clients need not parse `detail`). Boxed: it is
    /// rare, and every error carries a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Box<PointsShortfall>>,
}

/// How far a balance falls short of a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsShortfall {
    pub balance: u64,
    pub needed: u64,
}

impl Problem {
    pub fn new(status: u16, code: ProblemCode, title: impl Into<String>) -> Self {
        Problem {
            type_uri: code.type_uri(),
            title: title.into(),
            status,
            detail: None,
            code,
            points: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_from_newer_servers_still_parse() {
        let body = r#"{"type":"x","title":"t","status":418,"code":"teapot"}"#;
        let problem: Problem = serde_json::from_str(body).unwrap();
        assert_eq!(problem.code, ProblemCode::Unknown);
    }

    #[test]
    fn as_str_is_the_wire_spelling() {
        for code in [
            ProblemCode::MalformedRequest,
            ProblemCode::IdempotencyKeyReused,
            ProblemCode::InjectedFault,
            ProblemCode::ReceiptReplayed,
            ProblemCode::SelfReceipt,
            ProblemCode::ContentReportedFailed,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn type_uri_names_the_code() {
        let problem = Problem::new(422, ProblemCode::IdempotencyKeyReused, "reused");
        assert_eq!(
            problem.type_uri,
            "https://edgepoints.dev/problems/idempotency-key-reused"
        );
    }
}
