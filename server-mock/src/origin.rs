//! The origin and its manifest: content the control plane publishes, kept
//! in the shared state store (so every instance serves the same), and the
//! signed manifest that lists it.

use axum::body::Bytes;
use edgepoints_protocol::content::{chunk_hashes, CHUNK_SIZE};
use edgepoints_protocol::{paths, ContentHash, Manifest, ManifestItem, Purpose, SignedEnvelope};

use crate::state::unix_millis;
use crate::store::{get_json, put_json, update_json, StoreError};
use crate::ControlPlane;

const ITEM_PREFIX: &str = crate::state::keys::ORIGIN_ITEM_PREFIX;
const VERSION: &str = crate::state::keys::ORIGIN_VERSION;

fn bytes_key(hash: &ContentHash) -> String {
    format!("origin:bytes:{hash}")
}

/// How long published items stay in the manifest unless withdrawn.
const DEFAULT_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

/// Publishes `bytes` with `priority`; returns its manifest entry.
pub async fn publish(control_plane: &ControlPlane, bytes: Bytes, priority: u32) -> Result<ManifestItem, StoreError> {
    let hash = ContentHash::of(&bytes);
    let item = ManifestItem {
        hash,
        size: bytes.len() as u64,
        origins: vec![paths::origin(&hash)],
        priority,
        expires_at_ms: unix_millis() + DEFAULT_TTL_MS,
        chunks: if bytes.len() as u64 > CHUNK_SIZE {
            chunk_hashes(&bytes)
        } else {
            Vec::new()
        },
    };
    let store = control_plane.store();
    let current = store.get(&bytes_key(&hash)).await?;
    store
        .compare_and_swap(&bytes_key(&hash), current.as_deref(), Some(&bytes))
        .await?;
    put_json(store, &format!("{ITEM_PREFIX}{hash}"), &item).await?;
    store.increment(VERSION, 1).await?;
    Ok(item)
}

/// Takes an item out of the manifest and the origin; false if unknown.
pub async fn withdraw(control_plane: &ControlPlane, hash: &ContentHash) -> Result<bool, StoreError> {
    let store = control_plane.store();
    let removed = update_json::<ManifestItem, bool, ()>(store, &format!("{ITEM_PREFIX}{hash}"), |item| {
        Ok((None, item.is_some()))
    })
    .await?
    .unwrap_or(false);
    if let Some(current) = store.get(&bytes_key(hash)).await? {
        store.compare_and_swap(&bytes_key(hash), Some(&current), None).await?;
    }
    if removed {
        store.increment(VERSION, 1).await?;
    }
    Ok(removed)
}

/// The manifest entry of a published item.
pub async fn item(control_plane: &ControlPlane, hash: &ContentHash) -> Result<Option<ManifestItem>, StoreError> {
    get_json(control_plane.store(), &format!("{ITEM_PREFIX}{hash}")).await
}

/// The bytes of a published item.
pub async fn bytes(control_plane: &ControlPlane, hash: &ContentHash) -> Result<Option<Vec<u8>>, StoreError> {
    if get_json::<ManifestItem>(control_plane.store(), &format!("{ITEM_PREFIX}{hash}"))
        .await?
        .is_none()
    {
        return Ok(None);
    }
    control_plane.store().get(&bytes_key(hash)).await
}

/// The current manifest (expired items left out), highest priority first.
pub async fn manifest(control_plane: &ControlPlane) -> Result<Manifest, StoreError> {
    let now = unix_millis();
    let mut items = Vec::new();
    for (key, value) in control_plane.store().scan(ITEM_PREFIX).await? {
        let item: ManifestItem = serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
            key,
            reason: e.to_string(),
        })?;
        if item.expires_at_ms > now {
            items.push(item);
        }
    }
    items.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.hash.cmp(&b.hash)));
    let version = control_plane.store().increment(VERSION, 0).await? as u64;
    Ok(Manifest {
        version,
        issued_at_ms: now,
        items,
    })
}

/// The manifest signed by the control plane's key.
pub async fn signed_manifest(control_plane: &ControlPlane) -> Result<SignedEnvelope, StoreError> {
    let manifest = manifest(control_plane).await?;
    Ok(SignedEnvelope::sign(
        Purpose::Manifest,
        control_plane.key.key_id(),
        control_plane.key.signing_key(),
        &manifest,
    ))
}

/// Demo content of several sizes, from a few bytes to tens of MiB, with
/// priorities so a small budget has choices to make. Deterministic bytes.
pub async fn seed_demo(control_plane: &ControlPlane) -> Result<Vec<ManifestItem>, StoreError> {
    let mut items = Vec::new();
    for (n, (size, priority)) in [
        (16usize, 50u32),
        (4 * 1024, 40),
        (256 * 1024, 30),
        (4 * 1024 * 1024, 20),
        (16 * 1024 * 1024, 10),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes: Vec<u8> = (0..size).map(|i| ((i * 31 + n * 7) % 251) as u8).collect();
        items.push(publish(control_plane, Bytes::from(bytes), priority).await?);
    }
    Ok(items)
}
