//! The customer side: browse live activities, claim coupons (through the
//! outbox, so a claim whose answer is lost is neither lost nor made twice),
//! hold them, and present them at the till.

use edgepoints_protocol::coupons::activities::{
    Activity, ClaimRollback, ClaimRolledBack, ClaimedCoupon, CouponClaim, Share, ShareRequest, Template,
};
use edgepoints_protocol::{paths, LedgerReason, Location, ProblemCode, Purpose, LOCATION_HEADER};
use serde_json::{json, Value};

use super::held::{self, HeldCoupon};
use super::presentation::{self, CouponPresentation};
use crate::edgepoints::EdgePoints;
use crate::events::Event;
use crate::outbox::{self, EntryKind};
use crate::shared::Shared;
use crate::transport::{retrying, Outgoing};
use crate::Error;

/// A plain public read of `path`.
pub(crate) async fn public_get<T: serde::de::DeserializeOwned>(shared: &Shared, path: String) -> Result<T, Error> {
    let body = retrying(shared, || Outgoing::get(path.clone())).await?;
    serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{path}: {e}")))
}

/// Browsing, claiming and presenting coupons. Obtained from
/// [`EdgePoints::coupons`].
#[derive(Clone)]
pub struct Coupons {
    sdk: EdgePoints,
}

impl Coupons {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Coupons { sdk }
    }

    /// The templates activities are made from, with their limits.
    pub async fn templates(&self) -> Result<Vec<Template>, Error> {
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), paths::COUPON_TEMPLATES.to_owned()).await })
            .await
    }

    /// Every live activity, nearest shop first when `near` is given. Their
    /// pictures are content items: fetch them with [`EdgePoints::fetch`],
    /// from nearby nodes like any other content.
    pub async fn live_activities(&self, near: Option<Location>) -> Result<Vec<Activity>, Error> {
        if near.is_some_and(|l| !l.is_valid()) {
            return Err(Error::InvalidInput(
                "latitude must be -90 to 90 and longitude -180 to 180".into(),
            ));
        }
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let body = retrying(sdk.shared(), || {
                    let mut request = Outgoing::get(paths::ACTIVITIES.to_owned());
                    if let Some(near) = near {
                        request.headers.push((LOCATION_HEADER, near.to_header()));
                    }
                    request
                })
                .await?;
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("activities: {e}")))
            })
            .await
    }

    /// One live activity. `referral` is the code of the share link the
    /// customer opened it through, if any: the merchant's funnel counts
    /// the view for that share's channel.
    pub async fn activity(&self, activity_id: &str, referral: Option<String>) -> Result<Activity, Error> {
        let sdk = self.sdk.clone();
        let path = paths::activity_via(activity_id, referral.as_deref());
        self.sdk
            .on_runtime(async move { public_get(sdk.shared(), path).await })
            .await
    }

    /// Claims a coupon of a live activity (through a share's `referral`
    /// code, if the customer came by one). Written to the outbox first and
    /// sent with one idempotency key, so a lost answer gives the same
    /// coupon, not a second; waits for the answer as a direct call would.
    /// An activity priced in points is paid by the logged-in member, in the
    /// same change that issues the coupon: [`Error::NotEnoughPoints`],
    /// [`Error::NotLoggedIn`] or [`Error::SessionExpired`] change nothing
    /// (a free coupon needs no member). Other refusals:
    /// `usage_limit_reached`, `per_customer_limit_reached`,
    /// `not_claimable`, `not_found`.
    pub async fn claim(&self, activity_id: &str, referral: Option<String>) -> Result<HeldCoupon, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        self.sdk.register().await?;
        let session = crate::members::session::load(shared)?.filter(|stored| stored.live);
        let claim = CouponClaim {
            device_id: shared.identity().device_id().clone(),
            activity_id: activity_id.to_owned(),
            referral,
            session_key: session.as_ref().map(|stored| stored.key.clone()),
        };
        let envelope = shared.identity().sign(Purpose::CouponClaim, &claim);
        let id = outbox::queue_signed_post(
            shared,
            EntryKind::CouponClaim,
            paths::device_claims(shared.identity().device_id().as_str()),
            &envelope,
            json!({}),
        )?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let body = outbox::wait(sdk.shared(), id).await.map_err(|error| match &session {
                    Some(stored) if crate::members::session::is_session_expired(&error) => {
                        crate::members::session::expired(sdk.shared(), stored).unwrap_or_else(Error::from)
                    }
                    _ => spending_error(error),
                })?;
                let claimed: ClaimedCoupon =
                    serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("claim answer: {e}")))?;
                held::one(sdk.shared(), &claimed.serial)?
                    .ok_or_else(|| Error::Internal("the claimed coupon was not stored".into()))
            })
            .await
    }

    /// Gives a held coupon back, unused: the claim is rolled back (the
    /// coupon is revoked, so no till takes it any more) and, for a bought
    /// coupon, points come back as its activity's rule says. Through the
    /// outbox, once; returns the points refunded. [`Error::CouponUsed`] if
    /// it was redeemed, revoked or has expired.
    pub async fn give_back(&self, serial: &str) -> Result<u64, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        let coupon = held::one(shared, serial)?
            .ok_or_else(|| Error::InvalidInput(format!("this device holds no coupon {serial}")))?;
        let request = ClaimRollback {
            device_id: shared.identity().device_id().clone(),
            activity_id: coupon.activity_id.clone(),
            serial: coupon.serial.clone(),
        };
        let envelope = shared.identity().sign(Purpose::ClaimRollback, &request);
        let id = outbox::queue_signed_post(
            shared,
            EntryKind::ClaimRollback,
            paths::device_claim_rollbacks(shared.identity().device_id().as_str()),
            &envelope,
            json!({}),
        )?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let body = outbox::wait(sdk.shared(), id).await.map_err(spending_error)?;
                let rolled_back: ClaimRolledBack = serde_json::from_slice(&body)
                    .map_err(|e| Error::Protocol(format!("claim rollback answer: {e}")))?;
                Ok(rolled_back.refunded_points)
            })
            .await
    }

    /// Shares a live activity to `channel` (`wechat`, `sms`, `link`, …):
    /// the control plane records it and answers a link with a referral
    /// code. Claims through the code are this device's referrals; when one
    /// is redeemed, it earns referral points (the member's, if one is
    /// logged in). A sharer cannot claim through their own code.
    pub async fn share(&self, activity_id: &str, channel: &str) -> Result<Share, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let (activity_id, channel) = (activity_id.to_owned(), channel.to_owned());
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let request = ShareRequest {
                    device_id: shared.identity().device_id().clone(),
                    activity_id,
                    channel,
                };
                let path = paths::device_shares(shared.identity().device_id().as_str());
                let body = crate::transport::signed_post(shared, Purpose::Share, path, &request).await?;
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("share answer: {e}")))
            })
            .await
    }

    /// The coupons this device holds, newest first (no network).
    pub fn held(&self) -> Result<Vec<HeldCoupon>, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(held::all(self.sdk.shared())?)
    }

    /// The presentation of a held coupon for now: its text and QR matrix,
    /// good until `refresh_at_ms` (no network).
    pub fn present(&self, serial: &str) -> Result<CouponPresentation, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        let coupon = held::one(shared, serial)?
            .ok_or_else(|| Error::InvalidInput(format!("this device holds no coupon {serial}")))?;
        presentation::present(shared, &coupon)
    }
}

