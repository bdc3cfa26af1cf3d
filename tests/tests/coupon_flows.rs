//! Coupons through the SDK: a merchant's device enrols and publishes an
//! activity (one rejected by the review, fixed, then live); a customer
//! claims a coupon through the outbox (a lost answer gives one coupon, not
//! two) and presents it; the till checks presentations with the control
//! plane unreachable.

use std::sync::Arc;

use edgepoints_core::{
    ActivityDraft, ActivityState, EdgePoints, Error, Event, EventListener, Refusal, TemplateKind, Validation,
};
use edgepoints_mock_server::{points, MockServer};
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

fn draft(description: &str) -> ActivityDraft {
    let now = now_ms() / 1000;
    ActivityDraft {
        template: TemplateKind::AmountOff,
        title: "5 € off your lunch".into(),
        description: description.into(),
        shop: "Quai de Valmy".into(),
        staff: vec![],
        featured_items: vec!["menu du jour".into()],
        pictures: vec![],
        percent_off: None,
        amount_off_cents: Some(500),
        gift: None,
        min_spend_cents: 1500,
        valid_from_s: now - 60,
        valid_until_s: now + 30 * 86_400,
        total_limit: 100,
        per_customer_limit: 2,
        points_price: None,
    }
}

/// A till enrolled with a new merchant, and a live activity of it.
async fn till_with_live_activity(server: &MockServer) -> (tempfile::TempDir, EdgePoints, String) {
    let created = admin(server)
        .create_merchant("Bistro Valmy", &["Quai de Valmy"])
        .await
        .unwrap();
    let (dir, till) = new_device(server);
    let identity = till.merchant().enrol(&created.enrolment_code).await.unwrap();
    assert_eq!(identity.merchant_id, created.merchant.merchant_id);
    let activity = till.merchant().write_activity(None, draft("Lunch deal")).await.unwrap();
    let live = till.merchant().submit(&activity.activity_id).await.unwrap();
    assert_eq!(live.state, ActivityState::Live, "{live:?}");
    (dir, till, live.activity_id)
}

#[tokio::test]
async fn a_merchant_fixes_a_rejected_activity_and_publishes_it() {
    let server = start_mock().await;
    let created = admin(&server)
        .create_merchant("Bistro Valmy", &["Quai de Valmy"])
        .await
        .unwrap();
    let (_dir, till) = new_device(&server);
    assert!(till.merchant().identity().unwrap().is_none());
    assert!(matches!(
        till.merchant().write_activity(None, draft("x")).await,
        Err(Error::Rejected { status: 403, .. })
    ));
    till.merchant().enrol(&created.enrolment_code).await.unwrap();
    let written = till
        .merchant()
        .write_activity(None, draft("Best 赌 博 deals, see www.valmy-deals.com"))
        .await
        .unwrap();
    let rejected = till.merchant().submit(&written.activity_id).await.unwrap();
    assert_eq!(rejected.state, ActivityState::Rejected);
    let reasons: Vec<(&str, &str)> = rejected
        .findings
        .iter()
        .map(|f| (f.finding.category.as_str(), f.finding.text.as_str()))
        .collect();
    assert_eq!(reasons, [("gambling", "赌 博"), ("contact", "www.valmy-deals.com")]);
    till.merchant()
        .write_activity(Some(written.activity_id.clone()), draft("Best deals"))
        .await
        .unwrap();
    let live = till.merchant().submit(&written.activity_id).await.unwrap();
    assert_eq!(live.state, ActivityState::Live);
    let (_dir, customer) = new_device(&server);
    let listed = customer.coupons().live_activities(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].merchant_name, "Bistro Valmy");
}

