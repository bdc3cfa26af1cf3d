//! Routing: a consumer is sent to the nearest reachable node that holds the
//! item; among equally near nodes, to the one with less load. Devices whose
//! host shares no location are placed by their address prefix.

use edgepoints_core::{ConsentPolicy, EdgePoints, FetchSource, Location, NodeHandle};
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
    serving_on(server, Some(location), "127.0.0.1:0").await
}

/// A serving node listening on `listen`, placed by its host if `location`.
async fn serving_on(
    server: &MockServer,
    location: Option<Location>,
    listen: &str,
) -> (tempfile::TempDir, EdgePoints, NodeHandle) {
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(server, dir.path());
    sdk.set_location(location).unwrap();
    let node = start_serving(&sdk, ConsentPolicy::default(), listen).await;
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
            .get(format!("http://{}/content/x", node.local_addr().expect("serving")))
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

async fn put_geo_prefixes(server: &MockServer, rows: serde_json::Value) -> u16 {
    http()
        .put(format!("{}/admin/geo-prefixes", server.url()))
        .json(&rows)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn row(prefix: &str, at: Location, label: &str) -> serde_json::Value {
    serde_json::json!({
        "prefix": prefix,
        "location": {"latitude": at.latitude, "longitude": at.longitude},
        "label": label,
    })
}

const BERLIN: Location = Location {
    latitude: 52.5200,
    longitude: 13.4050,
};
const POTSDAM: Location = Location {
    latitude: 52.3906,
    longitude: 13.0645,
};
const VERSAILLES: Location = Location {
    latitude: 48.8049,
    longitude: 2.1204,
};

// Every 127/8 address is the loopback on Linux, so two nodes there can
// have addresses in different prefixes.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn devices_without_a_location_are_placed_by_their_address_prefix() {
    let server = start_mock().await;
    let item = origin::publish(server.control_plane(), vec![7u8; 20_000].into(), 9)
        .await
        .unwrap();
    let table = |consumer_at: Location| {
        serde_json::json!([
            row("127.0.0.2/32", PARIS, "node network, Paris"),
            row("127.0.0.3/32", BERLIN, "node network, Berlin"),
            row("127.0.0.1/32", consumer_at, "consumer network"),
            row("127.0.0.0/8", LYON, "everything else"),
        ])
    };
    assert_eq!(put_geo_prefixes(&server, table(POTSDAM)).await, 200);
    let (_d1, paris, paris_node) = serving_on(&server, None, "127.0.0.2:0").await;
    let (_d2, berlin, berlin_node) = serving_on(&server, None, "127.0.0.3:0").await;
    assert_eq!(paris_node.reachable_addresses()[0].split(':').next(), Some("127.0.0.2"));
    assert_eq!(
        berlin_node.reachable_addresses()[0].split(':').next(),
        Some("127.0.0.3")
    );

    // The consumer's host shares nothing; its address places it at Potsdam.
    let (_d3, near_berlin) = consumer(&server, None).await;
    assert_eq!(
        served_by(&near_berlin.fetch(item.hash).await.unwrap().source),
        berlin.device_id()
    );
    // The same address, now placed near Paris.
    assert_eq!(put_geo_prefixes(&server, table(VERSAILLES)).await, 200);
    let (_d4, near_paris) = consumer(&server, None).await;
    assert_eq!(
        served_by(&near_paris.fetch(item.hash).await.unwrap().source),
        paris.device_id()
    );
    // A location from the host wins over the prefix.
    let (_d5, told) = consumer(&server, Some(BERLIN)).await;
    assert_eq!(
        served_by(&told.fetch(item.hash).await.unwrap().source),
        berlin.device_id()
    );

    // A bad table is refused and the old one stays.
    let bad = serde_json::json!([row(
        "127.0.0.1/32",
        Location {
            latitude: 99.0,
            longitude: 0.0
        },
        "bad"
    )]);
    assert_eq!(put_geo_prefixes(&server, bad).await, 422);
    let (_d6, still) = consumer(&server, None).await;
    assert_eq!(
        served_by(&still.fetch(item.hash).await.unwrap().source),
        paris.device_id()
    );
}
