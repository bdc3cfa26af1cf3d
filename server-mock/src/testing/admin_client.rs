//! The mock's admin API as a typed client, for the CLI, the tour and the
//! tests: over HTTP, so it works the same for an embedded and a remote mock.

use serde::Serialize;

use edgepoints_protocol::coupons::TrustList;
use edgepoints_protocol::review::{Finding, ReviewRules};
use edgepoints_protocol::{Notice, NoticePost, SessionTimeouts};

use crate::coupons::merchants::{EnrolmentCode, MerchantCreated};
use crate::faults::FaultRule;
use crate::members::SessionRecord;
use crate::state::StateDump;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin API unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("admin API refused {what} ({status}): {body}")]
    Refused { what: String, status: u16, body: String },
}

/// A client of one mock's admin API.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
}

impl AdminClient {
    /// A client of the mock at `base` (`http://127.0.0.1:port`), over
    /// `http` (the caller's client: TLS setup is the caller's).
    pub fn new(base: &str, http: reqwest::Client) -> Self {
        AdminClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn checked(what: &str, response: reqwest::Response) -> Result<reqwest::Response, AdminError> {
        if response.status().is_success() {
            return Ok(response);
        }
        Err(AdminError::Refused {
            what: what.to_owned(),
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
        })
    }

    /// The whole control-plane state (`GET /admin/state`).
    pub async fn state(&self) -> Result<StateDump, AdminError> {
        let response = self.http.get(self.url("/admin/state")).send().await?;
        Ok(Self::checked("the state", response).await?.json().await?)
    }

    /// Adds a fault rule (a [`FaultRule`], or its JSON); a refused rule
    /// comes back with the mock's reason.
    pub async fn add_fault(&self, rule: &impl Serialize) -> Result<(), AdminError> {
        let response = self.http.post(self.url("/admin/faults")).json(rule).send().await?;
        Self::checked("the fault rule", response).await?;
        Ok(())
    }

    /// The fault rules in force.
    pub async fn faults(&self) -> Result<Vec<FaultRule>, AdminError> {
        let response = self.http.get(self.url("/admin/faults")).send().await?;
        Ok(Self::checked("the fault list", response).await?.json().await?)
    }

    /// Removes every fault rule.
    pub async fn reset_faults(&self) -> Result<(), AdminError> {
        let response = self.http.delete(self.url("/admin/faults")).send().await?;
        Self::checked("the fault reset", response).await?;
        Ok(())
    }

    /// Every open member session.
    pub async fn sessions(&self) -> Result<Vec<SessionRecord>, AdminError> {
        let response = self.http.get(self.url("/admin/sessions")).send().await?;
        Ok(Self::checked("the session list", response).await?.json().await?)
    }

    /// Ends a session as an expiry would.
    pub async fn expire_session(&self, session_key: &str) -> Result<(), AdminError> {
        let url = self.url(&format!("/admin/sessions/{session_key}"));
        let response = self.http.delete(url).send().await?;
        Self::checked("the session expiry", response).await?;
        Ok(())
    }

    /// The session timeouts and heartbeat interval in force.
    pub async fn session_timeouts(&self) -> Result<SessionTimeouts, AdminError> {
        let response = self.http.get(self.url("/admin/session-timeouts")).send().await?;
        Ok(Self::checked("the session timeouts", response).await?.json().await?)
    }

    /// Sets the idle and absolute session timeouts.
    pub async fn set_session_timeouts(&self, timeouts: SessionTimeouts) -> Result<(), AdminError> {
        let response = self
            .http
            .put(self.url("/admin/session-timeouts"))
            .json(&timeouts)
            .send()
            .await?;
        Self::checked("the session timeouts", response).await?;
        Ok(())
    }

    /// Posts a notice to a member; it comes with the member's next
    /// heartbeat.
    pub async fn post_notice(&self, member_id: &str, kind: &str, text: &str) -> Result<Notice, AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/members/{member_id}/notices")))
            .json(&NoticePost {
                kind: kind.to_owned(),
                text: text.to_owned(),
            })
            .send()
            .await?;
        Ok(Self::checked("the notice", response).await?.json().await?)
    }

    /// A member's notices not yet acknowledged by their device.
    pub async fn pending_notices(&self, member_id: &str) -> Result<Vec<Notice>, AdminError> {
        let response = self
            .http
            .get(self.url(&format!("/admin/members/{member_id}/notices")))
            .send()
            .await?;
        Ok(Self::checked("the notice list", response).await?.json().await?)
    }

    /// Moves the control plane's clock forward; its new time.
    pub async fn advance_clock(&self, by: std::time::Duration) -> Result<u64, AdminError> {
        let response = self
            .http
            .post(self.url("/admin/clock"))
            .json(&serde_json::json!({ "advance_ms": by.as_millis() as u64 }))
            .send()
            .await?;
        let clock: serde_json::Value = Self::checked("the clock", response).await?.json().await?;
        Ok(clock["now_ms"].as_u64().unwrap_or_default())
    }

