//! The loyalty loop's wire types: prices and rewards refuse what makes no
//! sense, the ledger is signed, a shortfall travels as an extension member,
//! and a reward's kind is flattened into it.

use edgepoints_protocol::coupons::activities::{draft_problems, ActivityDraft, TemplateKind};
use edgepoints_protocol::loyalty::{PointsPrice, Reward, RewardKind};
use edgepoints_protocol::{LedgerEntry, LedgerReason, PointsShortfall, Problem, ProblemCode};

fn draft(price: Option<PointsPrice>) -> ActivityDraft {
    ActivityDraft {
        template: TemplateKind::Gift,
        title: "A croissant".into(),
        description: String::new(),
        shop: "Harbour".into(),
        staff: vec![],
        featured_items: vec![],
        pictures: vec![],
        percent_off: None,
        amount_off_cents: None,
        gift: Some("croissant".into()),
        min_spend_cents: 0,
        valid_from_s: 1_800_000_000,
        valid_until_s: 1_800_086_400,
        total_limit: 10,
        per_customer_limit: 1,
        points_price: price,
    }
}

#[test]
fn a_price_is_some_points_and_its_refunds_are_percentages() {
    let price = |points, rollback, expiry| PointsPrice {
        points,
        refund_on_rollback_percent: rollback,
        refund_on_expiry_percent: expiry,
    };
    assert!(draft_problems(&draft(None)).is_empty());
    assert!(draft_problems(&draft(Some(price(5, 100, 0)))).is_empty());
    for (bad, why) in [
        (price(0, 100, 0), "a points price is 1 to 1 000 000 points"),
        (price(1_000_001, 100, 0), "a points price is 1 to 1 000 000 points"),
        (price(5, 101, 0), "a refund is 0 to 100 percent of the price"),
        (price(5, 0, 250), "a refund is 0 to 100 percent of the price"),
    ] {
        assert_eq!(draft_problems(&draft(Some(bad))), [why], "{bad:?}");
    }
    assert_eq!(price(7, 50, 0).refund(50), 3, "rounded down");
    assert_eq!(price(7, 50, 0).refund(100), 7);
    // An older draft without a price reads as a free one; a price without
    // refund rules gives all back on a rollback and nothing on expiry.
    let json = serde_json::to_value(draft(None)).unwrap();
    assert!(json.get("points_price").is_none());
    let read: PointsPrice = serde_json::from_str(r#"{"points": 9}"#).unwrap();
    assert_eq!(read, price(9, 100, 0));
}

#[test]
fn a_reward_names_itself_prices_itself_and_says_what_it_gives() {
    let credit = Reward {
        reward_id: "rental-credit-5".into(),
        title: "5.00 off your next rental".into(),
        points: 50,
        kind: RewardKind::RentalCredit { amount_cents: 500 },
        active: true,
    };
    assert_eq!(credit.problem(), None);
    let json = serde_json::to_value(&credit).unwrap();
    assert_eq!(json["kind"], "rental_credit");
    assert_eq!(json["amount_cents"], 500);
    assert_eq!(serde_json::from_value::<Reward>(json).unwrap(), credit);
    let with = |change: fn(&mut Reward)| {
        let mut reward = credit.clone();
        change(&mut reward);
        reward.problem()
    };
    assert!(with(|r| r.reward_id = "Rental Credit".into()).is_some());
    assert!(with(|r| r.reward_id = String::new()).is_some());
    assert!(with(|r| r.title = String::new()).is_some());
    assert!(with(|r| r.points = 0).is_some());
    assert!(with(|r| r.kind = RewardKind::RentalCredit { amount_cents: 0 }).is_some());
    assert!(with(|r| r.kind = RewardKind::Voucher { partner: String::new() }).is_some());
    assert_eq!(
        with(|r| r.kind = RewardKind::Voucher {
            partner: "Harbour Coffee".into()
        }),
        None
    );
}

#[test]
fn the_ledger_is_signed_and_only_earnings_are_reported_as_credits() {
    let debit: LedgerEntry = serde_json::from_str(
        r#"{"id": 4, "at_ms": 1, "points": -3, "reason": "coupon_purchase", "detail": "coupon of “x”",
            "coupon": {"activity_id": "a", "serial": "s"}}"#,
    )
    .unwrap();
    assert_eq!(debit.points, -3);
    assert_eq!(debit.coupon.as_ref().map(|c| c.serial.as_str()), Some("s"));
    for (reason, earning) in [
        (LedgerReason::OnlineTime, true),
        (LedgerReason::Delivery, true),
        (LedgerReason::Referral, true),
        (LedgerReason::CouponPurchase, false),
        (LedgerReason::CouponRefund, false),
        (LedgerReason::RewardRedemption, false),
    ] {
        assert_eq!(reason.is_earning(), earning, "{reason:?}");
    }
}

#[test]
fn a_shortfall_travels_beside_the_problem() {
    let mut problem = Problem::new(
        409,
        ProblemCode::NotEnoughPoints,
        "the member's points do not cover the price",
    );
    problem.points = Some(Box::new(PointsShortfall { balance: 3, needed: 5 }));
    let json = serde_json::to_value(&problem).unwrap();
    assert_eq!(json["code"], "not_enough_points");
    assert_eq!(json["points"]["needed"], 5);
    assert_eq!(serde_json::from_value::<Problem>(json).unwrap(), problem);
    let plain = serde_json::to_value(Problem::new(404, ProblemCode::NotFound, "no such thing")).unwrap();
    assert!(plain.get("points").is_none(), "absent unless it says something");
}
