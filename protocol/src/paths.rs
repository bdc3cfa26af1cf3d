//! Control-plane routes, each spelled once here for the SDK, the mock and
//! the tests.
//!
//! Every route has a template (`/v1/devices/{device_id}/consent`, what the
//! mock's router matches) and a route key (`PUT /v1/devices/{device_id}/consent`,
//! how fault rules and request counts name it), both from one line of the
//! table below; the path builders fill the template in.
//!
//! ```
//! use edgepoints_protocol::paths::{self, routes, templates};
//!
//! assert_eq!(templates::DEVICE_CONSENT, "/v1/devices/{device_id}/consent");
//! assert_eq!(routes::DEVICE_CONSENT, "PUT /v1/devices/{device_id}/consent");
//! assert_eq!(paths::device_consent("d1"), "/v1/devices/d1/consent");
//! ```

macro_rules! route_table {
    ($( $(#[$doc:meta])* $name:ident = $method:literal $template:literal; )*) => {
        /// Path templates, as the mock's router matches them.
        pub mod templates {
            $( $(#[$doc])* pub const $name: &str = $template; )*
        }
        /// Route keys, `METHOD /template`, as fault rules and request counts
        /// name them.
        pub mod routes {
            $( $(#[$doc])* pub const $name: &str = concat!($method, " ", $template); )*

            /// Every route key of the table, in its order.
            pub const ALL: &[&str] = &[$( $name ),*];
        }
    };
}

route_table! {
    /// Register a device (body: a [`crate::SignedEnvelope`] of [`crate::DeviceRegistration`]).
    DEVICES = "POST" "/v1/devices";
    /// Liveness of one control-plane endpoint.
    HEALTHZ = "GET" "/healthz";
    /// The content manifest, a [`crate::SignedEnvelope`] of [`crate::Manifest`].
    MANIFEST = "GET" "/v1/manifest";
    /// Report the device's consent (body: a signed [`crate::ConsentReport`]).
    DEVICE_CONSENT = "PUT" "/v1/devices/{device_id}/consent";
    /// What became of the device's mutating request with this idempotency
    /// key (a signed read, see [`crate::request_auth`]).
    DEVICE_OPERATION = "GET" "/v1/devices/{device_id}/operations/{idempotency_key}";
    /// Where the device's edge node serves and what it holds (body: a
    /// signed [`crate::NodeAnnouncement`]).
    DEVICE_NODE = "PUT" "/v1/devices/{device_id}/node";
    /// Which nodes can serve an item to this device, each with a ticket, and
    /// the origins (a signed read, answered with [`crate::ContentSources`]).
    DEVICE_SOURCES = "GET" "/v1/devices/{device_id}/sources/{hash}";
    /// Report a source that served bytes not matching their hash (body: a
    /// signed [`crate::HashFailureReport`]).
    DEVICE_HASH_FAILURES = "POST" "/v1/devices/{device_id}/hash-failures";
    /// A signed [`crate::Heartbeat`]; answered with [`crate::HeartbeatAccepted`].
    DEVICE_HEARTBEATS = "POST" "/v1/devices/{device_id}/heartbeats";
    /// The device's [`crate::PointsBalance`] (a signed read).
    DEVICE_POINTS = "GET" "/v1/devices/{device_id}/points";
    /// The ledger entries after entry `after` (0 for the first page), a
    /// signed read answered with [`crate::LedgerPage`].
    DEVICE_LEDGER = "GET" "/v1/devices/{device_id}/ledger/{after}";
    /// A consumer's signed [`crate::Receipt`] for a delivery from a node;
    /// answered with [`crate::ReceiptAccepted`].
    DEVICE_RECEIPTS = "POST" "/v1/devices/{device_id}/receipts";
    /// An item's bytes from the origin.
    ORIGIN = "GET" "/origin/{hash}";
    /// Sign a member up (body: a signed [`crate::MemberSignUp`]).
    DEVICE_MEMBERS = "POST" "/v1/devices/{device_id}/members";
    /// Log a member in; answered with a [`crate::MemberSession`] (body: a
    /// signed [`crate::MemberLogin`]).
    DEVICE_LOGIN = "POST" "/v1/devices/{device_id}/login";
    /// End a session (body: a signed [`crate::SessionEnd`]).
    DEVICE_LOGOUT = "POST" "/v1/devices/{device_id}/logout";
    /// Close the member's account and end its sessions (body: a signed
    /// [`crate::SessionEnd`] with the password).
    DEVICE_MEMBER_CLOSE = "POST" "/v1/devices/{device_id}/members/close";
    /// The session's member and expiry (a signed read carrying
    /// [`crate::SESSION_HEADER`]); it counts as the session's use.
    DEVICE_SESSION = "GET" "/v1/devices/{device_id}/session";
    /// A member's session heartbeat (body: a signed
    /// [`crate::MemberHeartbeat`]); answered with
    /// [`crate::MemberHeartbeatAccepted`], which carries pending notices.
    DEVICE_MEMBER_HEARTBEATS = "POST" "/v1/devices/{device_id}/member-heartbeats";
    /// The logged-in member's [`crate::PointsBalance`] (a signed read
    /// carrying [`crate::SESSION_HEADER`]).
    DEVICE_MEMBER_POINTS = "GET" "/v1/devices/{device_id}/member/points";
    /// The logged-in member's ledger after entry `after`, each entry naming
    /// the device that earned it (a signed read with the session).
    DEVICE_MEMBER_LEDGER = "GET" "/v1/devices/{device_id}/member/ledger/{after}";
    /// Enrol the device as a merchant's (body: a signed
    /// [`crate::coupons::activities::MerchantEnrolment`]).
    DEVICE_MERCHANT_ENROLMENT = "POST" "/v1/devices/{device_id}/merchant-enrolment";
    /// Create or edit an activity's draft (body: a signed
    /// [`crate::coupons::activities::ActivityWrite`]).
    DEVICE_ACTIVITIES = "POST" "/v1/devices/{device_id}/activities";
    /// Submit or withdraw an activity (body: a signed
    /// [`crate::coupons::activities::ActivityAction`]).
    DEVICE_ACTIVITY_ACTIONS = "POST" "/v1/devices/{device_id}/activity-actions";
    /// Claim a coupon (body: a signed [`crate::coupons::activities::CouponClaim`]).
    DEVICE_CLAIMS = "POST" "/v1/devices/{device_id}/claims";
    /// Redeem a coupon (body: a signed
    /// [`crate::coupons::redemption::RedemptionRequest`]).
    DEVICE_REDEMPTIONS = "POST" "/v1/devices/{device_id}/redemptions";
    /// Roll a redemption back (body: a signed
    /// [`crate::coupons::redemption::RollbackRequest`]).
    DEVICE_ROLLBACKS = "POST" "/v1/devices/{device_id}/rollbacks";
    /// Give an unused coupon back (body: a signed
    /// [`crate::coupons::activities::ClaimRollback`]); answered with a
    /// [`crate::coupons::activities::ClaimRolledBack`].
    DEVICE_CLAIM_ROLLBACKS = "POST" "/v1/devices/{device_id}/claim-rollbacks";
    /// A merchant device asks where the coupon behind a presentation
    /// stands (body: a signed [`crate::coupons::funnel::ValidationRequest`]).
    DEVICE_VALIDATIONS = "POST" "/v1/devices/{device_id}/validations";
    /// The funnel of one of the device's merchant's activities (a signed
    /// read), a [`crate::coupons::funnel::ActivityFunnel`].
    DEVICE_ACTIVITY_FUNNEL = "GET" "/v1/devices/{device_id}/activities/{activity_id}/funnel";
    /// The rewards catalogue (public): [`crate::loyalty::Reward`]s offered.
    REWARDS = "GET" "/v1/rewards";
    /// Redeem a reward (body: a signed [`crate::loyalty::RewardRedemption`]);
    /// answered with the [`crate::loyalty::RewardGrant`].
    DEVICE_REWARD_REDEMPTIONS = "POST" "/v1/devices/{device_id}/reward-redemptions";
    /// The logged-in member's reward grants (a signed read with the session).
    DEVICE_MEMBER_GRANTS = "GET" "/v1/devices/{device_id}/member/grants";
    /// Share a live activity (body: a signed
    /// [`crate::coupons::activities::ShareRequest`]).
    DEVICE_SHARES = "POST" "/v1/devices/{device_id}/shares";
    /// The revocation log after entry `after`, a
    /// [`crate::coupons::redemption::RevocationPage`] (public: tags name no
    /// serial).
    COUPON_REVOCATIONS = "GET" "/v1/coupons/revocations/{after}";
    /// Settle a redemption made offline (body: a signed
    /// [`crate::coupons::redemption::OfflineRedemption`]); answered with a
    /// [`crate::coupons::redemption::Settlement`].
    DEVICE_OFFLINE_REDEMPTIONS = "POST" "/v1/devices/{device_id}/offline-redemptions";
    /// The device's [`crate::coupons::redemption::OfflineBudget`] (a signed read).
    DEVICE_OFFLINE_BUDGET = "GET" "/v1/devices/{device_id}/offline-budget";
    /// The redemption conflicts that involve the device (a signed read).
    DEVICE_REDEMPTION_CONFLICTS = "GET" "/v1/devices/{device_id}/redemption-conflicts";
    /// The templates activities are made from.
    COUPON_TEMPLATES = "GET" "/v1/coupon-templates";
    /// Live activities (public).
    ACTIVITIES = "GET" "/v1/activities";
    /// One live activity (public).
    ACTIVITY = "GET" "/v1/activities/{activity_id}";
    /// The coupon issuing keys, a [`crate::SignedEnvelope`] of
    /// [`crate::coupons::TrustList`] by the control-plane key.
    COUPON_TRUST_LIST = "GET" "/v1/coupons/trust-list";
    /// Vehicles available near a point (`?lat=&lon=&radius_km=`), nearest
    /// first: [`crate::rental::Vehicle`]s (public).
    VEHICLES = "GET" "/v1/vehicles";
    /// One vehicle, whatever its state (public).
    VEHICLE = "GET" "/v1/vehicles/{vehicle_id}";
    /// Every station, with its connectors (public).
    STATIONS = "GET" "/v1/stations";
    /// One station (public).
    STATION = "GET" "/v1/stations/{station_id}";
    /// Reserve a vehicle (body: a signed [`crate::rental::ReserveVehicle`]);
    /// answered with the [`crate::rental::Rental`].
    DEVICE_RESERVATIONS = "POST" "/v1/devices/{device_id}/reservations";
    /// Cancel a reserved rental (body: a signed [`crate::rental::RentalStep`]).
    DEVICE_RENTAL_CANCEL = "POST" "/v1/devices/{device_id}/rentals/{rental_id}/cancel";
    /// Start a reserved rental: answered with the rental and its credential
    /// (body: a signed [`crate::rental::RentalStep`]).
    DEVICE_RENTAL_START = "POST" "/v1/devices/{device_id}/rentals/{rental_id}/start";
    /// The vehicle confirmed the start: its signed answer (body: a signed
    /// [`crate::rental::RentalStep`] carrying it).
    DEVICE_RENTAL_CONFIRM = "POST" "/v1/devices/{device_id}/rentals/{rental_id}/confirm";
    /// End a running rental with the vehicle's signed reading after the
    /// lock (body: a signed [`crate::rental::RentalStep`] carrying it).
    DEVICE_RENTAL_END = "POST" "/v1/devices/{device_id}/rentals/{rental_id}/end";
    /// One of the member's rentals (a signed read with the session).
    DEVICE_RENTAL = "GET" "/v1/devices/{device_id}/rentals/{rental_id}";
    /// The member's rental in progress, or 404 (a signed read with the session).
    DEVICE_CURRENT_RENTAL = "GET" "/v1/devices/{device_id}/current-rental";
    /// Bind a member card (body: a signed [`crate::rental::MemberCardBinding`]).
    DEVICE_MEMBER_CARD = "PUT" "/v1/devices/{device_id}/member-card";
    /// Reserve a charging connector (body: a signed
    /// [`crate::rental::ChargingRequest`]); answered with a
    /// [`crate::rental::ChargingReservation`] whose status may be a refusal.
    DEVICE_CHARGING_RESERVATIONS = "POST" "/v1/devices/{device_id}/charging-reservations";
}

/// The path of `template` with each `{name}` replaced by its value.
/// A parameter the template does not name is a bug in the caller.
pub fn fill(template: &str, params: &[(&str, &str)]) -> String {
    let mut path = template.to_owned();
    for (name, value) in params {
        let placeholder = format!("{{{name}}}");
        debug_assert!(path.contains(&placeholder), "{template} has no {placeholder}");
        path = path.replace(&placeholder, value);
    }
    path
}

pub const DEVICES: &str = templates::DEVICES;
pub const HEALTHZ: &str = templates::HEALTHZ;
pub const MANIFEST: &str = templates::MANIFEST;
pub const COUPON_TEMPLATES: &str = templates::COUPON_TEMPLATES;
pub const ACTIVITIES: &str = templates::ACTIVITIES;
pub const COUPON_TRUST_LIST: &str = templates::COUPON_TRUST_LIST;
pub const STATIONS: &str = templates::STATIONS;
pub const REWARDS: &str = templates::REWARDS;

/// Available vehicles within `radius_km` of `near`.
pub fn vehicles_near(near: crate::Location, radius_km: f64) -> String {
    format!(
        "{}?lat={:.6}&lon={:.6}&radius_km={radius_km}",
        templates::VEHICLES,
        near.latitude,
        near.longitude
    )
}

pub fn vehicle(vehicle_id: &str) -> String {
    fill(templates::VEHICLE, &[("vehicle_id", vehicle_id)])
}

pub fn station(station_id: &str) -> String {
    fill(templates::STATION, &[("station_id", station_id)])
}

pub fn device_reservations(device_id: &str) -> String {
    fill(templates::DEVICE_RESERVATIONS, &[("device_id", device_id)])
}

/// The path of a rental step (`cancel`, `start`, `confirm`, `end`) or read.
pub fn device_rental_step(template: &str, device_id: &str, rental_id: &str) -> String {
    fill(template, &[("device_id", device_id), ("rental_id", rental_id)])
}

pub fn device_current_rental(device_id: &str) -> String {
    fill(templates::DEVICE_CURRENT_RENTAL, &[("device_id", device_id)])
}

pub fn device_member_card(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBER_CARD, &[("device_id", device_id)])
}

pub fn device_charging_reservations(device_id: &str) -> String {
    fill(templates::DEVICE_CHARGING_RESERVATIONS, &[("device_id", device_id)])
}

pub fn device_consent(device_id: &str) -> String {
    fill(templates::DEVICE_CONSENT, &[("device_id", device_id)])
}

pub fn device_operation(device_id: &str, idempotency_key: &str) -> String {
    fill(
        templates::DEVICE_OPERATION,
        &[("device_id", device_id), ("idempotency_key", idempotency_key)],
    )
}

pub fn origin(hash: &crate::ContentHash) -> String {
    fill(templates::ORIGIN, &[("hash", &hash.to_hex())])
}

pub fn device_node(device_id: &str) -> String {
    fill(templates::DEVICE_NODE, &[("device_id", device_id)])
}

pub fn device_sources(device_id: &str, hash: &crate::ContentHash) -> String {
    fill(
        templates::DEVICE_SOURCES,
        &[("device_id", device_id), ("hash", &hash.to_hex())],
    )
}

pub fn device_hash_failures(device_id: &str) -> String {
    fill(templates::DEVICE_HASH_FAILURES, &[("device_id", device_id)])
}

pub fn device_heartbeats(device_id: &str) -> String {
    fill(templates::DEVICE_HEARTBEATS, &[("device_id", device_id)])
}

pub fn device_points(device_id: &str) -> String {
    fill(templates::DEVICE_POINTS, &[("device_id", device_id)])
}

pub fn device_ledger(device_id: &str, after: u64) -> String {
    fill(
        templates::DEVICE_LEDGER,
        &[("device_id", device_id), ("after", &after.to_string())],
    )
}

pub fn device_receipts(device_id: &str) -> String {
    fill(templates::DEVICE_RECEIPTS, &[("device_id", device_id)])
}

pub fn device_members(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBERS, &[("device_id", device_id)])
}

pub fn device_login(device_id: &str) -> String {
    fill(templates::DEVICE_LOGIN, &[("device_id", device_id)])
}

pub fn device_logout(device_id: &str) -> String {
    fill(templates::DEVICE_LOGOUT, &[("device_id", device_id)])
}

pub fn device_member_close(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBER_CLOSE, &[("device_id", device_id)])
}

pub fn device_session(device_id: &str) -> String {
    fill(templates::DEVICE_SESSION, &[("device_id", device_id)])
}

pub fn device_member_heartbeats(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBER_HEARTBEATS, &[("device_id", device_id)])
}

pub fn device_member_points(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBER_POINTS, &[("device_id", device_id)])
}

pub fn device_member_ledger(device_id: &str, after: u64) -> String {
    fill(
        templates::DEVICE_MEMBER_LEDGER,
        &[("device_id", device_id), ("after", &after.to_string())],
    )
}

pub fn device_merchant_enrolment(device_id: &str) -> String {
    fill(templates::DEVICE_MERCHANT_ENROLMENT, &[("device_id", device_id)])
}

pub fn device_activities(device_id: &str) -> String {
    fill(templates::DEVICE_ACTIVITIES, &[("device_id", device_id)])
}

pub fn device_activity_actions(device_id: &str) -> String {
    fill(templates::DEVICE_ACTIVITY_ACTIONS, &[("device_id", device_id)])
}

pub fn device_claims(device_id: &str) -> String {
    fill(templates::DEVICE_CLAIMS, &[("device_id", device_id)])
}

pub fn device_redemptions(device_id: &str) -> String {
    fill(templates::DEVICE_REDEMPTIONS, &[("device_id", device_id)])
}

pub fn device_rollbacks(device_id: &str) -> String {
    fill(templates::DEVICE_ROLLBACKS, &[("device_id", device_id)])
}

pub fn device_claim_rollbacks(device_id: &str) -> String {
    fill(templates::DEVICE_CLAIM_ROLLBACKS, &[("device_id", device_id)])
}

pub fn device_validations(device_id: &str) -> String {
    fill(templates::DEVICE_VALIDATIONS, &[("device_id", device_id)])
}

pub fn device_activity_funnel(device_id: &str, activity_id: &str) -> String {
    fill(
        templates::DEVICE_ACTIVITY_FUNNEL,
        &[("device_id", device_id), ("activity_id", activity_id)],
    )
}

pub fn device_reward_redemptions(device_id: &str) -> String {
    fill(templates::DEVICE_REWARD_REDEMPTIONS, &[("device_id", device_id)])
}

pub fn device_member_grants(device_id: &str) -> String {
    fill(templates::DEVICE_MEMBER_GRANTS, &[("device_id", device_id)])
}

/// One live activity's page, read through a share's referral code.
pub fn activity_via(activity_id: &str, referral: Option<&str>) -> String {
    match referral {
        Some(code) => format!("{}?ref={}", activity(activity_id), urlencode(code)),
        None => activity(activity_id),
    }
}

/// Percent-encodes what is not unreserved (RFC 3986), for query values.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn device_shares(device_id: &str) -> String {
    fill(templates::DEVICE_SHARES, &[("device_id", device_id)])
}

