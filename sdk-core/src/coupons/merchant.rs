//! The merchant side: enrol the device with the merchant's one-time code,
//! write activities and submit them for review, and check customers'
//! presentations at the till without the network.

use edgepoints_protocol::coupons::activities::{
    Activity, ActivityAction, ActivityDraft, ActivityStep, ActivityWrite, MerchantEnrolled, MerchantEnrolment,
};
use edgepoints_protocol::coupons::funnel::{ActivityFunnel, OnlineValidation, ValidationRequest};
use edgepoints_protocol::coupons::redemption::{Redemption, RedemptionRequest, RollbackRequest, RolledBack};
use edgepoints_protocol::coupons::{revocation_tag, validate, Accepted, Id128, Refusal, Till, TrustList};
use edgepoints_protocol::{paths, Purpose};
use rusqlite::{params, OptionalExtension};

use super::trust;
use crate::edgepoints::EdgePoints;
use crate::outbox::{self, EntryKind};
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::{Error, StoreError};

/// The merchant this device acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantIdentity {
    pub merchant_id: String,
    pub name: String,
    pub shops: Vec<String>,
}

/// What the till's offline check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    Valid {
        serial: String,
        activity_id: String,
        expires_s: u64,
    },
    Refused {
        reason: Refusal,
    },
}

/// Enrolment, activities and the till. Obtained from [`EdgePoints::merchant`].
#[derive(Clone)]
pub struct Merchant {
    sdk: EdgePoints,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("{what}: {e}")))
}

pub(crate) fn identity(shared: &Shared) -> Result<Option<MerchantIdentity>, StoreError> {
    shared.store().with(|c| {
        let row: Option<(String, String, String)> = c
            .query_row("SELECT merchant_id, name, shops_json FROM merchant_identity", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(merchant_id, name, shops)| {
            Ok(MerchantIdentity {
                merchant_id,
                name,
                shops: serde_json::from_str(&shops).map_err(|e| StoreError::Corrupt(format!("merchant shops: {e}")))?,
            })
        })
        .transpose()
    })
}

fn id16(hex_id: &str) -> Option<Id128> {
    hex::decode(hex_id).ok()?.try_into().ok()
}

