//! The tour's coupons act: a merchant's till enrols and publishes an
//! activity the review rejects (with every reason), fixes and resubmits
//! it; Alice shares it, Bob claims through her referral code and shows the
//! coupon; the till checks it with no network, refuses a screenshot a
//! minute later, redeems it once though the answer is lost, refuses a
//! second redemption, and Alice earns her referral points.

use edgepoints_core::{ActivityDraft, ActivityState, CreditReason, EdgePoints, Error, TemplateKind, Validation};
use edgepoints_protocol::paths::routes;
use serde_json::json;

use super::narrative::{check, say, step};
use super::{open, Tour};
use crate::CliResult;

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
            .filter(|e| e.reason == CreditReason::Referral)
            .map(|e| e.points)
            .sum();
        check(
            referral > 0,
            &format!("Alice earned {referral} referral points for Bob's redemption"),
        )
    }
}
