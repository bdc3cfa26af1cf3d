//! The tour's loyalty loop: Alice, a member now, earns points by serving;
//! the bakery prices an activity in points; her first claim is refused for
//! want of points and changes nothing, her second is paid in the swap that
//! issues the coupon; she redeems a rental credit for points and her next
//! rental is billed less; the bakery reads both activities' funnels; the
//! books hold: every balance is the sum of its ledger.

use std::time::Duration;

use edgepoints_core::{ActivityDraft, EdgePoints, Error, LedgerReason, NodeHandle, PointsPrice, TemplateKind};
use edgepoints_protocol::loyalty::{Reward, RewardKind};
use serde_json::json;

use super::narrative::{check, say, step};
use super::Tour;
use crate::coupons::{funnel_header, funnel_row};
use crate::CliResult;

/// The points price of the bakery's second activity.
const PRICE: u64 = 3;
/// The reward QA adds to the catalogue for the tour.
const CREDIT_ID: &str = "tour-rental-credit";
const CREDIT_POINTS: u64 = 4;
const CREDIT_CENTS: u64 = 150;

fn croissant_for_points() -> ActivityDraft {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ActivityDraft {
        template: TemplateKind::Gift,
        title: "A croissant for three points".into(),
        description: "With any coffee".into(),
        shop: "Rue Oberkampf".into(),
        staff: vec![],
        featured_items: vec![],
        pictures: vec![],
        percent_off: None,
        amount_off_cents: None,
        gift: Some("croissant".into()),
        min_spend_cents: 250,
        valid_from_s: now - 60,
        valid_until_s: now + 7 * 86_400,
        total_limit: 50,
        per_customer_limit: 1,
        points_price: Some(PointsPrice {
            points: PRICE,
            refund_on_rollback_percent: 100,
            refund_on_expiry_percent: 50,
        }),
    }
}

impl Tour {
    /// Heartbeats of `node` over `minutes` on the mock's clock.
    async fn serve_for(&self, node: &NodeHandle, minutes: u64) -> CliResult {
        let admin = self.live_admin()?;
        for _ in 0..minutes * 2 {
            admin.advance_clock(Duration::from_secs(30)).await?;
            node.heartbeat_now().await?;
        }
        Ok(())
    }

    pub(super) async fn alice_buys_a_coupon_with_earned_points(&mut self, till: &EdgePoints) -> CliResult<String> {
        step("Alice earns points by serving; the bakery prices a croissant at 3; she pays for it with points");
        let written = till.merchant().write_activity(None, croissant_for_points()).await?;
        let activity_id = till.merchant().submit(&written.activity_id).await?.activity_id;
        say(format!(
            "bakery-till   published “A croissant for three points” ({activity_id})"
        ));
        let alice = self.alice.sdk.clone();
        let node = alice.node().start("127.0.0.1:0".parse()?).await?;
        self.serve_for(&node, 2).await?;
        let before = alice.points().balance().await?;
        say(format!(
            "alice-phone   {} points for two minutes of serving ({})",
            before.balance, before.owner
        ));
        let short = alice.coupons().claim(&activity_id, None).await;
        let unchanged = alice.points().balance().await?.balance == before.balance && alice.coupons().held()?.is_empty();
        check(
            matches!(short, Err(Error::NotEnoughPoints { balance, needed: PRICE }) if balance == before.balance)
                && unchanged,
            &format!(
                "with {} points the claim is refused as `not_enough_points` and changes nothing",
                before.balance
            ),
        )?;
        self.serve_for(&node, 5).await?;
        node.stop().await;
        let earned = alice.points().balance().await?.balance;
        let coupon = alice.coupons().claim(&activity_id, None).await?;
        let after = alice.points().balance().await?.balance;
        say(format!(
            "alice-phone   {earned} points; holds coupon {} bought for {} points",
            coupon.serial, coupon.points_paid
        ));
        let ledger = alice.points().ledger(0).await?.entries;
        let debit = ledger.iter().find(|e| e.reason == LedgerReason::CouponPurchase);
        if let Some(debit) = debit {
            say(format!("alice-phone   ledger: {:+} {}", debit.points, debit.detail));
        }
        check(
            coupon.points_paid == PRICE
                && after == earned - PRICE
                && debit.is_some_and(|d| d.coupon.as_ref().is_some_and(|c| c.serial == coupon.serial)),
            "the debit and the coupon are one change: the ledger names the coupon it paid for",
        )?;
        Ok(activity_id)
    }

