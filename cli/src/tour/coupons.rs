//! The tour's coupons act: a merchant's till enrols and publishes an
//! activity the review rejects (with every reason), fixes and resubmits
//! it; Alice shares it, Bob claims through her referral code and shows the
//! coupon; the till checks it with no network, refuses a screenshot a
//! minute later, redeems it once though the answer is lost, refuses a
//! second redemption, and Alice earns her referral points.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{
    ActivityDraft, ActivityState, EdgePoints, Error, Event, EventListener, HostCallbackError, LedgerReason,
    TemplateKind, Validation,
};
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::narrative::{check, say, step};
use super::{open, open_with, Tour};
use crate::CliResult;

/// Counts the redemption conflicts a till hears of.
#[derive(Default)]
struct ConflictsHeard(AtomicUsize);

impl EventListener for ConflictsHeard {
    fn on_event(&self, event: Event) -> Result<(), HostCallbackError> {
        if matches!(event, Event::RedemptionConflict { .. }) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lunch(description: &str) -> ActivityDraft {
    ActivityDraft {
        template: TemplateKind::PercentOff,
        title: "20% off every pastry".into(),
        description: description.into(),
        shop: "Rue Oberkampf".into(),
        staff: vec!["Inès".into()],
        featured_items: vec!["croissant".into(), "pain au chocolat".into()],
        pictures: vec![],
        percent_off: Some(20),
        amount_off_cents: None,
        gift: None,
        min_spend_cents: 0,
        valid_from_s: now_s() - 60,
        valid_until_s: now_s() + 14 * 86_400,
        total_limit: 100,
        per_customer_limit: 1,
        points_price: None,
    }
}

impl Tour {
    /// Opens the merchant's till (a fourth device) and enrols it.
    pub(super) async fn the_bakery_enrols_its_till(&mut self) -> CliResult<EdgePoints> {
        step("A bakery enrols its till with a one-time code");
        let admin = self.live_admin()?;
        let created = admin
            .create_merchant("Boulangerie Oberkampf", &["Rue Oberkampf"])
            .await?;
        let till = open(&self.endpoints, &self.root.join("bakery-till"))?;
        let identity = till.merchant().enrol(&created.enrolment_code).await?;
        say(format!(
            "bakery-till   acts for {} ({})",
            identity.name, identity.merchant_id
        ));
        let again = open(&self.endpoints, &self.root.join("stray-phone"))?;
        let reused = again.merchant().enrol(&created.enrolment_code).await;
        again.shutdown().await;
        check(
            matches!(reused, Err(Error::Rejected { status: 404, .. })),
            "the code enrolled one device; used again it enrols nobody",
        )?;
        Ok(till)
    }

    pub(super) async fn an_activity_is_rejected_fixed_and_published(&mut self, till: &EdgePoints) -> CliResult<String> {
        step("The bakery publishes an activity; the automatic review rejects it with every reason");
        let written = till
            .merchant()
            .write_activity(None, lunch("Fresh daily! 代.开.发.票 too, call １３８-0013-8000"))
            .await?;
        let rejected = till.merchant().submit(&written.activity_id).await?;
        for finding in &rejected.findings {
            say(format!(
                "finding       {} in {}: `{}` ({})",
                finding.finding.category, finding.field, finding.finding.text, finding.finding.word
            ));
        }
        check(
            rejected.state == ActivityState::Rejected && rejected.findings.len() == 2,
            "rejected: the spaced-out fraud phrase and the full-width phone number, with their original spans",
        )?;
        till.merchant()
            .write_activity(Some(written.activity_id.clone()), lunch("Fresh every morning"))
            .await?;
        let live = till.merchant().submit(&written.activity_id).await?;
        check(live.state == ActivityState::Live, "fixed and resubmitted: live")?;
        Ok(live.activity_id)
    }

    pub(super) async fn bob_claims_through_alices_share(&mut self, activity_id: &str) -> CliResult<String> {
        step("Alice shares it; Bob claims a coupon through her referral code");
        let share = self.alice.sdk.coupons().share(activity_id, "wechat").await?;
        say(format!("alice-phone   shared to {}: {}", share.channel, share.link));
        let own = self
            .alice
            .sdk
            .coupons()
            .claim(activity_id, Some(share.referral_code.clone()))
            .await;
        check(
            matches!(&own, Err(Error::Rejected { problem, .. }) if problem.code.as_str() == "invalid_referral"),
            "Alice cannot claim through her own code",
        )?;
        let page = self
            .bob
            .sdk
            .coupons()
            .activity(activity_id, Some(share.referral_code.clone()))
            .await?;
        say(format!("bob-phone     opened the link: “{}”", page.draft.title));
        let coupon = self
            .bob
            .sdk
            .coupons()
            .claim(activity_id, Some(share.referral_code))
            .await?;
        say(format!(
            "bob-phone     holds coupon {} ({} characters)",
            coupon.serial,
            coupon.token.len()
        ));
        let shown = self.bob.sdk.coupons().present(&coupon.serial)?;
        say(format!(
            "bob-phone     shows a {}×{} QR code, refreshed every 30 s",
            shown.qr_width, shown.qr_width
        ));
        Ok(shown.text)
    }

    pub(super) async fn the_till_checks_offline_and_redeems_once(
        &mut self,
        till: &EdgePoints,
        shown: &str,
    ) -> CliResult {
        step("The till checks Bob's coupon offline, refuses a stale screenshot, redeems it once");
        let offline = till.merchant().validate(shown)?;
        check(
            matches!(offline, Validation::Valid { .. }),
            "valid, checked with no network: signatures, window, merchant, holder, freshness",
        )?;
        let later = till.merchant().validate_at(shown, now_s() + 61)?;
        say(format!("a screenshot a minute later: {later:?}"));
        check(
            matches!(later, Validation::Refused { .. }),
            "a screenshot replayed a minute later is refused as stale",
        )?;
        let admin = self.live_admin()?;
        admin
            .add_fault(&json!({"route": routes::DEVICE_REDEMPTIONS, "action": "drop_after_commit", "count": 1}))
            .await?;
        let redemption = till.merchant().redeem(shown, "receipt 0042").await?;
        admin.reset_faults().await?;
        say(format!("bakery-till   redeemed, order {}", redemption.order_ref));
        let second = till.merchant().redeem(shown, "receipt 0043").await;
        check(
            matches!(&second, Err(Error::Rejected { problem, .. }) if problem.code.as_str() == "already_redeemed"),
            "redeemed once though its answer was lost; a second redemption is refused",
        )?;
        let referral: u64 = self
            .alice
            .sdk
            .points()
            .ledger(0)
            .await?
            .entries
            .iter()
            .filter(|e| e.reason == LedgerReason::Referral)
            .map(|e| e.points.max(0).unsigned_abs())
            .sum();
        check(
            referral > 0,
            &format!("Alice earned {referral} referral points for Bob's redemption"),
        )
    }

    pub(super) async fn two_offline_tills_redeem_one_coupon(
        &mut self,
        till: &EdgePoints,
        activity_id: &str,
    ) -> CliResult {
        step("Two tills cut off from the control plane both redeem Carol's coupon; back online, both hear of it");
        let admin = self.live_admin()?;
        let merchant_id = till
            .merchant()
            .identity()?
            .ok_or("the bakery's till is not enrolled")?
            .merchant_id;
        let heard_a = Arc::new(ConflictsHeard::default());
        let heard_b = Arc::new(ConflictsHeard::default());
        // Two more tills of the bakery, each listening for conflicts.
        let till_a = open_with(&self.endpoints, &self.root.join("bakery-till-2"), Some(heard_a.clone()))?;
        till_a
            .merchant()
            .enrol(&admin.enrolment_code(&merchant_id).await?)
            .await?;
        let till_b = open_with(&self.endpoints, &self.root.join("bakery-till-3"), Some(heard_b.clone()))?;
        till_b
            .merchant()
            .enrol(&admin.enrolment_code(&merchant_id).await?)
            .await?;
        let coupon = self.carol.sdk.coupons().claim(activity_id, None).await?;
        let shown = self.carol.sdk.coupons().present(&coupon.serial)?.text;
        admin
            .add_fault(&json!({"route": routes::DEVICE_OFFLINE_REDEMPTIONS, "action": "fail", "status": 503}))
            .await?;
        let a = till_a.merchant().redeem_offline(&shown, "till 2, receipt 7", 180)?;
        let b = till_b.merchant().redeem_offline(&shown, "till 3, receipt 9", 180)?;
        say(format!(
            "bakery-till-2 redeemed offline (counter {}; {} redemptions and {:.2} € left in its offline budget today)",
            a.counter,
            a.budget_left,
            a.budget_left_value_cents as f64 / 100.0
        ));
        say(format!(
            "bakery-till-3 redeemed the same coupon offline (counter {})",
            b.counter
        ));
        admin.reset_faults().await?;
        till_a.outbox().drain(Duration::from_secs(20)).await?;
        till_b.outbox().drain(Duration::from_secs(20)).await?;
        till_a.merchant().sync().await?;
        till_b.merchant().sync().await?;
        let (a_heard, b_heard) = (heard_a.0.load(Ordering::SeqCst), heard_b.0.load(Ordering::SeqCst));
        till_a.shutdown().await;
        till_b.shutdown().await;
        check(
            a_heard == 1 && b_heard == 1,
            "the first redemption stands; the double one is reported to both tills, once each, with both records",
        )
    }
}