#[tokio::test]
async fn a_claim_whose_answer_is_lost_gives_one_coupon() {
    let server = start_mock().await;
    let (_till_dir, _till, activity_id) = till_with_live_activity(&server).await;
    let events = Arc::new(EventRecorder::default());
    let dir = tempfile::tempdir().unwrap();
    let customer = EdgePoints::open(
        config(&[server.url()], dir.path()),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .unwrap();
    customer.register().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CLAIMS, "action": "drop_after_commit", "count": 2}),
    )
    .await;
    let coupon = customer.coupons().claim(&activity_id, None).await.unwrap();
    assert_eq!(coupon.activity_id, activity_id);
    assert_eq!(coupon.title, "5 € off your lunch");
    assert_eq!(customer.coupons().held().unwrap(), vec![coupon.clone()]);
    assert_eq!(
        applied(&server, "claims").await,
        1,
        "claimed once though two answers were lost"
    );
    let activity = customer.coupons().activity(&activity_id, None).await.unwrap();
    assert_eq!(activity.claimed, 1);
    let heard = events
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::CouponClaimed { .. }))
        .count();
    assert_eq!(heard, 1);
    // The held coupon survives a restart.
    customer.shutdown().await;
    let customer = open_sdk(&server, dir.path());
    assert_eq!(customer.coupons().held().unwrap(), vec![coupon]);
}

#[tokio::test]
async fn the_till_checks_presentations_with_the_control_plane_unreachable() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    let (_other_dir, other_till, _) = till_with_live_activity(&server).await;
    let (_dir, customer) = new_device(&server);
    let coupon = customer.coupons().claim(&activity_id, None).await.unwrap();
    let presentation = customer.coupons().present(&coupon.serial).unwrap();
    assert!(presentation.text.starts_with("EPP1:"));
    assert_eq!(
        presentation.qr_modules.len(),
        (presentation.qr_width * presentation.qr_width) as usize
    );
    assert!(presentation.qr_width <= 77, "QR version 15 at most");
    assert!(presentation.refresh_at_ms > now_ms());

    // Offline from here: the mock is gone.
    server.shutdown().await;
    match till.merchant().validate(&presentation.text).unwrap() {
        Validation::Valid {
            serial,
            activity_id: id,
            ..
        } => {
            assert_eq!(
                (serial.as_str(), id.as_str()),
                (coupon.serial.as_str(), activity_id.as_str())
            );
        }
        refused => panic!("valid, got {refused:?}"),
    }
    let refused = |text: &str, till: &EdgePoints| match till.merchant().validate(text).unwrap() {
        Validation::Refused { reason } => reason,
        valid => panic!("refused, got {valid:?}"),
    };
    assert_eq!(refused(&presentation.text, &other_till), Refusal::WrongMerchant);
    assert_eq!(refused("EPP1:not a coupon", &till), Refusal::Malformed);
    // One character of the text changed.
    let mut altered = presentation.text.clone().into_bytes();
    let at = altered.len() - 10;
    altered[at] = if altered[at] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    assert_ne!(
        till.merchant().validate(&altered).unwrap(),
        till.merchant().validate(&presentation.text).unwrap()
    );
    // The customer cannot present a coupon they do not hold.
    assert!(matches!(customer.coupons().present("00"), Err(Error::InvalidInput(_))));
    // A device that never enrolled cannot check.
    assert!(matches!(
        customer.merchant().validate(&presentation.text),
        Err(Error::NotAllowed(_))
    ));
}

