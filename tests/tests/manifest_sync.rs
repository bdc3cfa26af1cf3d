//! Manifest sync: the signed manifest decides what the node keeps, within
//! its budget and the user's policy; content is verified on the way in.

use edgepoints_core::{ConsentPolicy, EdgePoints, Error, NetworkKind};
use edgepoints_mock_server::origin;
use edgepoints_tests::*;

#[tokio::test]
async fn sync_keeps_the_most_wanted_items_that_fit_and_drops_withdrawn_ones() {
    let server = start_mock().await;
    let plane = server.control_plane();
    let item = |seed: u8, len: usize| -> Vec<u8> { (0..len).map(|i| (i as u8).wrapping_add(seed)).collect() };
    let top = origin::publish(plane, item(1, 1_000).into(), 10).await.unwrap();
    let middle = origin::publish(plane, item(2, 2_000).into(), 5).await.unwrap();
    let low = origin::publish(plane, item(3, 3_000).into(), 1).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&[server.url()], dir.path());
    config.content_disk_budget_bytes = 3_500;
    let sdk = EdgePoints::open(config, None).unwrap();
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();

    // Not on a network the policy allows: no sync.
    sdk.set_network(NetworkKind::Cellular).unwrap();
    assert!(matches!(sdk.node().sync().await, Err(Error::NotAllowed(_))));
    assert_eq!(sdk.content().stats().unwrap().items, 0);

    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(90, true).unwrap();
    let report = sdk.node().sync().await.unwrap();
    assert_eq!(
        (report.fetched, report.over_budget, report.dropped),
        (2, 1, 0),
        "{report:?}"
    );
    assert_eq!(report.bytes_fetched, 3_000);
    assert!(report.failed.is_empty());
    assert_eq!(sdk.content().read(&top.hash).await.unwrap().unwrap(), item(1, 1_000));
    assert_eq!(sdk.content().read(&middle.hash).await.unwrap().unwrap(), item(2, 2_000));
    assert!(!sdk.content().contains(&low.hash).unwrap());

    // Nothing changed: nothing fetched again.
    let again = sdk.node().sync().await.unwrap();
    assert_eq!((again.fetched, again.already_cached), (0, 2));

    // The top item is withdrawn: dropped, and the freed space takes nothing
    // that does not fit (2 000 + 3 000 > 3 500).
    assert!(origin::withdraw(plane, &top.hash).await.unwrap());
    let after = sdk.node().sync().await.unwrap();
    assert_eq!(
        (after.dropped, after.fetched, after.over_budget),
        (1, 0, 1),
        "{after:?}"
    );
    assert!(!sdk.content().contains(&top.hash).unwrap());
    assert!(after.manifest_version > report.manifest_version);
    let stats = sdk.content().stats().unwrap();
    assert!(stats.disk_bytes <= 3_500);
}

#[tokio::test]
async fn the_demo_content_syncs_and_verifies() {
    let server = start_mock().await;
    let published = origin::seed_demo(server.control_plane()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(50, false).unwrap();
    let report = sdk.node().sync().await.unwrap();
    assert_eq!(report.fetched as usize, published.len());
    let total: u64 = published.iter().map(|i| i.size).sum();
    assert_eq!(report.bytes_fetched, total);
    for item in &published {
        let bytes = sdk.content().read(&item.hash).await.unwrap().unwrap();
        assert_eq!(edgepoints_core::ContentHash::of(&bytes), item.hash);
    }
}
