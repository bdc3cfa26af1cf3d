//! Points: what this device earned by serving, as the control plane keeps
//! it. The device never computes a balance: it only reads one. While a
//! member is logged in, what the device earns is the member's, and these
//! read the member's balance and ledger (each entry naming the device
//! that earned it).
//!
//! A member spends points on rewards of the catalogue (here) and on
//! coupons of activities priced in points (`Coupons::claim`); the control
//! plane debits them in the same change that gives what they pay for.

use edgepoints_protocol::loyalty::{Reward, RewardGrant, RewardRedemption};
use edgepoints_protocol::{paths, LedgerPage, LedgerReason, PointsBalance, Purpose};

use crate::edgepoints::EdgePoints;
use crate::events::Event;
use crate::members::session;
use crate::outbox::{self, EntryKind};
use crate::Error;

/// This device's points. Obtained from [`EdgePoints::points`].
#[derive(Clone)]
pub struct Points {
    sdk: EdgePoints,
}

impl Points {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Points { sdk }
    }

    /// The balance, today's credits against the daily cap, and the online
    /// time credited so far.
    pub async fn balance(&self) -> Result<PointsBalance, Error> {
        let device = self.sdk.device_id();
        self.read(paths::device_points(&device), paths::device_member_points(&device))
            .await
    }

    /// Ledger entries after entry `after` (0 for the first page), oldest
    /// first; `next_after` names the next page if there is one.
    pub async fn ledger(&self, after: u64) -> Result<LedgerPage, Error> {
        let device = self.sdk.device_id();
        self.read(
            paths::device_ledger(&device, after),
            paths::device_member_ledger(&device, after),
        )
        .await
    }

    /// The rewards offered now, with their price in points.
    pub async fn rewards(&self) -> Result<Vec<Reward>, Error> {
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(
                async move { crate::coupons::customer::public_get(sdk.shared(), paths::REWARDS.to_owned()).await },
            )
            .await
    }

    /// Redeems a reward for the logged-in member's points: the debit and
    /// the grant are one change on the control plane, made once however
    /// often the call is retried (through the outbox). A rental credit is
    /// taken off the fee of the member's next rental when it ends.
    /// [`Error::NotEnoughPoints`] and [`Error::NotLoggedIn`] change nothing.
    pub async fn redeem_reward(&self, reward_id: &str) -> Result<RewardGrant, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        let stored = session::live(shared)?;
        self.sdk.register().await?;
        let request = RewardRedemption {
            device_id: shared.identity().device_id().clone(),
            session_key: stored.key.clone(),
            reward_id: reward_id.to_owned(),
        };
        let envelope = shared.identity().sign(Purpose::RewardRedemption, &request);
        let id = outbox::queue_signed_post(
            shared,
            EntryKind::RewardRedemption,
            paths::device_reward_redemptions(shared.identity().device_id().as_str()),
            &envelope,
            serde_json::json!({}),
        )?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let body = outbox::wait(sdk.shared(), id).await.map_err(|error| {
                    if session::is_session_expired(&error) {
                        session::expired(sdk.shared(), &stored).unwrap_or_else(Error::from)
                    } else {
                        crate::coupons::customer::spending_error(error)
                    }
                })?;
                serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("reward grant: {e}")))
            })
            .await
    }

    /// What the logged-in member's redeemed rewards gave them, oldest
    /// first: voucher codes, and rental credits (used or not).
    pub async fn grants(&self) -> Result<Vec<RewardGrant>, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let path = paths::device_member_grants(sdk.shared().identity().device_id().as_str());
                session::member_get(sdk.shared(), path).await
            })
            .await
    }

    /// A signed read of the member's path while a member is logged in,
    /// else of the device's; registered first if need be.
    async fn read<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        device_path: String,
        member_path: String,
    ) -> Result<T, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                if shared.member().borrow().is_some() {
                    crate::members::session::member_get(shared, member_path).await
                } else {
                    crate::transport::signed_get(shared, device_path, Vec::new()).await
                }
            })
            .await
    }
}

/// Applies a reward redemption's answer (outbox worker): nothing is kept
/// here (the grant is the member's, read with `grants`); the app hears of
/// the spend.
pub(crate) fn apply_reward_redemption(body: &[u8]) -> Result<Vec<Event>, Error> {
    let grant: RewardGrant = serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("reward grant: {e}")))?;
    Ok(vec![Event::PointsSpent {
        points: grant.points,
        reason: LedgerReason::RewardRedemption,
        what: grant.title,
    }])
}
