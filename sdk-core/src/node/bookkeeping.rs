//! The node's bookkeeping: the month's usage to the store, the cap of the
//! current consent, the turn of the month, and the stats event — done when
//! something calls for it, never on a tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::stats::Counters;
use super::upload_meter::{monthly_cap, store_usage, stored_usage, UploadMeter};
use crate::events::Event;
use crate::shared::Shared;
use crate::time::{unix_millis, utc_month};
use crate::Error;

/// The node's stats go to the host (when they changed), and its monthly
/// usage to the store, at most this often.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Milliseconds in a day: the month can only turn at a UTC midnight.
const DAY_MS: u64 = 86_400_000;

/// Writes the month's usage to the store, follows the cap of the current
/// consent and the turn of the month, and sends the node's stats to the
/// host when they changed. Armed, not polled: it wakes when something was
/// served (then at most once a second while serving goes on), when the
/// consent or the host state changed, at UTC midnight (the month may have
/// turned), and once more when the node stops. A node serving nothing
/// sleeps here.
pub(super) async fn run(
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    meter: Arc<UploadMeter>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut flushed = meter.used();
    let mut last_stats = None;
    let mut stopping = false;
    loop {
        counters.settled();
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
        let midnight = Duration::from_millis(DAY_MS - unix_millis() % DAY_MS);
        stopping = tokio::select! {
            () = counters.changed() => {
                // A burst of serving is one round a second, not one a request.
                tokio::select! {
                    () = tokio::time::sleep(STATS_INTERVAL) => false,
                    _ = stopped.changed() => true,
                    _ = shared.stopped() => true,
                }
            }
            () = shared.policy_changed().notified() => false,
            () = tokio::time::sleep(midnight) => false,
            _ = stopped.changed() => true,
            _ = shared.stopped() => true,
        };
    }
}
