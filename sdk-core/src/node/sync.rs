//! Manifest sync: fetch the control plane's signed manifest, keep the most
//! wanted items that fit the budget, fetch what is missing from the origin
//! (verified on the way in), and drop what was withdrawn or no longer fits.

use std::collections::HashSet;

use edgepoints_protocol::envelope::decode_public_key;
use edgepoints_protocol::{paths, Manifest, ManifestItem, Purpose, SignedEnvelope};

use super::EdgeNode;
use crate::content::IdleTimeout;
use crate::events::Event;
use crate::policy::ServingGate;
use crate::time::unix_millis;
use crate::transport::Outgoing;
use crate::Error;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub manifest_version: u64,
    /// Items fetched and verified now.
    pub fetched: u64,
    pub bytes_fetched: u64,
    /// Wanted items that were already cached.
    pub already_cached: u64,
    /// Cached items removed: withdrawn, expired, or no longer fitting.
    pub dropped: u64,
    /// Listed items left out because the budget is full of more wanted ones.
    pub over_budget: u64,
    /// Items no origin delivered intact, with the reason.
    pub failed: Vec<String>,
}

/// The items to keep: by priority, then smaller first, while they fit.
fn choose(manifest: &Manifest, budget: u64, now_ms: u64) -> (Vec<ManifestItem>, u64) {
    let mut items: Vec<&ManifestItem> = manifest.items.iter().filter(|i| i.expires_at_ms > now_ms).collect();
    items.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.size.cmp(&b.size)));
    let mut used = 0u64;
    let mut chosen = Vec::new();
    let mut left_out = 0;
    for item in items {
        if used + item.size <= budget {
            used += item.size;
            chosen.push(item.clone());
        } else {
            left_out += 1;
        }
    }
    (chosen, left_out)
}

impl EdgeNode {
    /// Syncs the cache with the manifest. Only on a network (and battery)
    /// the user's policy allows: otherwise [`Error::NotAllowed`], or
    /// [`Error::NoConsent`] without consent.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        let node = self.clone();
        self.sdk.on_runtime(async move { node.sync_on_runtime().await }).await
    }

    async fn sync_on_runtime(&self) -> Result<SyncReport, Error> {
        let shared = self.sdk.shared();
        shared.ensure_open()?;
        match self.sdk.serving_gate() {
            ServingGate::Serving => {}
            ServingGate::Paused { reason } => return Err(Error::NotAllowed(reason)),
            ServingGate::NoConsent => return Err(Error::NoConsent),
        }
        let registration = self.sdk.register().await?;
        let key = decode_public_key(&registration.control_plane_public_key)
            .map_err(|e| Error::Protocol(format!("control-plane key: {e}")))?;
        let body = shared
            .transport()
            .attempt(&Outgoing::get(paths::MANIFEST.to_owned()), false)
            .await
            .into_body()?;
        let envelope: SignedEnvelope =
            serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("manifest: {e}")))?;
        if envelope.key_id != registration.control_plane_key_id {
            return Err(Error::Protocol(format!(
                "manifest signed by unknown key {}",
                envelope.key_id
            )));
        }
        let manifest: Manifest = envelope
            .open(Purpose::Manifest, &key)
            .map_err(|e| Error::Protocol(format!("manifest refused: {e}")))?;

        let content = self.sdk.content();
        let (chosen, over_budget) = choose(&manifest, shared.config().content_disk_budget_bytes, unix_millis());
        let wanted: HashSet<_> = chosen.iter().map(|i| i.hash).collect();
        let mut report = SyncReport {
            manifest_version: manifest.version,
            over_budget,
            ..SyncReport::default()
        };
        for cached in content.hashes()? {
            if !wanted.contains(&cached) && content.remove(&cached)? {
                report.dropped += 1;
            }
        }
        let total = chosen.len() as u64;
        for (done, item) in chosen.iter().enumerate() {
            if content.contains(&item.hash)? {
                report.already_cached += 1;
            } else {
                match self.fetch_from_origins(item).await {
                    Ok(()) => {
                        report.fetched += 1;
                        report.bytes_fetched += item.size;
                    }
                    Err(reason) => report.failed.push(format!("{}: {reason}", item.hash)),
                }
            }
            shared.events().emit(Event::SyncProgress {
                done: done as u64 + 1,
                total,
                bytes: report.bytes_fetched,
            });
        }
        if report.fetched > 0 || report.dropped > 0 {
            super::announce::reannounce_running_node(shared)?;
        }
        tracing::info!(?report, "manifest sync");
        Ok(report)
    }

    async fn fetch_from_origins(&self, item: &ManifestItem) -> Result<(), String> {
        let mut last = "no origin listed".to_owned();
        for origin in &item.origins {
            let shared = self.sdk.shared();
            match shared
                .transport()
                .fetch(origin, &[], shared.config().source_idle_timeout)
                .await
            {
                Ok(response) => match self
                    .sdk
                    .content()
                    .ingest_from(
                        item.hash,
                        item.size,
                        IdleTimeout {
                            source: response,
                            idle: shared.config().source_idle_timeout,
                        },
                    )
                    .await
                {
                    Ok(()) => return Ok(()),
                    Err(error) => {
                        tracing::warn!(hash = %item.hash, %origin, %error, "origin delivered bad content");
                        last = error.to_string();
                    }
                },
                Err(failure) => last = failure.to_string(),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepoints_protocol::ContentHash;

    fn item(n: u8, size: u64, priority: u32, expires_at_ms: u64) -> ManifestItem {
        ManifestItem {
            hash: ContentHash::of(&[n]),
            size,
            origins: vec![],
            priority,
            expires_at_ms,
            chunks: vec![],
        }
    }

    #[test]
    fn chooses_by_priority_within_the_budget() {
        let manifest = Manifest {
            version: 1,
            issued_at_ms: 0,
            items: vec![
                item(1, 60, 1, 100),
                item(2, 50, 9, 100),
                item(3, 40, 5, 100),
                item(4, 10, 99, 5),
            ],
        };
        let (chosen, left_out) = choose(&manifest, 100, 10);
        let sizes: Vec<u64> = chosen.iter().map(|i| i.size).collect();
        assert_eq!(
            sizes,
            vec![50, 40],
            "highest priority first; the expired item is not listed"
        );
        assert_eq!(left_out, 1);
    }
}
