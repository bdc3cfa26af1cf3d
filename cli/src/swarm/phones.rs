//! The swarm's phones: real SDK instances in this process, each with its
//! own data directory, placed on a map around a city centre, consenting,
//! synced with the manifest, and serving as an edge node on loopback.

use std::path::Path;
use std::time::Duration;

use edgepoints_core::{ConsentPolicy, EdgePoints, Location, NetworkKind, NodeHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::CliResult;

/// The centre of the map (Paris).
const CENTRE: Location = Location {
    latitude: 48.8566,
    longitude: 2.3522,
};
const KM_PER_DEGREE: f64 = 111.32;

pub(super) struct Phone {
    pub(super) sdk: EdgePoints,
    pub(super) node: NodeHandle,
    pub(super) device_id: String,
    /// Bytes the first manifest sync fetched from the origin.
    pub(super) prefetched_bytes: u64,
}

/// How every phone's SDK is set up.
pub(super) struct PhoneSetup<'a> {
    pub(super) endpoints: &'a [url::Url],
    pub(super) cache_bytes: u64,
    pub(super) radius_km: f64,
    pub(super) seed: u64,
}

/// Opens an SDK instance as the swarm's devices do: the tour's quick
/// retries (one more attempt: the swarm's faults are random), an outbox
/// that comes back within seconds, and a cache of `cache_bytes`.
pub(super) fn open(endpoints: &[url::Url], dir: &Path, cache_bytes: u64) -> CliResult<EdgePoints> {
    let mut config = crate::tour::quick_config(endpoints, dir, "swarm");
    config.retry.max_attempts = 6;
    config.outbox_max_delay = Duration::from_secs(2);
    config.content_disk_budget_bytes = cache_bytes;
    config.content_memory_budget_bytes = cache_bytes;
    Ok(EdgePoints::open(config, None)?)
}

/// A point within `radius_km` of the centre, uniform over the disc.
fn place(rng: &mut StdRng, radius_km: f64) -> Location {
    let distance = radius_km * rng.random::<f64>().sqrt();
    let bearing = rng.random::<f64>() * std::f64::consts::TAU;
    let latitude = CENTRE.latitude + distance * bearing.cos() / KM_PER_DEGREE;
    let longitude = CENTRE.longitude + distance * bearing.sin() / (KM_PER_DEGREE * CENTRE.latitude.to_radians().cos());
    Location { latitude, longitude }
}

impl PhoneSetup<'_> {
    /// Phone `index`: opened on `root/phone-NNN`, placed, consenting on
    /// Wi-Fi while charging in the foreground, synced, serving.
    pub(super) async fn start(&self, root: &Path, index: usize) -> CliResult<Phone> {
        let sdk = open(
            self.endpoints,
            &root.join(format!("phone-{index:04}")),
            self.cache_bytes,
        )?;
        let mut rng = StdRng::seed_from_u64(self.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        sdk.set_network(NetworkKind::Wifi)?;
        sdk.set_battery(80, true)?;
        sdk.set_foreground(true)?;
        sdk.set_location(Some(place(&mut rng, self.radius_km)))?;
        sdk.consent().grant("swarm-terms-1", ConsentPolicy::default()).await?;
        let synced = sdk.node().sync().await?;
        if !synced.failed.is_empty() {
            return Err(format!("phone {index}: the sync failed for {:?}", synced.failed).into());
        }
        let node = sdk.node().start("127.0.0.1:0".parse()?).await?;
        Ok(Phone {
            device_id: sdk.device_id(),
            prefetched_bytes: synced.bytes_fetched,
            sdk,
            node,
        })
    }
}

impl Phone {
    pub(super) async fn stop(self) {
        self.node.stop().await;
        self.sdk.shutdown().await;
    }
}
