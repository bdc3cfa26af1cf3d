//! The loyalty loop through the SDK: members spend points on coupons and
//! rewards exactly once — under faults and while earning and spending from
//! two devices at once, on the memory and the Redis store —, a claim the
//! balance does not cover changes nothing, refunds follow a coupon given
//! back or expired unused once, and the balance is the sum of the ledger.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{
    ActivityDraft, ActivityState, EdgePoints, Error, Event, EventListener, LedgerReason, NodeHandle, PointsPrice,
    TemplateKind,
};
use edgepoints_mock_server::testing::RedisServer;
use edgepoints_mock_server::{points, ControlPlane, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_protocol::PointsRules;
use edgepoints_tests::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";
/// Points a minute online earns here.
const PER_MINUTE: u64 = 10;

fn priced_draft(title: &str, price: PointsPrice, valid_for_s: u64) -> ActivityDraft {
    let now = now_ms() / 1000;
    ActivityDraft {
        template: TemplateKind::Gift,
        title: title.into(),
        description: "A pastry with any coffee".into(),
        shop: "Harbour".into(),
        staff: vec![],
        featured_items: vec![],
        pictures: vec![],
        percent_off: None,
        amount_off_cents: None,
        gift: Some("croissant".into()),
        min_spend_cents: 300,
        valid_from_s: now - 60,
        valid_until_s: now + valid_for_s,
        total_limit: 1000,
        per_customer_limit: 1000,
        points_price: Some(price),
    }
}

/// A till of a new merchant, and the id of a live activity of `draft`.
async fn live_activity(server: &MockServer, draft: ActivityDraft) -> (tempfile::TempDir, EdgePoints, String) {
    let created = admin(server)
        .create_merchant("Harbour Café", &["Harbour"])
        .await
        .unwrap();
    let (dir, till) = new_device(server);
    till.merchant().enrol(&created.enrolment_code).await.unwrap();
    let written = till.merchant().write_activity(None, draft).await.unwrap();
    let live = till.merchant().submit(&written.activity_id).await.unwrap();
    assert_eq!(live.state, ActivityState::Live, "{live:?}");
    (dir, till, live.activity_id)
}

async fn set_rules(control_plane: &ControlPlane) {
    points::set_rules(
        control_plane,
        PointsRules {
            points_per_online_minute: PER_MINUTE,
            // Two devices move the one clock: a span may cover both moves.
            gap_limit_intervals: 10,
            ..PointsRules::default()
        },
    )
    .await
    .unwrap();
}

/// A serving node on `endpoints` with `member` logged in (signed up first
/// when `sign_up`).
async fn member_node(
    endpoints: &[String],
    dir: &std::path::Path,
    member: &str,
    sign_up: bool,
    events: Option<Arc<dyn EventListener>>,
) -> (EdgePoints, NodeHandle) {
    let sdk = EdgePoints::open(config(endpoints, dir), events).unwrap();
    if sign_up {
        sdk.members().sign_up(member, PASSWORD).await.unwrap();
    }
    sdk.members().login(member, PASSWORD).await.unwrap();
    let node = start_serving(&sdk, edgepoints_core::ConsentPolicy::default(), "127.0.0.1:0").await;
    (sdk, node)
}

/// `minutes` of service credited to whoever is logged in on `node`.
async fn earn(control_plane: &ControlPlane, node: &NodeHandle, minutes: u64) {
    for _ in 0..minutes * 2 {
        points::advance_clock(control_plane, 30_000).await.unwrap();
        node.heartbeat_now().await.unwrap();
    }
}

fn ledger_sum(entries: &[edgepoints_core::LedgerEntry]) -> i64 {
    entries.iter().map(|e| e.points).sum()
}

async fn whole_ledger(sdk: &EdgePoints) -> Vec<edgepoints_core::LedgerEntry> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = sdk.points().ledger(after).await.unwrap();
        entries.extend(page.entries);
        match page.next_after {
            Some(next) => after = next,
            None => return entries,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_the_points_do_not_cover_changes_nothing_and_a_coupon_given_back_or_revoked_is_refunded_once() {
    let server = start_mock().await;
    set_rules(server.control_plane()).await;
    let price = PointsPrice {
        points: 50,
        refund_on_rollback_percent: 80,
        refund_on_expiry_percent: 0,
    };
    let (_till_dir, till, activity_id) =
        live_activity(&server, priced_draft("Croissant for points", price, 86_400)).await;

    // Without a member there is nobody to pay.
    let (_anon_dir, anonymous) = new_device(&server);
    let anon = anonymous.coupons().claim(&activity_id, None).await;
    assert!(matches!(anon, Err(Error::NotLoggedIn)), "{anon:?}");

    let events = Arc::new(EventRecorder::default());
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = member_node(
        &[server.url()],
        dir.path(),
        "nora@example.com",
        true,
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .await;
    earn(server.control_plane(), &node, 3).await;
    assert_eq!(sdk.points().balance().await.unwrap().balance, 30);
    let before = whole_ledger(&sdk).await;
    let short = sdk.coupons().claim(&activity_id, None).await;
    assert!(
        matches!(
            short,
            Err(Error::NotEnoughPoints {
                balance: 30,
                needed: 50
            })
        ),
        "{short:?}"
    );
    // Nothing changed: the ledger, the activity's count, the device's coupons.
    assert_eq!(whole_ledger(&sdk).await, before);
    assert_eq!(sdk.coupons().activity(&activity_id, None).await.unwrap().claimed, 0);
    assert!(sdk.coupons().held().unwrap().is_empty());
    assert!(admin(&server).points_check().await.unwrap().holds());

    earn(server.control_plane(), &node, 3).await;
    // The debit and the coupon happen once, though the answer is lost.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CLAIMS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let coupon = sdk.coupons().claim(&activity_id, None).await.unwrap();
    assert_eq!(coupon.points_paid, 50);
    assert_eq!(sdk.points().balance().await.unwrap().balance, 10);
    let purchases: Vec<_> = whole_ledger(&sdk)
        .await
        .into_iter()
        .filter(|e| e.reason == LedgerReason::CouponPurchase)
        .collect();
    assert_eq!(purchases.len(), 1, "{purchases:?}");
    assert_eq!(purchases[0].points, -50);
    let paid_for = purchases[0].coupon.as_ref().unwrap();
    assert_eq!(
        (paid_for.activity_id.as_str(), paid_for.serial.as_str()),
        (activity_id.as_str(), coupon.serial.as_str())
    );
    assert!(events.events().iter().any(|e| matches!(
        e,
        Event::PointsSpent {
            points: 50,
            reason: LedgerReason::CouponPurchase,
            ..
        }
    )));

    // Given back (its answer lost too): 80 % comes back, once.
    let shown = sdk.coupons().present(&coupon.serial).unwrap().text;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CLAIM_ROLLBACKS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    assert_eq!(sdk.coupons().give_back(&coupon.serial).await.unwrap(), 40);
    assert!(
        sdk.coupons().held().unwrap().is_empty(),
        "a coupon given back is not held"
    );
    assert!(matches!(
        sdk.coupons().give_back(&coupon.serial).await,
        Err(Error::InvalidInput(_))
    ));
    let refunds: Vec<_> = whole_ledger(&sdk)
        .await
        .into_iter()
        .filter(|e| e.reason == LedgerReason::CouponRefund)
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].points, 40);
    assert_eq!(sdk.points().balance().await.unwrap().balance, 50);
    // No till takes it: the control plane says so, and so does the
    // revocation log offline.
    let online = till.merchant().validate_online(&shown).await.unwrap();
    assert_eq!(online.standing, edgepoints_core::CouponStanding::RolledBack);
    match till.merchant().redeem(&shown, "order 1").await {
        Err(Error::Rejected { problem, .. }) => assert_eq!(problem.code.as_str(), "revoked"),
        other => panic!("a coupon given back is revoked, got {other:?}"),
    }
    till.merchant().sync().await.unwrap();
    assert!(matches!(
        till.merchant().validate(&shown).unwrap(),
        edgepoints_core::Validation::Refused {
            reason: edgepoints_core::Refusal::Revoked
        }
    ));
    // The stock came back.
    assert_eq!(sdk.coupons().activity(&activity_id, None).await.unwrap().claimed, 0);

    // Bought again and revoked by QA before it is used: all of it comes
    // back, once, however often it is revoked.
    let again = sdk.coupons().claim(&activity_id, None).await.unwrap();
    assert_eq!(sdk.points().balance().await.unwrap().balance, 0);
    for _ in 0..2 {
        admin(&server).revoke_coupon(&activity_id, &again.serial).await.unwrap();
    }
    assert_eq!(sdk.points().balance().await.unwrap().balance, 50);
    let refunded: Vec<i64> = whole_ledger(&sdk)
        .await
        .into_iter()
        .filter(|e| e.reason == LedgerReason::CouponRefund)
        .map(|e| e.points)
        .collect();
    assert_eq!(refunded, [40, 50]);

    let check = admin(&server).points_check().await.unwrap();
    assert!(check.holds(), "{:?}", check.problems);
    assert_eq!(check.coupons_bought, 2);
    let ledger = whole_ledger(&sdk).await;
    assert_eq!(
        ledger_sum(&ledger),
        sdk.points().balance().await.unwrap().balance as i64
    );

    // The session ends on the control plane: a priced claim says so (and
    // the app hears it once), a free one needs no member and goes through.
    let free = ActivityDraft {
        points_price: None,
        ..priced_draft("Free croissant", price, 86_400)
    };
    let written = till.merchant().write_activity(None, free).await.unwrap();
    let free_id = till.merchant().submit(&written.activity_id).await.unwrap().activity_id;
    for session in admin(&server).sessions().await.unwrap() {
        if session.device_id.as_str() == sdk.device_id() {
            admin(&server).expire_session(&session.session_key).await.unwrap();
        }
    }
    let ended = sdk.coupons().claim(&activity_id, None).await;
    assert!(matches!(ended, Err(Error::SessionExpired { .. })), "{ended:?}");
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, Event::SessionExpired { .. })));
    assert_eq!(sdk.coupons().claim(&free_id, None).await.unwrap().points_paid, 0);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bought_coupon_that_expires_unused_is_refunded_by_its_rule_once() {
    let server = start_mock().await;
    set_rules(server.control_plane()).await;
    let price = PointsPrice {
        points: 30,
        refund_on_rollback_percent: 100,
        refund_on_expiry_percent: 50,
    };
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = member_node(&[server.url()], dir.path(), "otto@example.com", true, None).await;
    earn(server.control_plane(), &node, 4).await;
    // Valid for four seconds of wall clock (coupon dates are the tills'),
    // claimed at once.
    let (_till_dir, _till, activity_id) = live_activity(&server, priced_draft("Short offer", price, 4)).await;
    let coupon = sdk.coupons().claim(&activity_id, None).await.unwrap();
    assert_eq!(sdk.points().balance().await.unwrap().balance, 10);
    // The background sweep settles it once it has expired; sweeps on
    // every tick after find nothing left to settle.
    eventually("the expired coupon's refund", || async {
        sdk.points().balance().await.unwrap().balance == 25
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refunds: Vec<_> = whole_ledger(&sdk)
        .await
        .into_iter()
        .filter(|e| e.reason == LedgerReason::CouponRefund)
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].points, 15);
    assert_eq!(refunds[0].coupon.as_ref().unwrap().serial, coupon.serial);
    assert!(matches!(
        sdk.coupons().give_back(&coupon.serial).await,
        Err(Error::CouponUsed)
    ));
    assert_eq!(sdk.points().balance().await.unwrap().balance, 25);
    let check = admin(&server).points_check().await.unwrap();
    assert!(check.holds(), "{:?}", check.problems);
    node.stop().await;
}

