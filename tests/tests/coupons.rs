//! Coupons on the control plane, driven by hand-signed requests: a
//! merchant's device enrols with a one-time code; an activity goes from
//! draft through the automatic review to live, or is rejected with every
//! finding and fixed; customers claim coupons within the limits, on the
//! memory and the Redis store; tokens verify against the signed trust list,
//! also after the issuing key rotates.

use std::sync::Arc;

use edgepoints_mock_server::testing::RedisServer;
use edgepoints_mock_server::{ControlPlane, MockServer};
use edgepoints_protocol::coupons::activities::{
    Activity, ActivityAction, ActivityDraft, ActivityState, ActivityStep, ActivityWrite, ClaimedCoupon, CouponClaim,
    MerchantEnrolment, TemplateKind,
};
use edgepoints_protocol::coupons::{
    step_of, validate, CouponToken, Id128, Presentation, Refusal, Till, TrustList, TrustedKeys,
};
use edgepoints_protocol::{paths, Purpose, SignedEnvelope};
use edgepoints_tests::*;
use serde_json::{json, Value};

/// A merchant made over the admin API, and its enrolment code.
async fn merchant(server: &MockServer) -> (String, String) {
    let created: Value = http()
        .post(format!("{}/admin/merchants", server.url()))
        .json(&json!({"name": "Café Lumière", "shops": ["Rue Oberkampf"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        created["merchant_id"].as_str().unwrap().to_owned(),
        created["enrolment_code"].as_str().unwrap().to_owned(),
    )
}

async fn enrolled_till(server: &MockServer, seed: u8) -> (Phone, String) {
    let till = Phone::registered(server, seed).await;
    let (merchant_id, code) = merchant(server).await;
    let (status, answer) = till
        .post(
            server,
            &paths::device_merchant_enrolment(till.id.as_str()),
            Purpose::MerchantEnrolment,
            &MerchantEnrolment {
                device_id: till.id.clone(),
                code,
            },
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    (till, merchant_id)
}

/// Coupon dates are wall-clock time.
fn now_s() -> u64 {
    now_ms() / 1000
}

fn draft(title: &str, total_limit: u32, per_customer_limit: u32) -> ActivityDraft {
    let now = now_s();
    ActivityDraft {
        template: TemplateKind::PercentOff,
        title: title.into(),
        description: "Every pastry, all week".into(),
        shop: "Rue Oberkampf".into(),
        staff: vec!["Inès".into()],
        featured_items: vec!["croissant".into(), "pain au chocolat".into()],
        pictures: vec![],
        percent_off: Some(20),
        amount_off_cents: None,
        gift: None,
        min_spend_cents: 0,
        valid_from_s: now - 60,
        valid_until_s: now + 7 * 86_400,
        total_limit,
        per_customer_limit,
        points_price: None,
    }
}

async fn write(server: &MockServer, till: &Phone, activity_id: Option<&str>, draft: ActivityDraft) -> (u16, Value) {
    let write = ActivityWrite {
        device_id: till.id.clone(),
        activity_id: activity_id.map(str::to_owned),
        draft,
    };
    till.post(
        server,
        &paths::device_activities(till.id.as_str()),
        Purpose::ActivityWrite,
        &write,
    )
    .await
}

async fn step(server: &MockServer, till: &Phone, activity_id: &str, step: ActivityStep) -> (u16, Value) {
    let action = ActivityAction {
        device_id: till.id.clone(),
        activity_id: activity_id.into(),
        step,
    };
    till.post(
        server,
        &paths::device_activity_actions(till.id.as_str()),
        Purpose::ActivityAction,
        &action,
    )
    .await
}

async fn live_activity(server: &MockServer, till: &Phone, total: u32, per_customer: u32) -> Activity {
    let (status, created) = write(server, till, None, draft("20% off pastries", total, per_customer)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["activity_id"].as_str().unwrap().to_owned();
    let (status, live) = step(server, till, &id, ActivityStep::Submit).await;
    assert_eq!(status, 200, "{live}");
    let live: Activity = serde_json::from_value(live).unwrap();
    assert_eq!(live.state, ActivityState::Live, "{live:?}");
    live
}

async fn claim(server: &MockServer, customer: &Phone, activity_id: &str) -> (u16, Value) {
    let claim = CouponClaim {
        device_id: customer.id.clone(),
        activity_id: activity_id.into(),
        referral: None,
        session_key: None,
    };
    customer
        .post(
            server,
            &paths::device_claims(customer.id.as_str()),
            Purpose::CouponClaim,
            &claim,
        )
        .await
}

async fn trust_list(server: &MockServer) -> TrustedKeys {
    let envelope: SignedEnvelope = get_json(server, paths::COUPON_TRUST_LIST).await;
    let list: TrustList = envelope
        .open(Purpose::TrustList, &server.control_plane().key.verifying_key())
        .expect("the trust list is signed by the control-plane key");
    TrustedKeys::from_list(&list)
}

fn id16(hex_id: &str) -> Id128 {
    hex::decode(hex_id).unwrap().try_into().unwrap()
}

#[tokio::test]
async fn an_activity_is_reviewed_live_or_rejected_with_every_finding_and_fixed() {
    let server = start_mock().await;
    let (till, merchant_id) = enrolled_till(&server, 1).await;
    let mut bad = draft("Special offer", 10, 1);
    bad.description = "代.开.发.票, call 13800138000".into();
    bad.featured_items = vec!["croissant".into(), "F u c k cake".into()];
    let (status, created) = write(&server, &till, None, bad.clone()).await;
    assert_eq!(status, 201, "{created}");
    let created: Activity = serde_json::from_value(created).unwrap();
    assert_eq!(
        (created.state, created.merchant_id.as_str()),
        (ActivityState::Draft, merchant_id.as_str())
    );
    let (_, rejected) = step(&server, &till, &created.activity_id, ActivityStep::Submit).await;
    let rejected: Activity = serde_json::from_value(rejected).unwrap();
    assert_eq!(rejected.state, ActivityState::Rejected);
    let found: Vec<(&str, &str, &str)> = rejected
        .findings
        .iter()
        .map(|f| (f.field.as_str(), f.finding.category.as_str(), f.finding.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("description", "fraud", "代.开.发.票"),
            ("description", "contact", "13800138000"),
            ("featured_items[1]", "profanity", "F u c k"),
        ]
    );
    let states: Vec<ActivityState> = rejected.history.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [ActivityState::Draft, ActivityState::Submitted, ActivityState::Rejected]
    );
    // A rejected activity is not public, and claims nothing.
    let customer = Phone::registered(&server, 9).await;
    assert_eq!(claim(&server, &customer, &created.activity_id).await.0, 404);

    // Fixed and resubmitted: live.
    let mut fixed = bad;
    fixed.description = "Every pastry, all week".into();
    fixed.featured_items = vec!["croissant".into()];
    let (status, edited) = write(&server, &till, Some(&created.activity_id), fixed).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["state"], "draft");
    let (_, live) = step(&server, &till, &created.activity_id, ActivityStep::Submit).await;
    assert_eq!(live["state"], "live", "{live}");
    assert!(live["findings"].as_array().unwrap().is_empty());
    let listed: Vec<Activity> = get_json(&server, paths::ACTIVITIES).await;
    assert_eq!(listed.len(), 1);
    // Live is not editable; withdrawn ends claims.
    assert_eq!(
        write(&server, &till, Some(&created.activity_id), draft("x", 1, 1))
            .await
            .0,
        409
    );
    assert_eq!(
        step(&server, &till, &created.activity_id, ActivityStep::Withdraw)
            .await
            .1["state"],
        "withdrawn"
    );
    assert_eq!(claim(&server, &customer, &created.activity_id).await.0, 404);
}

#[tokio::test]
async fn only_an_enrolled_device_acts_for_its_merchant_and_a_code_enrols_once() {
    let server = start_mock().await;
    let stranger = Phone::registered(&server, 2).await;
    let (status, answer) = write(&server, &stranger, None, draft("Hi", 1, 1)).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("not_a_merchant")));
    let (_, code) = merchant(&server).await;
    let enrol = |phone: &Phone| MerchantEnrolment {
        device_id: phone.id.clone(),
        code: code.clone(),
    };
    let first = Phone::registered(&server, 3).await;
    let path = paths::device_merchant_enrolment(first.id.as_str());
    assert_eq!(
        first
            .post(&server, &path, Purpose::MerchantEnrolment, &enrol(&first))
            .await
            .0,
        200
    );
    let second = Phone::registered(&server, 4).await;
    let path = paths::device_merchant_enrolment(second.id.as_str());
    assert_eq!(
        second
            .post(&server, &path, Purpose::MerchantEnrolment, &enrol(&second))
            .await
            .0,
        404,
        "a spent code enrols nobody"
    );
    // Another merchant's device cannot touch this merchant's activity.
    let (other_till, _) = enrolled_till(&server, 5).await;
    let mine = live_activity(&server, &first, 5, 1).await;
    assert_eq!(
        step(&server, &other_till, &mine.activity_id, ActivityStep::Withdraw)
            .await
            .0,
        404
    );
    // A bad draft is refused with its reasons.
    let mut bad = draft("", 1, 2);
    bad.percent_off = Some(95);
    let (status, answer) = write(&server, &first, None, bad).await;
    assert_eq!((status, answer["code"].as_str()), (422, Some("invalid_activity")));
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("title") && detail.contains("90 percent") && detail.contains("per-customer"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_claimed_coupon_verifies_offline_also_after_the_key_rotates() {
    let server = start_mock().await;
    let (till, merchant_id) = enrolled_till(&server, 1).await;
    let activity = live_activity(&server, &till, 10, 2).await;
    let customer = Phone::registered(&server, 7).await;
    let (status, coupon) = claim(&server, &customer, &activity.activity_id).await;
    assert_eq!(status, 201, "{coupon}");
    let coupon: ClaimedCoupon = serde_json::from_value(coupon).unwrap();
    let token = CouponToken::decode(&coupon.token).unwrap();
    assert_eq!(token.claims.holder, customer.key.verifying_key().to_bytes());
    assert_eq!(token.claims.merchant, id16(&merchant_id));
    assert_eq!(token.claims.serial, id16(&coupon.serial));
    let check = |trusted: &TrustedKeys, text: &str, now: u64| -> Result<(), Refusal> {
        validate(
            text,
            &Till {
                trusted,
                merchant: id16(&merchant_id),
                now_s: now,
                revoked: &|_| false,
                redeemed: &|_| false,
            },
        )
        .map(|_| ())
    };
    let now = now_s();
    let presented = Presentation::sign(token, step_of(now), &customer.key).encode();
    assert_eq!(check(&trust_list(&server).await, &presented, now), Ok(()));

    // The key rotates: the old coupon still verifies, new ones use the new key.
    let rotated: TrustList = http()
        .post(format!("{}/admin/coupon-keys/rotate", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rotated.keys.len(), 2);
    assert!(rotated.keys[0].retired_at_s.is_some());
    let trusted = trust_list(&server).await;
    assert_eq!(
        check(&trusted, &presented, now),
        Ok(()),
        "the retired key's coupon is valid until it expires"
    );
    let (_, second) = claim(&server, &customer, &activity.activity_id).await;
    let second = CouponToken::decode(second["token"].as_str().unwrap()).unwrap();
    assert_ne!(second.claims.key_id, token.claims.key_id);
    let presented = Presentation::sign(second, step_of(now), &customer.key).encode();
    assert_eq!(check(&trusted, &presented, now), Ok(()));
    // A third is over the per-customer limit.
    let (status, refused) = claim(&server, &customer, &activity.activity_id).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("per_customer_limit_reached"))
    );
    // The merchant's own device does not claim.
    assert_eq!(claim(&server, &till, &activity.activity_id).await.0, 403);
}

/// 50 customers claim at once from an activity of 10 coupons, 1 each, over
/// three instances of one control plane: exactly 10 coupons, 10 serials.
async fn fifty_claims_give_ten(control_plane: Arc<ControlPlane>) {
    let servers = Arc::new(MockServer::start_cluster(3, control_plane.clone()).await.unwrap());
    let (till, _) = enrolled_till(&servers[0], 1).await;
    let activity = live_activity(&servers[0], &till, 10, 1).await;
    let mut customers = Vec::new();
    for seed in 0..50u8 {
        customers.push(Phone::registered(&servers[usize::from(seed) % 3], 100 + seed).await);
    }
    let mut claims = tokio::task::JoinSet::new();
    for (i, customer) in customers.into_iter().enumerate() {
        let (servers, activity_id) = (servers.clone(), activity.activity_id.clone());
        claims.spawn(async move {
            let server = &servers[i % 3];
            // Each customer tries twice: the second must hit their limit.
            let first = claim(server, &customer, &activity_id).await;
            let second = claim(server, &customer, &activity_id).await;
            (first, second)
        });
    }
    let outcomes = claims.join_all().await;
    let won: Vec<&Value> = outcomes
        .iter()
        .filter(|((status, _), _)| *status == 201)
        .map(|((_, coupon), _)| coupon)
        .collect();
    assert_eq!(won.len(), 10, "exactly the limit");
    let serials: std::collections::HashSet<&str> = won.iter().map(|c| c["serial"].as_str().unwrap()).collect();
    assert_eq!(serials.len(), 10, "ten distinct coupons");
    for ((status, answer), (second, _)) in &outcomes {
        if *status != 201 {
            assert_eq!(
                (*status, answer["code"].as_str()),
                (409, Some("usage_limit_reached")),
                "{answer}"
            );
        }
        assert_eq!(*second, 409, "nobody gets a second");
    }
    let public: Activity = http()
        .get(format!(
            "{}{}",
            servers[1].url(),
            paths::activity(&activity.activity_id)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public.claimed, 10);
    for server in Arc::try_unwrap(servers).ok().expect("the claims are done") {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_claims_of_ten_coupons_give_ten_on_the_memory_store() {
    init_tracing();
    fifty_claims_give_ten(Arc::new(ControlPlane::in_memory(None).await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_claims_of_ten_coupons_give_ten_on_the_redis_store() {
    init_tracing();
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    fifty_claims_give_ten(on_redis(&redis).await).await;
}

/// Two tills of one merchant race to redeem one coupon, five times each,
/// over three instances: one redemption, nine `already_redeemed`.
async fn racing_redemptions_give_one(control_plane: Arc<ControlPlane>) {
    use edgepoints_protocol::coupons::redemption::RedemptionRequest;

    let servers = Arc::new(MockServer::start_cluster(3, control_plane.clone()).await.unwrap());
    let (till_a, merchant_id) = enrolled_till(&servers[0], 1).await;
    let till_b = Phone::registered(&servers[1], 2).await;
    let code = admin(&servers[0]).enrolment_code(&merchant_id).await.unwrap();
    let enrol = MerchantEnrolment {
        device_id: till_b.id.clone(),
        code,
    };
    let path = paths::device_merchant_enrolment(till_b.id.as_str());
    assert_eq!(
        till_b
            .post(&servers[1], &path, Purpose::MerchantEnrolment, &enrol)
            .await
            .0,
        200
    );
    let activity = live_activity(&servers[0], &till_a, 10, 1).await;
    let customer = Phone::registered(&servers[2], 3).await;
    let (_, coupon) = claim(&servers[2], &customer, &activity.activity_id).await;
    let token = CouponToken::decode(coupon["token"].as_str().unwrap()).unwrap();
    let presentation = Presentation::sign(token, step_of(now_s()), &customer.key).encode();
    let mut races = tokio::task::JoinSet::new();
    for (i, till) in [till_a, till_b]
        .into_iter()
        .flat_map(|t| std::iter::repeat_n(Arc::new(t), 5))
        .enumerate()
    {
        let (servers, presentation) = (servers.clone(), presentation.clone());
        races.spawn(async move {
            let request = RedemptionRequest {
                device_id: till.id.clone(),
                presentation,
                order_ref: format!("order {i}"),
            };
            let path = paths::device_redemptions(till.id.as_str());
            till.post(&servers[i % 3], &path, Purpose::Redemption, &request).await
        });
    }
    let outcomes = races.join_all().await;
    let won = outcomes.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for (status, answer) in outcomes.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(
            (*status, answer["code"].as_str()),
            (409, Some("already_redeemed")),
            "{answer}"
        );
    }
    assert_eq!(applied(&servers[0], "redemptions").await, 1);
    for server in Arc::try_unwrap(servers).ok().expect("the races are done") {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_redemptions_of_one_coupon_give_one_on_the_memory_store() {
    init_tracing();
    racing_redemptions_give_one(Arc::new(ControlPlane::in_memory(None).await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_redemptions_of_one_coupon_give_one_on_the_redis_store() {
    init_tracing();
    let redis = RedisServer::start().expect("redis-server for the shared-state tests");
    racing_redemptions_give_one(on_redis(&redis).await).await;
}

/// A control plane whose state is in `redis`.
async fn on_redis(redis: &RedisServer) -> Arc<ControlPlane> {
    let store = edgepoints_mock_server::store::RedisStore::connect(&redis.url(), "coupons")
        .await
        .unwrap();
    Arc::new(ControlPlane::open(Arc::new(store), None).await.unwrap())
}
