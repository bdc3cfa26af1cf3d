//! A merchant reads what an activity did: every view, share, claim,
//! validation, redemption, rollback and conflict the test drives shows in
//! the funnel, per channel, exactly — lost answers and retries included —,
//! and only the merchant's own devices may read it.

use edgepoints_core::{ActivityDraft, ActivityFunnel, EdgePoints, Error, FunnelCounts, PointsPrice, TemplateKind};
use edgepoints_mock_server::MockServer;
use edgepoints_protocol::paths::routes;
use edgepoints_tests::*;
use serde_json::json;

fn draft() -> ActivityDraft {
    let now = now_ms() / 1000;
    ActivityDraft {
        template: TemplateKind::PercentOff,
        title: "A third off the menu".into(),
        description: "Lunch only".into(),
        shop: "Harbour".into(),
        staff: vec![],
        featured_items: vec![],
        pictures: vec![],
        percent_off: Some(33),
        amount_off_cents: None,
        gift: None,
        min_spend_cents: 0,
        valid_from_s: now - 60,
        valid_until_s: now + 86_400,
        total_limit: 100,
        per_customer_limit: 1,
        points_price: None::<PointsPrice>,
    }
}

fn channel(funnel: &ActivityFunnel, name: &str) -> FunnelCounts {
    funnel
        .channels
        .iter()
        .find(|c| c.channel == name)
        .map(|c| c.counts)
        .unwrap_or_else(|| panic!("no channel {name} in {funnel:?}"))
}