/// Eight rounds of a heartbeat and a spend (a coupon, or with `rewards`
/// every other round a reward): how many coupons and grants were answered,
/// and how many spends the balance did not cover.
async fn spend(
    sdk: &EdgePoints,
    node: &NodeHandle,
    control_plane: &ControlPlane,
    activity_id: &str,
    rewards: bool,
) -> (u64, u64, u64) {
    let (mut coupons, mut grants, mut short) = (0u64, 0u64, 0u64);
    for round in 0..8 {
        points::advance_clock(control_plane, 30_000).await.unwrap();
        node.heartbeat_now().await.unwrap();
        let spent = if rewards && round % 2 == 1 {
            sdk.points().redeem_reward("harbour-coffee").await.map(|_| &mut grants)
        } else {
            sdk.coupons().claim(activity_id, None).await.map(|_| &mut coupons)
        };
        match spent {
            Ok(count) => *count += 1,
            Err(Error::NotEnoughPoints { balance, needed }) => {
                assert!(balance < needed);
                short += 1;
            }
            Err(other) => panic!("a spend failed: {other:?}"),
        }
    }
    (coupons, grants, short)
}

/// Two devices of one member earn by heartbeats (and by referrals of
/// friends' coupons redeemed meanwhile) and spend on coupons and rewards
/// at once, over two instances, with 503s and lost answers on the
/// spending routes: every spend is applied once, no balance goes below
/// zero, and the balance is the sum of the ledger at the end.
async fn earning_and_spending_at_once(control_plane: Arc<ControlPlane>) {
    set_rules(&control_plane).await;
    let servers = MockServer::start_cluster(2, control_plane.clone()).await.unwrap();
    let endpoints: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let price = PointsPrice {
        points: 20,
        refund_on_rollback_percent: 100,
        refund_on_expiry_percent: 0,
    };
    let (_till_dir, till, activity_id) =
        live_activity(&servers[0], priced_draft("Busy croissant", price, 86_400)).await;
    // A free activity the member shares: friends' redeemed coupons earn
    // referral points while the member spends.
    let free = ActivityDraft {
        points_price: None,
        ..priced_draft("Free coffee", price, 86_400)
    };
    let written = till.merchant().write_activity(None, free).await.unwrap();
    let free_id = till.merchant().submit(&written.activity_id).await.unwrap().activity_id;
    let mut friends = Vec::new();
    for _ in 0..3 {
        friends.push(new_device(&servers[1]));
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (phone, phone_node) = member_node(&endpoints, dir_a.path(), "mia@example.com", true, None).await;
    let (tablet, tablet_node) = member_node(&endpoints[1..], dir_b.path(), "mia@example.com", false, None).await;
    earn(&control_plane, &phone_node, 10).await;
    for rule in [
        json!({"route": routes::DEVICE_CLAIMS, "action": "fail", "status": 503, "count": 3}),
        json!({"route": routes::DEVICE_CLAIMS, "action": "drop_after_commit", "count": 3}),
        json!({"route": routes::DEVICE_REWARD_REDEMPTIONS, "action": "drop_after_commit", "count": 2}),
        json!({"route": routes::DEVICE_REWARD_REDEMPTIONS, "action": "fail", "status": 503, "count": 2}),
    ] {
        add_fault(&servers[0], rule).await;
    }
    let share = phone.coupons().share(&free_id, "sms").await.unwrap();
    let referrals = async {
        for (_, friend) in &friends {
            let coupon = friend
                .coupons()
                .claim(&free_id, Some(share.referral_code.clone()))
                .await
                .unwrap();
            let shown = friend.coupons().present(&coupon.serial).unwrap().text;
            till.merchant().redeem(&shown, "referred").await.unwrap();
        }
    };
    // QA looks at the books all along: they hold at every look.
    let spending = std::sync::atomic::AtomicBool::new(true);
    let looks = async {
        let mut looks = 0;
        while spending.load(std::sync::atomic::Ordering::SeqCst) {
            let check = admin(&servers[1]).points_check().await.unwrap();
            assert!(check.holds(), "mid-run: {:?}", check.problems);
            looks += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        looks
    };
    let spends = async {
        let spent = tokio::join!(
            spend(&phone, &phone_node, &control_plane, &activity_id, false),
            spend(&tablet, &tablet_node, &control_plane, &activity_id, true),
            referrals,
        );
        spending.store(false, std::sync::atomic::Ordering::SeqCst);
        spent
    };
    let ((a, b, ()), looks) = tokio::join!(spends, looks);
    assert!(looks > 0);
    let (coupons, grants) = (a.0 + b.0, a.1 + b.1);
    assert!(coupons > 0 && grants > 0, "something was spent: {a:?} {b:?}");
    assert!(
        admin(&servers[0]).faults().await.unwrap().is_empty(),
        "every 503 and lost answer was met"
    );

    // Every spend once: one debit per coupon and per grant, and those the
    // control plane holds are exactly those the devices were answered.
    let ledger = whole_ledger(&phone).await;
    let count = |reason: LedgerReason| ledger.iter().filter(|e| e.reason == reason).count() as u64;
    assert_eq!(count(LedgerReason::CouponPurchase), coupons);
    assert_eq!(count(LedgerReason::RewardRedemption), grants);
    assert_eq!(
        count(LedgerReason::Referral),
        friends.len() as u64,
        "each referral credited once"
    );
    assert_eq!(phone.coupons().held().unwrap().len() as u64, a.0);
    assert_eq!(tablet.coupons().held().unwrap().len() as u64, b.0);
    assert_eq!(
        phone.coupons().activity(&activity_id, None).await.unwrap().claimed as u64,
        coupons
    );
    assert_eq!(tablet.points().grants().await.unwrap().len() as u64, grants);
    let mut running = 0i64;
    for entry in &ledger {
        running += entry.points;
        assert!(running >= 0, "the balance went below zero at {entry:?}");
    }
    let balance = phone.points().balance().await.unwrap().balance;
    assert_eq!(ledger_sum(&ledger), balance as i64);
    assert_eq!(tablet.points().balance().await.unwrap().balance, balance);
    let check = admin(&servers[1]).points_check().await.unwrap();
    assert!(check.holds(), "{:?}", check.problems);
    assert_eq!(check.coupons_bought, coupons);
    assert_eq!(check.grants, grants);
    phone_node.stop().await;
    tablet_node.stop().await;
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_earning_and_spending_at_once_spend_once_on_the_memory_store() {
    earning_and_spending_at_once(Arc::new(ControlPlane::in_memory(None).await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_earning_and_spending_at_once_spend_once_on_the_redis_store() {
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    let store = edgepoints_mock_server::store::RedisStore::connect(&redis.url(), "loyalty")
        .await
        .unwrap();
    earning_and_spending_at_once(Arc::new(ControlPlane::open(Arc::new(store), None).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_credit_bought_with_points_takes_its_amount_off_one_rental_once() {
    let server = start_mock().await;
    set_rules(server.control_plane()).await;
    edgepoints_mock_server::rental::catalogue::seed_demo(server.control_plane())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sdk, node) = member_node(&[server.url()], dir.path(), "rhea@example.com", true, None).await;
    sdk.rental().set_vehicle_link(Some(
        Arc::new(HttpVehicleLink::default()) as Arc<dyn edgepoints_core::VehicleLink>
    ));
    let catalogue = sdk.points().rewards().await.unwrap();
    let credit = catalogue
        .iter()
        .find(|r| matches!(r.kind, edgepoints_core::RewardKind::RentalCredit { .. }))
        .expect("the catalogue offers a rental credit")
        .clone();
    let edgepoints_core::RewardKind::RentalCredit { amount_cents } = credit.kind else {
        unreachable!()
    };
    let short = sdk.points().redeem_reward(&credit.reward_id).await;
    assert!(
        matches!(short, Err(Error::NotEnoughPoints { balance: 0, .. })),
        "{short:?}"
    );
    assert!(
        sdk.points().grants().await.unwrap().is_empty(),
        "a refusal grants nothing"
    );
    earn(server.control_plane(), &node, credit.points.div_ceil(PER_MINUTE)).await;
    let grant = sdk.points().redeem_reward(&credit.reward_id).await.unwrap();
    assert_eq!(grant.points, credit.points);

    // Two rentals: the first, whose end's answer is lost, takes the credit.
    let mut fees = Vec::new();
    for (i, car_id) in ["ev-101", "ev-102"].into_iter().enumerate() {
        sdk.rental().reserve(car_id).await.unwrap();
        let running = sdk.rental().start().await.unwrap();
        let link = running.vehicle.unwrap().link.unwrap();
        car(
            &link,
            "drive",
            json!({ "to": {"latitude": 48.13, "longitude": 11.58}, "km": 4.0 }),
        )
        .await;
        if i == 0 {
            add_fault(
                &server,
                json!({"route": routes::DEVICE_RENTAL_END, "action": "drop_after_commit", "count": 1}),
            )
            .await;
        }
        let closed = sdk.rental().end().await.unwrap();
        let record = closed.rental.unwrap();
        fees.push((record.rental_id.clone(), record.fee.unwrap()));
    }
    let (first_id, first) = &fees[0];
    let lines: u64 = first.lines.iter().map(|l| l.cents).sum();
    let taken = amount_cents.min(lines);
    assert_eq!(first.credits.len(), 1, "{first:?}");
    assert_eq!(
        (first.credits[0].item.as_str(), first.credits[0].cents),
        ("points_reward", taken)
    );
    assert_eq!(first.total_cents, lines - taken);
    let (_, second) = &fees[1];
    assert!(second.credits.is_empty(), "a credit is used on one rental: {second:?}");
    assert_eq!(second.total_cents, second.lines.iter().map(|l| l.cents).sum::<u64>());
    let grants = sdk.points().grants().await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].used_by_rental.as_deref(), grants[0].used_cents),
        (Some(first_id.as_str()), taken)
    );
    // The bill says what the member pays.
    eventually("the first rental's bill", || async {
        let queues = admin(&server).queues().await.unwrap();
        queues
            .bills
            .iter()
            .any(|b| &b.rental_id == first_id && b.fee.total_cents == lines - taken)
    })
    .await;
    let check = admin(&server).points_check().await.unwrap();
    assert!(check.holds(), "{:?}", check.problems);
    assert_eq!(check.grants, 1);
    node.stop().await;
}