    /// A new merchant with its shops, and a first one-time enrolment code.
    pub async fn create_merchant(&self, name: &str, shops: &[&str]) -> Result<MerchantCreated, AdminError> {
        let response = self
            .http
            .post(self.url("/admin/merchants"))
            .json(&serde_json::json!({ "name": name, "shops": shops }))
            .send()
            .await?;
        Ok(Self::checked("the merchant", response).await?.json().await?)
    }

    /// [`AdminClient::create_merchant`] with each shop where it is.
    pub async fn create_merchant_located(
        &self,
        name: &str,
        shops: &[(&str, edgepoints_protocol::Location)],
    ) -> Result<MerchantCreated, AdminError> {
        let names: Vec<&str> = shops.iter().map(|(shop, _)| *shop).collect();
        let locations: std::collections::BTreeMap<&str, edgepoints_protocol::Location> =
            shops.iter().copied().collect();
        let response = self
            .http
            .post(self.url("/admin/merchants"))
            .json(&serde_json::json!({ "name": name, "shops": names, "locations": locations }))
            .send()
            .await?;
        Ok(Self::checked("the merchant", response).await?.json().await?)
    }

    /// Another one-time enrolment code for a merchant.
    pub async fn enrolment_code(&self, merchant_id: &str) -> Result<String, AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/merchants/{merchant_id}/enrolment-codes")))
            .send()
            .await?;
        let code: EnrolmentCode = Self::checked("the enrolment code", response).await?.json().await?;
        Ok(code.enrolment_code)
    }

    /// Revokes a claimed coupon.
    pub async fn revoke_coupon(&self, activity_id: &str, serial: &str) -> Result<(), AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/coupons/{activity_id}/{serial}/revoke")))
            .send()
            .await?;
        Self::checked("the revocation", response).await?;
        Ok(())
    }

    /// Sets a merchant device's offline budget: redemptions per day and
    /// their total value in cents.
    pub async fn set_offline_budget(
        &self,
        device_id: &str,
        max_count: u32,
        max_value_cents: u64,
    ) -> Result<(), AdminError> {
        let response = self
            .http
            .put(self.url(&format!("/admin/devices/{device_id}/offline-budget")))
            .json(&serde_json::json!({ "max_count": max_count, "max_value_cents": max_value_cents }))
            .send()
            .await?;
        Self::checked("the offline budget", response).await?;
        Ok(())
    }

    /// Retires the coupon issuing key and makes a new one.
    pub async fn rotate_coupon_key(&self) -> Result<TrustList, AdminError> {
        let response = self.http.post(self.url("/admin/coupon-keys/rotate")).send().await?;
        Ok(Self::checked("the key rotation", response).await?.json().await?)
    }

    /// A tenant's review rules.
    pub async fn review_rules(&self, tenant: &str) -> Result<ReviewRules, AdminError> {
        let response = self
            .http
            .get(self.url(&format!("/admin/review-rules/{tenant}")))
            .send()
            .await?;
        Ok(Self::checked("the review rules", response).await?.json().await?)
    }

    /// Replaces a tenant's review rules; refused with the reason if they
    /// do not compile.
    pub async fn set_review_rules(&self, tenant: &str, rules: &ReviewRules) -> Result<(), AdminError> {
        let response = self
            .http
            .put(self.url(&format!("/admin/review-rules/{tenant}")))
            .json(rules)
            .send()
            .await?;
        Self::checked("the review rules", response).await?;
        Ok(())
    }

    /// What the tenant's review finds in `text`.
    pub async fn check_text(&self, tenant: &str, text: &str) -> Result<Vec<Finding>, AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/review-rules/{tenant}/check")))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await?;
        Ok(Self::checked("the review check", response).await?.json().await?)
    }

    /// Requests the mock received on `route` (a key of
    /// `edgepoints_protocol::paths::routes`), by all instances.
    pub async fn requests_on(&self, route: &str) -> Result<u64, AdminError> {
        Ok(self.state().await?.requests.get(route).copied().unwrap_or(0) as u64)
    }

    /// How often changes of kind `what` were applied.
    pub async fn applied(&self, what: &str) -> Result<u64, AdminError> {
        Ok(self.state().await?.applied.get(what).copied().unwrap_or(0) as u64)
    }

    /// Every vehicle record, held or not.
    pub async fn vehicles(&self) -> Result<Vec<crate::rental::VehicleRecord>, AdminError> {
        let response = self.http.get(self.url("/admin/vehicles")).send().await?;
        Ok(Self::checked("the vehicles", response).await?.json().await?)
    }

    /// Every rental, newest first.
    pub async fn rentals(&self) -> Result<Vec<crate::rental::RentalRecord>, AdminError> {
        let response = self.http.get(self.url("/admin/rentals")).send().await?;
        Ok(Self::checked("the rentals", response).await?.json().await?)
    }

    /// Both queue streams, their pending entries, and what the workers did.
    pub async fn queues(&self) -> Result<crate::rental::workers::QueueView, AdminError> {
        let response = self.http.get(self.url("/admin/queues")).send().await?;
        Ok(Self::checked("the queues", response).await?.json().await?)
    }

    /// The next consumer of `stream` (`billing`, `sms`) to take a message
    /// dies at `at`.
    pub async fn crash_worker(&self, stream: &str, at: crate::rental::workers::CrashPoint) -> Result<(), AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/queues/{stream}/crash")))
            .json(&serde_json::json!({ "at": at }))
            .send()
            .await?;
        Self::checked("the consumer crash", response).await?;
        Ok(())
    }

    /// How long a message waits with a silent consumer before another
    /// claims it.
    pub async fn set_claim_idle(&self, idle: std::time::Duration) -> Result<(), AdminError> {
        let settings = crate::rental::workers::WorkerSettings {
            claim_idle_ms: idle.as_millis() as u64,
        };
        let response = self
            .http
            .put(self.url("/admin/queues/settings"))
            .json(&settings)
            .send()
            .await?;
        Self::checked("the worker settings", response).await?;
        Ok(())
    }

    /// QA's hand on a simulated car at `link`: `POST {link}/sim/{what}`
    /// (`drive`, `doors`, `card-tap`, `clock`, `faults`), its JSON answer.
    pub async fn car(&self, link: &str, what: &str, body: &serde_json::Value) -> Result<serde_json::Value, AdminError> {
        let response = self.http.post(format!("{link}/sim/{what}")).json(body).send().await?;
        Ok(Self::checked("the simulated car", response).await?.json().await?)
    }

    /// A simulated car's own view of itself.
    pub async fn car_view(&self, link: &str) -> Result<crate::vehicles::CarView, AdminError> {
        let response = self.http.get(format!("{link}/sim")).send().await?;
        Ok(Self::checked("the simulated car", response).await?.json().await?)
    }

    /// Every reward of the catalogue, offered or not.
    pub async fn rewards(&self) -> Result<Vec<edgepoints_protocol::loyalty::Reward>, AdminError> {
        let response = self.http.get(self.url("/admin/rewards")).send().await?;
        Ok(Self::checked("the rewards", response).await?.json().await?)
    }

    /// Adds a reward, or replaces the one with its id.
    pub async fn put_reward(&self, reward: &edgepoints_protocol::loyalty::Reward) -> Result<(), AdminError> {
        let response = self.http.put(self.url("/admin/rewards")).json(reward).send().await?;
        Self::checked("the reward", response).await?;
        Ok(())
    }

    /// The balance check: every account against its ledger, every bought
    /// coupon and grant against its debit.
    pub async fn points_check(&self) -> Result<edgepoints_protocol::loyalty::BalanceCheck, AdminError> {
        let response = self.http.get(self.url("/admin/points/check")).send().await?;
        Ok(Self::checked("the balance check", response).await?.json().await?)
    }

    /// An activity's funnel, as its merchant reads it.
    pub async fn funnel(
        &self,
        activity_id: &str,
    ) -> Result<edgepoints_protocol::coupons::funnel::ActivityFunnel, AdminError> {
        let response = self
            .http
            .get(self.url(&format!("/admin/activities/{activity_id}/funnel")))
            .send()
            .await?;
        Ok(Self::checked("the funnel", response).await?.json().await?)
    }

    /// Sets the points rules.
    pub async fn set_points_rules(&self, rules: &edgepoints_protocol::PointsRules) -> Result<(), AdminError> {
        let response = self
            .http
            .put(self.url("/admin/points-rules"))
            .json(rules)
            .send()
            .await?;
        Self::checked("the points rules", response).await?;
        Ok(())
    }

    /// Publishes `bytes` as an item with `priority` (higher is synced first).
    pub async fn publish(
        &self,
        bytes: Vec<u8>,
        priority: u32,
    ) -> Result<edgepoints_protocol::ManifestItem, AdminError> {
        let response = self
            .http
            .post(self.url(&format!("/admin/content?priority={priority}")))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        Ok(Self::checked("the item", response).await?.json().await?)
    }

    /// Every device's and member's points account, with up to `recent`
    /// ledger entries each.
    pub async fn points_accounts(&self, recent: u16) -> Result<crate::points::PointsAccounts, AdminError> {
        let response = self
            .http
            .get(self.url(&format!("/admin/points?recent={recent}")))
            .send()
            .await?;
        Ok(Self::checked("the points accounts", response).await?.json().await?)
    }

    /// Every activity with its coupons and their redemptions.
    pub async fn activities(&self) -> Result<Vec<crate::coupons::activities::ActivityRecord>, AdminError> {
        let response = self.http.get(self.url("/admin/activities")).send().await?;
        Ok(Self::checked("the activities", response).await?.json().await?)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String, AdminError> {
        let response = self.http.get(self.url("/metrics")).send().await?;
        Ok(Self::checked("the metrics", response).await?.text().await?)
    }
}
