//! The content cache: verified ingest, byte budgets on disk and in memory,
//! restart, purge.

use edgepoints_core::{ConsentPolicy, ContentHash, EdgePoints, Error};
use edgepoints_tests::*;

fn item(seed: u8, len: usize) -> (ContentHash, Vec<u8>) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    (ContentHash::of(&bytes), bytes)
}

fn open_with_budgets(
    server: &edgepoints_mock_server::MockServer,
    dir: &std::path::Path,
    disk: u64,
    memory: u64,
) -> EdgePoints {
    let mut config = config(&[server.url()], dir);
    config.content_disk_budget_bytes = disk;
    config.content_memory_budget_bytes = memory;
    EdgePoints::open(config, None).unwrap()
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file()).count())
        .unwrap_or(0)
}

#[tokio::test]
async fn verified_items_are_kept_and_read_back() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let (hash, bytes) = item(1, 300_000);
    sdk.content().ingest_bytes(hash, &bytes).await.unwrap();
    assert!(sdk.content().contains(&hash).unwrap());
    assert_eq!(sdk.content().read(&hash).await.unwrap().unwrap(), bytes);
    let stats = sdk.content().stats().unwrap();
    assert_eq!((stats.items, stats.disk_bytes), (1, 300_000));
    assert_eq!(stats.memory_bytes, 300_000, "read once, now in memory");
}

#[tokio::test]
async fn tampered_or_resized_bytes_are_refused_and_leave_nothing() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    let (hash, bytes) = item(2, 100_000);
    let mut tampered = bytes.clone();
    tampered[54_321] ^= 0x01;
    for (what, body, size) in [
        ("one flipped bit", tampered.clone(), bytes.len() as u64),
        ("one byte short", bytes[1..].to_vec(), bytes.len() as u64),
        (
            "one byte too many",
            [bytes.clone(), vec![0]].concat(),
            bytes.len() as u64,
        ),
    ] {
        match sdk.content().ingest(hash, size, body.as_slice()).await {
            Err(Error::ContentRejected { hash: h, .. }) => assert_eq!(h, hash.to_hex(), "{what}"),
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
        assert!(!sdk.content().contains(&hash).unwrap(), "{what}");
    }
    assert_eq!(sdk.content().stats().unwrap().items, 0);
    let content_dir = dir.path().join("content");
    assert_eq!(files_in(&content_dir), 0, "no file kept");
    assert_eq!(files_in(&content_dir.join("partial")), 0, "no partial file left");
    // The genuine bytes still go in.
    sdk.content().ingest_bytes(hash, &bytes).await.unwrap();
    assert!(sdk.content().contains(&hash).unwrap());
}

#[tokio::test]
async fn budgets_hold_and_the_least_recently_used_goes_first() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_with_budgets(&server, dir.path(), 100_000, 50_000);
    let items: Vec<_> = (0..4).map(|i| item(10 + i, 40_000)).collect();
    sdk.content().ingest_bytes(items[0].0, &items[0].1).await.unwrap();
    sdk.content().ingest_bytes(items[1].0, &items[1].1).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    sdk.content().read(&items[0].0).await.unwrap().unwrap();
    sdk.content().ingest_bytes(items[2].0, &items[2].1).await.unwrap();
    assert!(
        !sdk.content().contains(&items[1].0).unwrap(),
        "item 1 was least recently used"
    );
    assert!(sdk.content().contains(&items[0].0).unwrap());
    sdk.content().ingest_bytes(items[3].0, &items[3].1).await.unwrap();
    for (hash, _) in &items {
        let _ = sdk.content().read(hash).await.unwrap();
        let stats = sdk.content().stats().unwrap();
        assert!(stats.disk_bytes <= 100_000, "{stats:?}");
        assert!(stats.memory_bytes <= 50_000, "{stats:?}");
    }
    assert_eq!(files_in(&dir.path().join("content")), 2);
    let (big, big_bytes) = item(9, 100_001);
    assert!(matches!(
        sdk.content().ingest_bytes(big, &big_bytes).await,
        Err(Error::InvalidInput(_))
    ));
}

#[tokio::test]
async fn a_restart_finds_the_cache_intact_and_drops_what_was_damaged() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (kept, kept_bytes) = item(20, 10_000);
    let (damaged, damaged_bytes) = item(21, 10_000);
    {
        let sdk = open_sdk(&server, dir.path());
        sdk.content().ingest_bytes(kept, &kept_bytes).await.unwrap();
        sdk.content().ingest_bytes(damaged, &damaged_bytes).await.unwrap();
        sdk.shutdown().await;
    }
    let content_dir = dir.path().join("content");
    std::fs::write(content_dir.join(damaged.to_hex()), b"short").unwrap();
    std::fs::write(content_dir.join("stray-file"), b"x").unwrap();
    std::fs::write(content_dir.join("partial").join("left-behind"), b"x").unwrap();
    let sdk = open_sdk(&server, dir.path());
    assert_eq!(sdk.content().read(&kept).await.unwrap().unwrap(), kept_bytes);
    assert!(!sdk.content().contains(&damaged).unwrap());
    assert!(!content_dir.join("stray-file").exists());
    assert_eq!(files_in(&content_dir.join("partial")), 0);
    assert_eq!(sdk.content().stats().unwrap().items, 1);
}

#[tokio::test]
async fn revoking_with_purge_empties_the_cache() {
    let server = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sdk = open_sdk(&server, dir.path());
    sdk.consent().grant("t", ConsentPolicy::default()).await.unwrap();
    let (hash, bytes) = item(30, 5_000);
    sdk.content().ingest_bytes(hash, &bytes).await.unwrap();
    sdk.consent().revoke(false).await.unwrap();
    assert!(
        sdk.content().contains(&hash).unwrap(),
        "revoking without purge keeps content"
    );
    sdk.consent().revoke(true).await.unwrap();
    assert_eq!(sdk.content().stats().unwrap().items, 0);
    assert!(sdk.content().read(&hash).await.unwrap().is_none());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("content"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files_in(&dir.path().join("content")), 0, "{left:?}");
}
