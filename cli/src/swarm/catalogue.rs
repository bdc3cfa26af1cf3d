//! The swarm's catalogue: items of random bytes published on the origin,
//! ranked by popularity. Rank 0 is the most wanted; the manifest priority
//! follows the rank, so a phone's manifest sync keeps the most popular
//! items that fit its cache.

use edgepoints_protocol::ManifestItem;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::admin::AdminClient;
use crate::CliResult;

pub(super) struct Catalogue {
    /// By rank, most popular first.
    pub(super) items: Vec<ManifestItem>,
    popularity: Zipf<f64>,
}

impl Catalogue {
    /// Publishes `count` items of `size` bytes each through the admin API.
    pub(super) async fn publish(
        admin: &AdminClient,
        count: usize,
        size: usize,
        exponent: f64,
        seed: u64,
    ) -> CliResult<Catalogue> {
        let popularity = Zipf::new(count as f64, exponent).map_err(|e| format!("popularity: {e}"))?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut items = Vec::with_capacity(count);
        for rank in 0..count {
            let mut bytes = vec![0u8; size];
            rng.fill_bytes(&mut bytes);
            // Higher priority for the more popular: syncs keep those.
            items.push(admin.publish(bytes, (count - rank) as u32).await?);
        }
        Ok(Catalogue { items, popularity })
    }

    /// A rank drawn by popularity.
    pub(super) fn draw(&self, rng: &mut impl Rng) -> usize {
        // Zipf samples 1..=n as floats.
        (self.popularity.sample(rng) as usize).clamp(1, self.items.len()) - 1
    }

    pub(super) fn bytes(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }
}