async fn customer(server: &MockServer) -> (tempfile::TempDir, EdgePoints) {
    new_device(server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_counts_exactly_what_was_driven_per_channel() {
    let server = start_mock().await;
    let created = admin(&server)
        .create_merchant("Harbour Grill", &["Harbour"])
        .await
        .unwrap();
    let (_till_dir, till) = new_device(&server);
    till.merchant().enrol(&created.enrolment_code).await.unwrap();
    let written = till.merchant().write_activity(None, draft()).await.unwrap();
    let activity_id = till.merchant().submit(&written.activity_id).await.unwrap().activity_id;
    let second_code = admin(&server)
        .enrolment_code(&created.merchant.merchant_id)
        .await
        .unwrap();
    let (_till2_dir, till2) = new_device(&server);
    till2.merchant().enrol(&second_code).await.unwrap();

    // Shares: two to wechat, one to sms.
    let (_sharer_dir, sharer) = customer(&server).await;
    let wechat = sharer.coupons().share(&activity_id, "wechat").await.unwrap();
    sharer.coupons().share(&activity_id, "WeChat ").await.unwrap();
    let sms = sharer.coupons().share(&activity_id, "sms").await.unwrap();

    // Views: three through wechat, one through sms, two direct (one of them
    // through a code that is no share of this activity).
    let (_c1_dir, c1) = customer(&server).await;
    let (_c2_dir, c2) = customer(&server).await;
    let (_c3_dir, c3) = customer(&server).await;
    let (_c4_dir, c4) = customer(&server).await;
    for _ in 0..3 {
        c1.coupons()
            .activity(&activity_id, Some(wechat.referral_code.clone()))
            .await
            .unwrap();
    }
    c2.coupons()
        .activity(&activity_id, Some(sms.referral_code.clone()))
        .await
        .unwrap();
    c3.coupons().activity(&activity_id, None).await.unwrap();
    c3.coupons()
        .activity(&activity_id, Some("nosuchcode".into()))
        .await
        .unwrap();

    // Claims: c1 through wechat (its answer lost once), c2 through sms,
    // c3 and c4 directly.
    add_fault(
        &server,
        json!({"route": routes::DEVICE_CLAIMS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let coupon1 = c1
        .coupons()
        .claim(&activity_id, Some(wechat.referral_code.clone()))
        .await
        .unwrap();
    let coupon2 = c2
        .coupons()
        .claim(&activity_id, Some(sms.referral_code.clone()))
        .await
        .unwrap();
    let coupon3 = c3.coupons().claim(&activity_id, None).await.unwrap();
    c4.coupons().claim(&activity_id, None).await.unwrap();

    // c1's coupon: checked online once, redeemed (answer lost once), a
    // second redemption refused, the redemption rolled back, redeemed again.
    let shown1 = c1.coupons().present(&coupon1.serial).unwrap().text;
    till.merchant().validate_online(&shown1).await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_REDEMPTIONS, "action": "drop_after_commit", "count": 1}),
    )
    .await;
    let first = till.merchant().redeem(&shown1, "order 1").await.unwrap();
    assert!(till.merchant().redeem(&shown1, "order 2").await.is_err());
    till.merchant()
        .rollback(&activity_id, &first.redemption_id)
        .await
        .unwrap();
    till.merchant().redeem(&shown1, "order 3").await.unwrap();
    // c2 gives its coupon back.
    c2.coupons().give_back(&coupon2.serial).await.unwrap();
    // c3's coupon: redeemed by the second till online, and by the first
    // offline before it heard of it: a conflict.
    let shown3 = c3.coupons().present(&coupon3.serial).unwrap().text;
    till.merchant().sync().await.unwrap();
    add_fault(
        &server,
        json!({"route": routes::DEVICE_OFFLINE_REDEMPTIONS, "action": "fail", "status": 503}),
    )
    .await;
    till.merchant().redeem_offline(&shown3, "offline 1", 500).unwrap();
    till2.merchant().redeem(&shown3, "online 1").await.unwrap();
    admin(&server).reset_faults().await.unwrap();
    till.outbox().drain(std::time::Duration::from_secs(10)).await.unwrap();

    let funnel = till.merchant().funnel(&activity_id).await.unwrap();
    assert_eq!(funnel, admin(&server).funnel(&activity_id).await.unwrap());
    assert!(
        admin_state(&server).await.funnels.contains(&funnel),
        "in the admin state too"
    );
    let names: Vec<&str> = funnel.channels.iter().map(|c| c.channel.as_str()).collect();
    assert_eq!(names, ["direct", "sms", "wechat"]);
    assert_eq!(
        channel(&funnel, "wechat"),
        FunnelCounts {
            views: 3,
            shares: 2,
            claims: 1,
            referred_claims: 1,
            validations: 4,
            redemptions: 2,
            rollbacks: 1,
            ..FunnelCounts::default()
        }
    );
    assert_eq!(
        channel(&funnel, "sms"),
        FunnelCounts {
            views: 1,
            shares: 1,
            claims: 1,
            referred_claims: 1,
            claims_rolled_back: 1,
            ..FunnelCounts::default()
        }
    );
    assert_eq!(
        channel(&funnel, "direct"),
        FunnelCounts {
            views: 2,
            claims: 2,
            validations: 2,
            redemptions: 1,
            offline_conflicts: 1,
            ..FunnelCounts::default()
        }
    );
    assert_eq!(
        funnel.total,
        FunnelCounts {
            views: 6,
            shares: 3,
            claims: 4,
            referred_claims: 2,
            claims_rolled_back: 1,
            validations: 6,
            redemptions: 3,
            rollbacks: 1,
            offline_conflicts: 1,
            points_taken: 0,
            points_refunded: 0,
        }
    );

    // Only the merchant's own devices read it.
    let stranger = c4.merchant().funnel(&activity_id).await;
    assert!(
        matches!(stranger, Err(Error::Rejected { status: 403, .. })),
        "{stranger:?}"
    );
    let other = admin(&server)
        .create_merchant("Elsewhere", &["Elsewhere"])
        .await
        .unwrap();
    let (_other_dir, other_till) = new_device(&server);
    other_till.merchant().enrol(&other.enrolment_code).await.unwrap();
    let foreign = other_till.merchant().funnel(&activity_id).await;
    assert!(
        matches!(foreign, Err(Error::Rejected { status: 404, .. })),
        "{foreign:?}"
    );
}