#[tokio::test]
async fn a_redemption_happens_once_under_faults_and_a_rollback_gives_the_use_back_in_its_window() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    let (_dir, customer) = new_device(&server);
    let coupon = customer.coupons().claim(&activity_id, None).await.unwrap();
    let shown = customer.coupons().present(&coupon.serial).unwrap().text;
    for rule in [
        json!({"route": routes::DEVICE_REDEMPTIONS, "action": "fail", "status": 503, "count": 2}),
        json!({"route": routes::DEVICE_REDEMPTIONS, "action": "drop_after_commit", "count": 2}),
        json!({"route": routes::DEVICE_REDEMPTIONS, "action": "delay", "delay_ms": 200, "count": 1}),
    ] {
        add_fault(&server, rule).await;
    }
    let redemption = till.merchant().redeem(&shown, "order-17").await.unwrap();
    assert_eq!(
        (redemption.serial.as_str(), redemption.order_ref.as_str()),
        (coupon.serial.as_str(), "order-17")
    );
    assert_eq!(
        applied(&server, "redemptions").await,
        1,
        "redeemed once through every fault"
    );
    // Two refused, then committed with the answer lost (after which the
    // SDK asks what became of it rather than only resending).
    assert!(requests_on(&server, routes::DEVICE_REDEMPTIONS).await >= 3);
    // The till knows it now, offline too; the control plane refuses a second.
    assert_eq!(
        till.merchant().validate(&shown).unwrap(),
        Validation::Refused {
            reason: Refusal::AlreadyRedeemed
        }
    );
    match till.merchant().redeem(&shown, "order-18").await {
        Err(Error::Rejected { status: 409, problem }) => assert_eq!(problem.code.as_str(), "already_redeemed"),
        other => panic!("refused, got {other:?}"),
    }
    // A code that is not a genuine coupon: not_found, nothing more said.
    match till.merchant().redeem("EPP1:0000", "order-19").await {
        Err(Error::Rejected { status: 404, .. }) => {}
        other => panic!("not found, got {other:?}"),
    }

    // Rolled back within the window: the use is back, and it redeems again.
    till.merchant()
        .rollback(&activity_id, &redemption.redemption_id)
        .await
        .unwrap();
    assert!(matches!(
        till.merchant().validate(&shown).unwrap(),
        Validation::Valid { .. }
    ));
    let again = till.merchant().redeem(&shown, "order-20").await.unwrap();
    // After the window (the mock clock moves 25 h): refused.
    points::advance_clock(server.control_plane(), 25 * 3600 * 1000)
        .await
        .unwrap();
    match till.merchant().rollback(&activity_id, &again.redemption_id).await {
        Err(Error::Rejected { status: 409, problem }) => assert_eq!(problem.code.as_str(), "rollback_window_closed"),
        other => panic!("window closed, got {other:?}"),
    }
    assert_eq!(applied(&server, "redemptions").await, 2);
}

#[tokio::test]
async fn a_redeemed_referral_credits_the_sharer_once() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    let (_a, sharer) = new_device(&server);
    let (_b, friend) = new_device(&server);
    let share = sharer.coupons().share(&activity_id, "WeChat").await.unwrap();
    assert_eq!((share.channel.as_str(), share.referral_code.len()), ("wechat", 10));
    assert!(share.link.contains(&share.referral_code) && share.link.contains(&activity_id));
    // Not through one's own code; not with a made-up one.
    for (who, code) in [
        (&sharer, share.referral_code.clone()),
        (&friend, "aaaaaaaaaa".to_owned()),
    ] {
        match who.coupons().claim(&activity_id, Some(code)).await {
            Err(Error::Rejected { status: 422, problem }) => assert_eq!(problem.code.as_str(), "invalid_referral"),
            other => panic!("refused, got {other:?}"),
        }
    }
    let coupon = friend
        .coupons()
        .claim(&activity_id, Some(share.referral_code.clone()))
        .await
        .unwrap();
    let shown = friend.coupons().present(&coupon.serial).unwrap().text;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_REDEMPTIONS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    till.merchant().redeem(&shown, "order-5").await.unwrap();
    assert!(till.merchant().redeem(&shown, "order-6").await.is_err());
    let ledger = sharer.points().ledger(0).await.unwrap();
    let referrals: Vec<i64> = ledger
        .entries
        .iter()
        .filter(|e| e.reason == edgepoints_core::LedgerReason::Referral)
        .map(|e| e.points)
        .collect();
    assert_eq!(referrals, [10], "one referral credit of the default 10 points");
    assert_eq!(sharer.points().balance().await.unwrap().balance, 10);
    assert_eq!(
        friend.points().balance().await.unwrap().balance,
        0,
        "the claimer earns nothing"
    );
    assert_eq!(applied(&server, "shares").await, 1);
}

