//! The node's once-a-second bookkeeping: the month's usage to the store,
//! the cap of the current consent, the turn of the month, a look at the
//! interfaces now and then, and the stats event.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::announce;
use super::stats::Counters;
use super::upload_meter::{monthly_cap, store_usage, stored_usage, UploadMeter};
use crate::events::Event;
use crate::shared::Shared;
use crate::time::{unix_millis, utc_month};
use crate::Error;

/// How often the node's stats go to the host (when they changed) and its
/// monthly usage to the store.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The interfaces are listed every this many stats ticks, in case they
/// changed without the host saying so.
const ADDRESS_CHECK_TICKS: u64 = 10;

/// Once a second: writes the month's usage to the store, follows the cap of
/// the current consent and the turn of the month, and sends the node's
/// stats to the host when they changed. Flushes once more when stopped.
pub(super) async fn run(
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    meter: Arc<UploadMeter>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(STATS_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flushed = meter.used();
    let mut last_stats = None;
    let mut ticks = 0u64;
    loop {
        ticks += 1;
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            _ = stopped.changed() => true,
            _ = shared.stopped() => true,
        };
        let outcome = (|| -> Result<(), Error> {
            let month = meter.month();
            if meter.used() != flushed {
                store_usage(&shared, &month, meter.used())?;
                flushed = meter.used();
            }
            let now_month = utc_month(unix_millis());
            if now_month != month {
                let used = stored_usage(&shared, &now_month)?;
                meter.roll_over(now_month, used);
                flushed = used;
            }
            meter.set_cap(monthly_cap(&shared)?);
            if ticks.is_multiple_of(ADDRESS_CHECK_TICKS) {
                announce::reannounce_if_addresses_moved(&shared)?;
            }
            Ok(())
        })();
        if let Err(error) = outcome {
            tracing::warn!(%error, "node bookkeeping failed; will try again");
        }
        let stats = counters.snapshot(&meter);
        if last_stats.as_ref() != Some(&stats) {
            shared.events().emit(Event::NodeStats { stats: stats.clone() });
            last_stats = Some(stats);
        }
        if stopping {
            break;
        }
    }
}