    pub(super) async fn alice_rents_again_for_less_with_a_points_reward(&mut self) -> CliResult {
        step("Alice redeems a rental credit for points; her next rental is billed less by it, once");
        self.live_admin()?
            .put_reward(&Reward {
                reward_id: CREDIT_ID.into(),
                title: "1.50 off your next rental".into(),
                points: CREDIT_POINTS,
                kind: RewardKind::RentalCredit {
                    amount_cents: CREDIT_CENTS,
                },
                active: true,
            })
            .await?;
        say(format!(
            "QA: the catalogue offers “1.50 off your next rental” for {CREDIT_POINTS} points"
        ));
        let alice = self.alice.sdk.clone();
        let grant = alice.points().redeem_reward(CREDIT_ID).await?;
        say(format!(
            "alice-phone   redeemed {} (grant {})",
            grant.title, grant.grant_id
        ));
        let harbour = edgepoints_core::Location {
            latitude: 48.1300,
            longitude: 11.5800,
        };
        let car = alice
            .rental()
            .vehicles_near(harbour, 1.0)
            .await?
            .into_iter()
            .next()
            .ok_or("no car free at the Harbour")?;
        alice.rental().reserve(&car.vehicle_id).await?;
        let running = alice.rental().start().await?;
        let link = running.vehicle.and_then(|v| v.link).ok_or("the car has no link")?;
        self.live_admin()?
            .car(
                &link,
                "drive",
                &json!({ "to": {"latitude": 48.1402, "longitude": 11.5600}, "km": 2.1, "battery_used_percent": 3 }),
            )
            .await?;
        let closed = alice.rental().end().await?;
        let fee = closed.rental.and_then(|r| r.fee).ok_or("no fee")?;
        for line in fee.lines.iter() {
            say(format!("  {:<14} {:>6} cents  {}", line.item, line.cents, line.detail));
        }
        for credit in fee.credits.iter() {
            say(format!(
                "  {:<14} {:>6} cents  {}",
                credit.item,
                -(credit.cents as i64),
                credit.detail
            ));
        }
        let lines: u64 = fee.lines.iter().map(|l| l.cents).sum();
        let taken = CREDIT_CENTS.min(lines);
        let grants = alice.points().grants().await?;
        check(
            fee.total_cents == lines - taken
                && grants
                    .iter()
                    .any(|g| g.grant_id == grant.grant_id && g.used_cents == taken),
            &format!(
                "{} of {} returned at Central: {}.{:02} {} after the credit, which is used up",
                car.vehicle_id,
                car.station_id.as_deref().unwrap_or("the Harbour"),
                fee.total_cents / 100,
                fee.total_cents % 100,
                fee.currency
            ),
        )
    }

    pub(super) async fn the_bakery_reads_its_funnels(
        &mut self,
        till: &EdgePoints,
        lunch: &str,
        croissant: &str,
    ) -> CliResult {
        step("The bakery reads what its activities did, per share channel, from the control plane's records");
        let mut funnels = Vec::new();
        for activity_id in [lunch, croissant] {
            let funnel = till.merchant().funnel(activity_id).await?;
            say(format!("“{}”", funnel.title));
            say(funnel_header());
            for channel in &funnel.channels {
                say(funnel_row(&channel.channel, &channel.counts));
            }
            say(funnel_row("total", &funnel.total));
            funnels.push(funnel);
        }
        let (lunch, croissant) = (&funnels[0].total, &funnels[1].total);
        check(
            lunch.shares == 1
                && lunch.views >= 1
                && lunch.claims == 2
                && lunch.referred_claims == 1
                && lunch.offline_conflicts == 1
                && croissant.claims == 1
                && croissant.points_taken == PRICE,
            "Alice's share, Bob's view and referred claim, Carol's coupon redeemed twice offline, Alice's points",
        )?;
        let books = self.live_admin()?.points_check().await?;
        check(
            books.holds(),
            &format!(
                "the books hold over {} accounts: every balance is the sum of its ledger, every bought coupon and grant has its one debit",
                books.accounts.len()
            ),
        )
    }
}