#[tokio::test]
async fn a_revoked_coupon_is_refused_online_and_after_a_sync_offline() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    let (_dir, customer) = new_device(&server);
    let revoked = customer.coupons().claim(&activity_id, None).await.unwrap();
    // Another coupon of the same activity, for another customer, stays good.
    let (_dir2, other) = new_device(&server);
    let kept = other.coupons().claim(&activity_id, None).await.unwrap();
    admin(&server)
        .revoke_coupon(&activity_id, &revoked.serial)
        .await
        .unwrap();
    let shown = customer.coupons().present(&revoked.serial).unwrap().text;
    assert!(
        matches!(till.merchant().validate(&shown).unwrap(), Validation::Valid { .. }),
        "before the sync the till does not know"
    );
    assert_eq!(till.merchant().sync().await.unwrap(), 1);
    assert_eq!(till.merchant().sync().await.unwrap(), 0, "a delta: nothing new");
    assert_eq!(
        till.merchant().validate(&shown).unwrap(),
        Validation::Refused {
            reason: Refusal::Revoked
        }
    );
    let kept_shown = other.coupons().present(&kept.serial).unwrap().text;
    assert!(matches!(
        till.merchant().validate(&kept_shown).unwrap(),
        Validation::Valid { .. }
    ));
    match till.merchant().redeem(&shown, "order-9").await {
        Err(Error::Rejected { status: 409, problem }) => assert_eq!(problem.code.as_str(), "revoked"),
        other => panic!("revoked, got {other:?}"),
    }
    till.merchant().redeem(&kept_shown, "order-10").await.unwrap();
}

/// `count` new customers each claim a coupon of `activity_id`: their
/// presentations, and the customers (kept open as long as they are needed).
async fn presented_by_new_customers(
    server: &MockServer,
    activity_id: &str,
    count: usize,
) -> (Vec<String>, Vec<(tempfile::TempDir, EdgePoints)>) {
    let (mut shown, mut customers) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let (dir, customer) = new_device(server);
        let coupon = customer.coupons().claim(activity_id, None).await.unwrap();
        shown.push(customer.coupons().present(&coupon.serial).unwrap().text);
        customers.push((dir, customer));
    }
    (shown, customers)
}

/// A second till of the same merchant, enrolled with a new code.
async fn second_till(server: &MockServer, first: &EdgePoints) -> (tempfile::TempDir, EdgePoints, Arc<EventRecorder>) {
    let merchant_id = first.merchant().identity().unwrap().unwrap().merchant_id;
    let code = admin(server).enrolment_code(&merchant_id).await.unwrap();
    let events = Arc::new(EventRecorder::default());
    let dir = tempfile::tempdir().unwrap();
    let till = EdgePoints::open(
        config(&[server.url()], dir.path()),
        Some(events.clone() as Arc<dyn EventListener>),
    )
    .unwrap();
    till.merchant().enrol(&code).await.unwrap();
    (dir, till, events)
}