pub fn coupon_revocations(after: u64) -> String {
    fill(templates::COUPON_REVOCATIONS, &[("after", &after.to_string())])
}

pub fn device_offline_redemptions(device_id: &str) -> String {
    fill(templates::DEVICE_OFFLINE_REDEMPTIONS, &[("device_id", device_id)])
}

pub fn device_offline_budget(device_id: &str) -> String {
    fill(templates::DEVICE_OFFLINE_BUDGET, &[("device_id", device_id)])
}

pub fn device_redemption_conflicts(device_id: &str) -> String {
    fill(templates::DEVICE_REDEMPTION_CONFLICTS, &[("device_id", device_id)])
}

pub fn activity(activity_id: &str) -> String {
    fill(templates::ACTIVITY, &[("activity_id", activity_id)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_every_parameter_of_their_template() {
        let hash = crate::ContentHash::of(b"x");
        for path in [
            device_consent("d"),
            device_operation("d", "k"),
            origin(&hash),
            device_node("d"),
            device_sources("d", &hash),
            device_hash_failures("d"),
            device_heartbeats("d"),
            device_points("d"),
            device_ledger("d", 7),
            device_receipts("d"),
            device_members("d"),
            device_login("d"),
            device_logout("d"),
            device_member_close("d"),
            device_session("d"),
            device_member_heartbeats("d"),
            device_member_points("d"),
            device_member_ledger("d", 1),
            device_merchant_enrolment("d"),
            device_activities("d"),
            device_activity_actions("d"),
            device_claims("d"),
            device_redemptions("d"),
            device_rollbacks("d"),
            device_shares("d"),
            coupon_revocations(3),
            device_offline_redemptions("d"),
            device_offline_budget("d"),
            device_redemption_conflicts("d"),
            activity("a"),
        ] {
            assert!(!path.contains('{'), "{path}");
        }
        assert_eq!(device_sources("d", &hash), format!("/v1/devices/d/sources/{hash}"));
        assert_eq!(device_ledger("d", 7), "/v1/devices/d/ledger/7");
    }
}