/// Applies a claim's answer (outbox worker): the coupon is stored in the
/// transaction that marks the claim done.
pub(crate) fn apply_claim(
    shared: &Shared,
    tx: &rusqlite::Transaction<'_>,
    context: &Value,
    body: &[u8],
) -> Result<Vec<Event>, Error> {
    let claimed: ClaimedCoupon =
        serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("claim answer: {e}")))?;
    let title = context["title"].as_str().unwrap_or_default();
    let coupon = held::store(shared, tx, &claimed, title)?;
    let mut events = Vec::new();
    if claimed.points_paid > 0 {
        events.push(Event::PointsSpent {
            points: claimed.points_paid,
            reason: LedgerReason::CouponPurchase,
            what: coupon.title.clone(),
        });
    }
    events.push(Event::CouponClaimed { coupon });
    Ok(events)
}

/// Applies a claim rollback's answer: the coupon is no longer held here.
pub(crate) fn apply_claim_rollback(tx: &rusqlite::Transaction<'_>, body: &[u8]) -> Result<Vec<Event>, Error> {
    let rolled_back: ClaimRolledBack =
        serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("claim rollback answer: {e}")))?;
    held::given_back(tx, &rolled_back.serial, rolled_back.rolled_back_at_ms)?;
    Ok(vec![Event::CouponGivenBack {
        serial: rolled_back.serial,
        refunded_points: rolled_back.refunded_points,
    }])
}

/// The typed error for a refusal to spend points.
pub(crate) fn spending_error(error: Error) -> Error {
    let Error::Rejected { problem, .. } = &error else {
        return error;
    };
    match (problem.code, problem.points.as_deref().copied()) {
        (ProblemCode::NotEnoughPoints, Some(short)) => Error::NotEnoughPoints {
            balance: short.balance,
            needed: short.needed,
        },
        (ProblemCode::MemberRequired, _) => Error::NotLoggedIn,
        (ProblemCode::CouponUsed, _) => Error::CouponUsed,
        _ => error,
    }
}