fn conflicts(events: &EventRecorder) -> Vec<edgepoints_core::RedemptionConflict> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::RedemptionConflict { conflict } => Some(conflict),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_offline_double_redemption_is_reported_to_both_tills_once_they_are_back_online() {
    let server = start_mock().await;
    let created = admin(&server)
        .create_merchant("Bistro Valmy", &["Quai de Valmy"])
        .await
        .unwrap();
    let events_a = Arc::new(EventRecorder::default());
    let dir_a = tempfile::tempdir().unwrap();
    let till_a = EdgePoints::open(
        config(&[server.url()], dir_a.path()),
        Some(events_a.clone() as Arc<dyn EventListener>),
    )
    .unwrap();
    till_a.merchant().enrol(&created.enrolment_code).await.unwrap();
    let activity = till_a
        .merchant()
        .write_activity(None, draft("Lunch deal"))
        .await
        .unwrap();
    let activity_id = till_a
        .merchant()
        .submit(&activity.activity_id)
        .await
        .unwrap()
        .activity_id;
    let (_dir_b, till_b, events_b) = second_till(&server, &till_a).await;
    let (_dir, customer) = new_device(&server);
    let coupon = customer.coupons().claim(&activity_id, None).await.unwrap();
    let shown = customer.coupons().present(&coupon.serial).unwrap().text;

    // Both tills are cut off from the control plane and redeem the same coupon.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_OFFLINE_REDEMPTIONS, "action": "fail", "status": 503}),
    )
    .await;
    let a = till_a.merchant().redeem_offline(&shown, "till A #1", 500).unwrap();
    let b = till_b.merchant().redeem_offline(&shown, "till B #1", 500).unwrap();
    assert_eq!(
        (a.serial.as_str(), b.serial.as_str()),
        (coupon.serial.as_str(), coupon.serial.as_str())
    );
    assert!(matches!(
        till_a.merchant().redeem_offline(&shown, "till A #2", 500),
        Err(Error::CouponRefused {
            reason: Refusal::AlreadyRedeemed
        })
    ));
    // Back online: the queues drain; the first settled stands.
    admin(&server).reset_faults().await.unwrap();
    till_a.outbox().drain(std::time::Duration::from_secs(10)).await.unwrap();
    till_b.outbox().drain(std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(applied(&server, "offline_redemptions").await, 2);
    // Whichever settled second heard it in its answer; the other hears it
    // at its next sync, and neither hears it twice.
    let heard_in_answers = conflicts(&events_a).len() + conflicts(&events_b).len();
    assert_eq!(heard_in_answers, 1);
    for _ in 0..2 {
        till_a.merchant().sync().await.unwrap();
        till_b.merchant().sync().await.unwrap();
    }
    let (heard_a, heard_b) = (conflicts(&events_a), conflicts(&events_b));
    assert_eq!(heard_a.len(), 1);
    assert_eq!(heard_a, heard_b, "both tills get the same report, once each");
    let conflict = &heard_a[0];
    assert_eq!(conflict.serial, coupon.serial);
    let mut sides = [conflict.first.order_ref.as_str(), conflict.second.order_ref.as_str()];
    sides.sort();
    assert_eq!(sides, ["till A #1", "till B #1"], "both records");
    assert!(conflict.first.offline && conflict.second.offline);
    // The coupon is used once.
    assert_eq!(
        customer.coupons().activity(&activity_id, None).await.unwrap().claimed,
        1
    );
    match till_a.merchant().redeem(&shown, "online").await {
        Err(Error::Rejected { problem, .. }) => assert_eq!(problem.code.as_str(), "already_redeemed"),
        other => panic!("already redeemed, got {other:?}"),
    }
}

#[tokio::test]
async fn the_offline_budget_refuses_what_exceeds_it_on_the_till_and_on_the_control_plane() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    admin(&server)
        .set_offline_budget(&till.device_id(), 1, 100_000)
        .await
        .unwrap();
    let (shown, _customers) = presented_by_new_customers(&server, &activity_id, 3).await;
    // A till that has not synced its budget records two; the control plane
    // takes one and refuses the other.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_OFFLINE_REDEMPTIONS, "action": "fail", "status": 503}),
    )
    .await;
    till.merchant().redeem_offline(&shown[0], "1", 500).unwrap();
    till.merchant().redeem_offline(&shown[1], "2", 500).unwrap();
    admin(&server).reset_faults().await.unwrap();
    let status = till.outbox().drain(std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(status.pending, 0);
    assert_eq!(status.failed, 1, "one refused: offline_budget_exceeded");
    assert_eq!(applied(&server, "offline_redemptions").await, 1);
    assert!(
        matches!(till.merchant().validate(&shown[1]).unwrap(), Validation::Valid { .. }),
        "the refused one was not redeemed: the till forgot its mark"
    );
    // Synced, the till itself refuses to go over.
    till.merchant().sync().await.unwrap();
    assert!(matches!(
        till.merchant().redeem_offline(&shown[2], "3", 500),
        Err(Error::NotAllowed(_))
    ));
}

