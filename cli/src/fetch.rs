//! `edgepoints fetch HASH`: fetches one item the way an app does — from a
//! node the control plane routes to, else from the origin — verifies it,
//! keeps it in the data directory's cache, and optionally writes it out.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use edgepoints_core::{AttemptOutcome, Config, ContentHash, EdgePoints};

use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The item's BLAKE3 hash (64 hex digits).
    hash: String,
    /// Control-plane endpoint; repeat for several.
    #[arg(long = "control-plane", required = true)]
    control_plane: Vec<url::Url>,
    #[arg(long)]
    data_dir: PathBuf,
    /// Also write the verified bytes to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) async fn run(args: FetchArgs) -> CliResult {
    let hash = ContentHash::parse(&args.hash)?;
    let mut config = Config::new(args.control_plane, args.data_dir);
    config.platform = "cli".into();
    let sdk = EdgePoints::open(config, None)?;
    let started = Instant::now();
    let outcome = sdk.fetch(hash).await;
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            sdk.shutdown().await;
            return Err(error.into());
        }
    };
    for attempt in &report.attempts {
        let outcome = match &attempt.outcome {
            AttemptOutcome::Delivered => "delivered".to_owned(),
            AttemptOutcome::Abandoned => "abandoned (another source was faster)".to_owned(),
            AttemptOutcome::Tampered { reason } => format!("served wrong bytes, reported: {reason}"),
            AttemptOutcome::Failed { reason } => format!("failed: {reason}"),
        };
        println!("  {}: {outcome}", attempt.source);
    }
    println!(
        "{} ({} bytes) verified, from {} in {:.0?}",
        report.hash,
        report.size,
        report.source,
        started.elapsed()
    );
    if let Some(out) = &args.out {
        let bytes = sdk
            .content()
            .read(&hash)
            .await?
            .ok_or("the item left the cache before it could be written out")?;
        std::fs::write(out, &bytes)?;
        println!("written to {}", out.display());
    }
    // Reports of wrong bytes go out before the process ends.
    sdk.outbox().drain(std::time::Duration::from_secs(5)).await.ok();
    sdk.shutdown().await;
    Ok(())
}