impl Merchant {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Merchant { sdk }
    }

    /// Enrols this device as a staff device of the merchant whose one-time
    /// `code` it is (QA hands them out over the admin API); a used or
    /// unknown code is `not_found`.
    pub async fn enrol(&self, code: &str) -> Result<MerchantIdentity, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let code = code.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let payload = MerchantEnrolment {
                    device_id: shared.identity().device_id().clone(),
                    code,
                };
                let path = paths::device_merchant_enrolment(shared.identity().device_id().as_str());
                let body = crate::transport::signed_post(shared, Purpose::MerchantEnrolment, path, &payload).await?;
                let enrolled: MerchantEnrolled = parse("enrolment answer", &body)?;
                shared.store().with(|c| {
                    c.execute(
                        "INSERT INTO merchant_identity (singleton, merchant_id, name, shops_json) VALUES (1, ?1, ?2, ?3)
                         ON CONFLICT (singleton) DO UPDATE SET merchant_id = ?1, name = ?2, shops_json = ?3",
                        params![
                            enrolled.merchant_id,
                            enrolled.name,
                            serde_json::to_string(&enrolled.shops).expect("strings serialise")
                        ],
                    )?;
                    Ok(())
                })?;
                trust::sync(shared).await?;
                Ok(MerchantIdentity {
                    merchant_id: enrolled.merchant_id,
                    name: enrolled.name,
                    shops: enrolled.shops,
                })
            })
            .await
    }

    /// The merchant this device acts for, if it enrolled (no network).
    pub fn identity(&self) -> Result<Option<MerchantIdentity>, Error> {
        self.sdk.shared().ensure_open()?;
        Ok(identity(self.sdk.shared())?)
    }

    /// Writes a draft: a new activity (`activity_id` none), or an edit of a
    /// draft or rejected one (which becomes a draft again). A draft that
    /// does not fit its template is `invalid_activity` with every reason.
    pub async fn write_activity(&self, activity_id: Option<String>, draft: ActivityDraft) -> Result<Activity, Error> {
        let device_id = self.sdk.shared().identity().device_id().clone();
        let write = ActivityWrite {
            device_id: device_id.clone(),
            activity_id,
            draft,
        };
        self.post(
            Purpose::ActivityWrite,
            paths::device_activities(device_id.as_str()),
            write,
        )
        .await
    }

    /// Submits an activity: the automatic review answers at once, live or
    /// rejected with every finding (field, category, word, original span).
    pub async fn submit(&self, activity_id: &str) -> Result<Activity, Error> {
        self.step(activity_id, ActivityStep::Submit).await
    }

    /// Takes a live activity down: no more claims.
    pub async fn withdraw(&self, activity_id: &str) -> Result<Activity, Error> {
        self.step(activity_id, ActivityStep::Withdraw).await
    }

    async fn step(&self, activity_id: &str, step: ActivityStep) -> Result<Activity, Error> {
        let device_id = self.sdk.shared().identity().device_id().clone();
        let action = ActivityAction {
            device_id: device_id.clone(),
            activity_id: activity_id.to_owned(),
            step,
        };
        self.post(
            Purpose::ActivityAction,
            paths::device_activity_actions(device_id.as_str()),
            action,
        )
        .await
    }

    async fn post<T: serde::Serialize + Send + Sync + 'static>(
        &self,
        purpose: Purpose,
        path: String,
        payload: T,
    ) -> Result<Activity, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let body = crate::transport::signed_post(sdk.shared(), purpose, path, &payload).await?;
                parse("activity answer", &body)
            })
            .await
    }

    /// Redeems the coupon behind a presentation, once: written to the
    /// outbox and sent with one idempotency key, so a lost answer or a
    /// crash never redeems twice; waits for the answer as a direct call
    /// would. Refusals: `already_redeemed`, `revoked`, `expired`,
    /// `not_found` (any code that is not this merchant's genuine coupon).
    pub async fn redeem(&self, presentation: &str, order_ref: &str) -> Result<Redemption, Error> {
        let shared = self.sdk.shared();
        let request = RedemptionRequest {
            device_id: shared.identity().device_id().clone(),
            presentation: presentation.trim().to_owned(),
            order_ref: order_ref.to_owned(),
        };
        let path = paths::device_redemptions(shared.identity().device_id().as_str());
        let body = self
            .queued(EntryKind::Redemption, path, Purpose::Redemption, &request)
            .await?;
        parse("redemption answer", &body)
    }

    /// Redeems while the till is offline (or the control plane cannot be
    /// reached): checks the presentation here (a refusal is
    /// [`Error::CouponRefused`]), marks the serial redeemed on this till,
    /// and queues a signed redemption for the control plane to settle when
    /// the outbox drains. The till's offline budget caps how many per day
    /// and their value (beyond it, [`Error::NotAllowed`]). If another till redeemed the
    /// same coupon first, both tills get a `RedemptionConflict` event with
    /// both records.
    ///
    /// `value_cents` is the discount the till gives: the budget caps their
    /// sum as well as their number.
    pub fn redeem_offline(
        &self,
        presentation: &str,
        order_ref: &str,
        value_cents: u64,
    ) -> Result<super::QueuedRedemption, Error> {
        let validation = self.validate(presentation)?;
        super::offline::record(self.sdk.shared(), validation, presentation, order_ref, value_cents)
    }

    /// Gives a redemption's use back, within the window the control plane
    /// sets (24 h); after it, `rollback_window_closed`. Through the outbox.
    pub async fn rollback(&self, activity_id: &str, redemption_id: &str) -> Result<RolledBack, Error> {
        let shared = self.sdk.shared();
        let request = RollbackRequest {
            device_id: shared.identity().device_id().clone(),
            activity_id: activity_id.to_owned(),
            redemption_id: redemption_id.to_owned(),
        };
        let path = paths::device_rollbacks(shared.identity().device_id().as_str());
        let body = self
            .queued(EntryKind::Rollback, path, Purpose::Rollback, &request)
            .await?;
        parse("rollback answer", &body)
    }

    /// Asks the control plane where the coupon behind a presentation stands
    /// (usable, redeemed — at any till —, revoked, given back or expired),
    /// for a till that is online; [`Merchant::validate`] is the check
    /// without the network. A code that is not this merchant's genuine
    /// coupon is `not_found`. Counted in the activity's funnel.
    pub async fn validate_online(&self, presentation: &str) -> Result<OnlineValidation, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let presentation = presentation.trim().to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let request = ValidationRequest {
                    device_id: shared.identity().device_id().clone(),
                    presentation,
                };
                let path = paths::device_validations(shared.identity().device_id().as_str());
                let body = crate::transport::signed_post(shared, Purpose::CouponValidation, path, &request).await?;
                parse("validation answer", &body)
            })
            .await
    }

    /// What one of this merchant's activities did, per share channel and
    /// in all: views, shares, claims (referred or not), claims given back,
    /// validations, redemptions, rollbacks, offline conflicts and points
    /// taken and refunded — counted by the control plane from its own
    /// records.
    pub async fn funnel(&self, activity_id: &str) -> Result<ActivityFunnel, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        let activity_id = activity_id.to_owned();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                let path = paths::device_activity_funnel(shared.identity().device_id().as_str(), &activity_id);
                crate::transport::signed_get(shared, path, Vec::new()).await
            })
            .await
    }

    /// Writes a signed call to the outbox and waits for its answer.
    async fn queued<T: serde::Serialize>(
        &self,
        kind: EntryKind,
        path: String,
        purpose: Purpose,
        payload: &T,
    ) -> Result<Vec<u8>, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        let envelope = shared.identity().sign(purpose, payload);
        let id = outbox::queue_signed_post(shared, kind, path, &envelope, serde_json::json!({}))?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { outbox::wait(sdk.shared(), id).await })
            .await
    }

    /// Brings the till's offline lists up to date: the trust list, the
    /// offline budget, the revocation log since the last sync (a delta);
    /// and announces redemption conflicts it has not announced. Returns how
    /// many revocations were new.
    pub async fn sync(&self) -> Result<u64, Error> {
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                trust::sync(sdk.shared()).await?;
                super::offline::sync(sdk.shared()).await?;
                trust::sync_revocations(sdk.shared()).await
            })
            .await
    }

    /// Fetches the control plane's trust list of coupon keys and keeps it
    /// for offline checks (enrolment does it once).
    pub async fn sync_trust_list(&self) -> Result<TrustList, Error> {
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { trust::sync(sdk.shared()).await })
            .await
    }

    /// Checks a presentation scanned at the till, without the network:
    /// the coupon's signature against the held trust list, its window (a
    /// clock tolerance of 60 s), that it is this merchant's, the holder's
    /// signature and that the presentation is live (one 30 s step either
    /// way), and the local revocation and redemption lists. A refusal is an
    /// answer, not an error; errors are for a device that cannot check
    /// (not enrolled).
    pub fn validate(&self, presentation: &str) -> Result<Validation, Error> {
        self.validate_at(presentation, unix_millis() / 1000)
    }

    /// [`Merchant::validate`] as of Unix time `now_s` rather than this
    /// device's clock: for a till with a trusted clock of its own, and for
    /// QA (a presentation checked a minute after it was shown is stale).
    pub fn validate_at(&self, presentation: &str, now_s: u64) -> Result<Validation, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        let merchant = identity(shared)?.ok_or_else(|| Error::NotAllowed("this device acts for no merchant".into()))?;
        let merchant_id =
            id16(&merchant.merchant_id).ok_or_else(|| StoreError::Corrupt("the stored merchant id".into()))?;
        let trusted = trust::trusted(shared)?;
        let revoked = |serial: &Id128| -> bool {
            let tag = revocation_tag(serial).to_vec();
            shared
                .store()
                .with(|c| {
                    Ok(
                        c.query_row("SELECT 1 FROM revoked_tags WHERE tag = ?1", [tag], |_| Ok(()))
                            .optional()?,
                    )
                })
                .is_ok_and(|found| found.is_some())
        };
        let redeemed = |serial: &Id128| -> bool {
            shared
                .store()
                .with(|c| {
                    Ok(c.query_row(
                        "SELECT 1 FROM redeemed_serials WHERE serial = ?1",
                        [hex::encode(serial)],
                        |_| Ok(()),
                    )
                    .optional()?)
                })
                .is_ok_and(|found| found.is_some())
        };
        let till = Till {
            trusted: &trusted,
            merchant: merchant_id,
            now_s,
            revoked: &revoked,
            redeemed: &redeemed,
        };
        Ok(match validate(presentation, &till) {
            Ok(Accepted { claims, .. }) => Validation::Valid {
                serial: hex::encode(claims.serial),
                activity_id: hex::encode(claims.activity),
                expires_s: u64::from(claims.expires_s),
            },
            Err(reason) => Validation::Refused { reason },
        })
    }
}

/// Applies a redemption's answer (outbox worker): the serial is known
/// redeemed here, so this till refuses it offline too.
pub(crate) fn apply_redemption(tx: &rusqlite::Transaction<'_>, body: &[u8]) -> Result<Vec<crate::Event>, Error> {
    let redemption: Redemption = parse("redemption answer", body)?;
    tx.execute(
        "INSERT INTO redeemed_serials (serial, redeemed_at_ms) VALUES (?1, ?2) ON CONFLICT (serial) DO NOTHING",
        params![redemption.serial, redemption.redeemed_at_ms as i64],
    )
    .map_err(StoreError::from)?;
    Ok(Vec::new())
}

/// Applies a rollback's answer: the serial may be redeemed again.
pub(crate) fn apply_rollback(tx: &rusqlite::Transaction<'_>, body: &[u8]) -> Result<Vec<crate::Event>, Error> {
    let rolled_back: RolledBack = parse("rollback answer", body)?;
    tx.execute("DELETE FROM redeemed_serials WHERE serial = ?1", [rolled_back.serial])
        .map_err(StoreError::from)?;
    Ok(Vec::new())
}