#[tokio::test]
async fn live_activities_come_nearest_shop_first() {
    use edgepoints_core::Location;
    let server = start_mock().await;
    let paris = Location {
        latitude: 48.8566,
        longitude: 2.3522,
    };
    let lyon = Location {
        latitude: 45.764,
        longitude: 4.8357,
    };
    let mut tills = Vec::new();
    for (name, shop, at) in [("Lyon deli", "Bellecour", lyon), ("Paris deli", "Bastille", paris)] {
        let created = admin(&server)
            .create_merchant_located(name, &[(shop, at)])
            .await
            .unwrap();
        let (dir, till) = new_device(&server);
        till.merchant().enrol(&created.enrolment_code).await.unwrap();
        let mut offer = draft(name);
        offer.shop = shop.into();
        let written = till.merchant().write_activity(None, offer).await.unwrap();
        let live = till.merchant().submit(&written.activity_id).await.unwrap();
        assert_eq!(live.shop_location, Some(at));
        tills.push((dir, till));
    }
    let (_dir, customer) = new_device(&server);
    let order = |activities: Vec<edgepoints_core::Activity>| -> Vec<String> {
        activities.into_iter().map(|a| a.merchant_name).collect()
    };
    let near_paris = order(customer.coupons().live_activities(Some(paris)).await.unwrap());
    assert_eq!(near_paris, ["Paris deli", "Lyon deli"]);
    let near_lyon = order(customer.coupons().live_activities(Some(lyon)).await.unwrap());
    assert_eq!(near_lyon, ["Lyon deli", "Paris deli"]);
}

#[tokio::test]
async fn a_member_holding_a_redeemed_coupon_gets_a_notice() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    let (_dir, customer) = new_device(&server);
    customer
        .members()
        .sign_up("nadia", "a long enough passphrase")
        .await
        .unwrap();
    customer
        .members()
        .login("nadia", "a long enough passphrase")
        .await
        .unwrap();
    let coupon = customer.coupons().claim(&activity_id, None).await.unwrap();
    let shown = customer.coupons().present(&coupon.serial).unwrap().text;
    till.merchant().redeem(&shown, "order-77").await.unwrap();
    let notices = customer.members().heartbeat_now().await.unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].kind, "coupon_redeemed");
    assert!(notices[0].text.contains("order-77") && notices[0].text.contains("Bistro Valmy"));
}

#[tokio::test]
async fn the_offline_budget_caps_the_value_given_offline_too() {
    let server = start_mock().await;
    let (_till_dir, till, activity_id) = till_with_live_activity(&server).await;
    admin(&server)
        .set_offline_budget(&till.device_id(), 10, 1_000)
        .await
        .unwrap();
    till.merchant().sync().await.unwrap();
    let (shown, _customers) = presented_by_new_customers(&server, &activity_id, 2).await;
    add_fault(
        &server,
        json!({"route": routes::DEVICE_OFFLINE_REDEMPTIONS, "action": "fail", "status": 503}),
    )
    .await;
    let first = till.merchant().redeem_offline(&shown[0], "1", 700).unwrap();
    assert_eq!((first.budget_left, first.budget_left_value_cents), (9, 300));
    assert!(
        matches!(
            till.merchant().redeem_offline(&shown[1], "2", 500),
            Err(Error::NotAllowed(_))
        ),
        "500 more would pass the 1 000 cents the till may give offline"
    );
    assert!(
        matches!(till.merchant().validate(&shown[1]).unwrap(), Validation::Valid { .. }),
        "nothing marked"
    );
    till.merchant().redeem_offline(&shown[1], "2", 300).unwrap();
}
