//! Routing: a consumer is sent to the nearest reachable node that holds the
//! item; among equally near nodes, to the one with less load.

use edgepoints_core::{ConsentPolicy, EdgePoints, FetchSource, Location, NetworkKind, NodeHandle};
use edgepoints_mock_server::{origin, MockServer};
use edgepoints_tests::*;

const PARIS: Location = Location {
    latitude: 48.8566,
    longitude: 2.3522,
};
const PARIS_EAST: Location = Location {
    latitude: 48.8566,
    longitude: 2.3800,
};
const LYON: Location = Location {
    latitude: 45.7640,
    longitude: 4.8357,
};

async fn serving_at(server: &MockServer, location: Location) -> (tempfile::TempDir, EdgePoints, NodeHandle) {
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(server, dir.path());
    sdk.set_location(Some(location)).unwrap();
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    sdk.set_network(NetworkKind::Wifi).unwrap();
    sdk.set_battery(80, true).unwrap();
    sdk.node().sync().await.unwrap();
    let node = sdk.node().start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (dir, sdk, node)
}

fn served_by(source: &FetchSource) -> String {
    match source {
        FetchSource::Node { node_id, .. } => node_id.clone(),
        other => panic!("expected a node, got {other:?}"),
    }
}

async fn consumer(server: &MockServer, location: Option<Location>) -> (tempfile::TempDir, EdgePoints) {
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(server, dir.path());
    sdk.set_location(location).unwrap();
    (dir, sdk)
}

#[tokio::test]
async fn the_nearest_node_that_holds_the_item_comes_first() {
    let server = start_mock().await;
    let item = origin::publish(server.control_plane(), vec![5u8; 20_000].into(), 9)
        .await
        .unwrap();
    let (_d1, paris, _n1) = serving_at(&server, PARIS).await;
    // Announced last, so first without locations.
    let (_d2, lyon, _n2) = serving_at(&server, LYON).await;

    let (_d3, nearby) = consumer(&server, Some(PARIS_EAST)).await;
    assert_eq!(
        served_by(&nearby.fetch(item.hash).await.unwrap().source),
        paris.device_id()
    );
    let (_d4, south) = consumer(
        &server,
        Some(Location {
            latitude: 45.75,
            longitude: 4.85,
        }),
    )
    .await;
    assert_eq!(
        served_by(&south.fetch(item.hash).await.unwrap().source),
        lyon.device_id()
    );
    let (_d5, unknown) = consumer(&server, None).await;
    assert_eq!(
        served_by(&unknown.fetch(item.hash).await.unwrap().source),
        lyon.device_id(),
        "without a location, the freshest announcement"
    );
    assert!(nearby
        .set_location(Some(Location {
            latitude: 91.0,
            longitude: 0.0
        }))
        .is_err());
}

/// Requests the node counts (refused ones too: load is load).
async fn load(node: &NodeHandle, requests: usize) {
    let client = http();
    for _ in 0..requests {
        let _ = client
            .get(format!("http://{}/content/x", node.local_addr()))
            .send()
            .await
            .unwrap();
    }
    node.heartbeat_now().await.unwrap();
}

#[tokio::test]
async fn equally_near_nodes_share_by_load() {
    let server = start_mock().await;
    let item = origin::publish(server.control_plane(), vec![6u8; 20_000].into(), 9)
        .await
        .unwrap();
    let (_d1, first, first_node) = serving_at(&server, PARIS).await;
    let (_d2, second, second_node) = serving_at(&server, PARIS_EAST).await;

    // The first node is busy: the second, as near, gets the consumer.
    load(&first_node, 120).await;
    let (_d3, one) = consumer(&server, Some(PARIS)).await;
    assert_eq!(
        served_by(&one.fetch(item.hash).await.unwrap().source),
        second.device_id()
    );

    // Now the second is busier: the next consumer goes to the first.
    load(&second_node, 400).await;
    let (_d4, two) = consumer(&server, Some(PARIS)).await;
    assert_eq!(
        served_by(&two.fetch(item.hash).await.unwrap().source),
        first.device_id()
    );
}
