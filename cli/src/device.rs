//! `edgepoints device`: one SDK instance, one flow per subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use edgepoints_core::{Config, ConsentPolicy, ConsentState, ConsentStatus, EdgePoints, NetworkKind};

use crate::CliResult;

/// Where an SDK instance of the CLI talks to and keeps its state.
#[derive(Debug, Args)]
pub(crate) struct SdkOptions {
    /// Control-plane endpoint; repeat for several.
    #[arg(long = "control-plane", required = true)]
    pub(crate) control_plane: Vec<url::Url>,
    /// The SDK's data directory (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// First retry delay; later ones double, up to --retry-max-ms.
    #[arg(long, default_value_t = 200)]
    retry_base_ms: u64,
    #[arg(long, default_value_t = 10_000)]
    retry_max_ms: u64,
    /// Timeout of one attempt.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
}

impl SdkOptions {
    /// Opens the SDK on the data directory.
    pub(crate) fn open(&self) -> CliResult<EdgePoints> {
        let mut config = Config::new(self.control_plane.clone(), self.data_dir.clone());
        config.retry.base_delay = Duration::from_millis(self.retry_base_ms);
        config.retry.max_delay = Duration::from_millis(self.retry_max_ms);
        config.outbox_max_delay = config.outbox_max_delay.max(config.retry.max_delay);
        config.request_timeout = Duration::from_millis(self.request_timeout_ms);
        config.platform = "cli".into();
        Ok(EdgePoints::open(config, None)?)
    }
}

/// Opens the SDK on `options`, runs `action`, and shuts the SDK down
/// whatever happened.
pub(crate) async fn with_sdk<F, Fut>(options: &SdkOptions, action: F) -> CliResult
where
    F: FnOnce(EdgePoints) -> Fut,
    Fut: std::future::Future<Output = CliResult>,
{
    let sdk = options.open()?;
    let outcome = action(sdk.clone()).await;
    sdk.shutdown().await;
    outcome
}

#[derive(Debug, Args)]
pub(crate) struct DeviceArgs {
    #[command(flatten)]
    sdk: SdkOptions,
    #[command(subcommand)]
    action: DeviceAction,
}

#[derive(Debug, Subcommand)]
enum DeviceAction {
    /// Print the device id, registration, consent and host state.
    Status,
    /// Register with the control plane (once).
    Register,
    /// Grant consent to serve.
    Grant {
        #[arg(long, default_value = "2026-11")]
        terms_version: String,
        /// Also serve on cellular networks.
        #[arg(long)]
        cellular: bool,
        /// Do not serve on Wi-Fi.
        #[arg(long)]
        no_wifi: bool,
        #[arg(long)]
        charging_only: bool,
        #[arg(long, default_value_t = 30)]
        min_battery: u8,
        #[arg(long, default_value_t = 5 * 1024 * 1024 * 1024)]
        monthly_cap_bytes: u64,
        /// Keep serving while the app is in the background.
        #[arg(long)]
        in_background: bool,
    },
    /// Revoke consent.
    Revoke {
        /// Also delete cached content.
        #[arg(long)]
        purge_cache: bool,
    },
    /// Send a consent decision the control plane does not hold yet.
    ReportPending,
    /// Alternate grant and revoke until the consent revision reaches the
    /// given one (resumes where an earlier, killed run stopped).
    Churn {
        #[arg(long)]
        until_revision: u64,
    },
    /// Print the outbox: pending, failed and done calls.
    Outbox,
    /// Send every pending call and wait until none is left.
    Drain {
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
    },
    /// Tell the SDK about the phone's state.
    Host {
        #[arg(long, value_parser = ["wifi", "cellular", "offline"])]
        network: Option<String>,
        #[arg(long)]
        battery: Option<u8>,
        #[arg(long)]
        charging: bool,
    },
}

pub(crate) async fn run(args: DeviceArgs) -> CliResult {
    let sdk = args.sdk.open()?;
    let outcome = act(&sdk, args.action).await;
    sdk.shutdown().await;
    outcome
}

async fn act(sdk: &EdgePoints, action: DeviceAction) -> CliResult {
    match action {
        DeviceAction::Status => {
            println!("device      {}", sdk.device_id());
            match sdk.registration()? {
                Some(r) => println!("registered  at {} ms by {}", r.registered_at_ms, r.control_plane_key_id),
                None => println!("registered  no"),
            }
            println!("consent     {}", describe_consent(&sdk.consent().state()?));
            let host = sdk.host_state()?;
            println!(
                "host        {:?}, battery {} %{}, {}",
                host.network,
                host.battery_percent,
                if host.charging { " charging" } else { "" },
                if host.foreground { "foreground" } else { "background" }
            );
        }
        DeviceAction::Register => {
            let r = sdk.register().await?;
            println!("registered {} at {} ms", r.device_id, r.registered_at_ms);
        }
        DeviceAction::Grant {
            terms_version,
            cellular,
            no_wifi,
            charging_only,
            min_battery,
            monthly_cap_bytes,
            in_background,
        } => {
            let policy = ConsentPolicy {
                serve_on_wifi: !no_wifi,
                serve_on_cellular: cellular,
                charging_only,
                min_battery_percent: min_battery,
                monthly_upload_cap_bytes: monthly_cap_bytes,
                serve_in_background: in_background,
            };
            let state = sdk.consent().grant(&terms_version, policy).await?;
            println!("{}", describe_consent(&state));
        }
        DeviceAction::Revoke { purge_cache } => {
            println!("{}", describe_consent(&sdk.consent().revoke(purge_cache).await?));
        }
        DeviceAction::ReportPending => {
            println!("{}", describe_consent(&sdk.consent().report_pending().await?));
        }
        DeviceAction::Churn { until_revision } => loop {
            let state = sdk.consent().state()?;
            if state.revision >= until_revision {
                println!("at revision {}", state.revision);
                break;
            }
            let next = if state.revision % 2 == 0 {
                sdk.consent().grant("2026-11", ConsentPolicy::default()).await?
            } else {
                sdk.consent().revoke(false).await?
            };
            // Written only once the decision is durable: a reader of this
            // line knows the SDK accepted it.
            println!("accepted revision {}", next.revision);
        },
        DeviceAction::Outbox => {
            let status = sdk.outbox().status()?;
            println!(
                "pending {}, failed {}, done {}, oldest pending {} ms, last error {}",
                status.pending,
                status.failed,
                status.done,
                status.oldest_pending_age_ms.unwrap_or(0),
                status.last_error.as_deref().unwrap_or("none")
            );
            for entry in sdk.outbox().entries(20)? {
                println!(
                    "  #{:<5} {:<15} {:<8?} attempts {:<3} key {}{}",
                    entry.id,
                    entry.kind,
                    entry.state,
                    entry.attempts,
                    entry.idempotency_key,
                    entry.last_error.map(|e| format!(" ({e})")).unwrap_or_default()
                );
            }
        }
        DeviceAction::Drain { timeout_ms } => {
            let status = sdk.outbox().drain(Duration::from_millis(timeout_ms)).await?;
            println!(
                "pending {}, failed {}, done {}",
                status.pending, status.failed, status.done
            );
            if status.pending > 0 {
                return Err(format!("{} calls still pending", status.pending).into());
            }
        }
        DeviceAction::Host {
            network,
            battery,
            charging,
        } => {
            if let Some(network) = network {
                sdk.set_network(match network.as_str() {
                    "wifi" => NetworkKind::Wifi,
                    "cellular" => NetworkKind::Cellular,
                    _ => NetworkKind::Offline,
                })?;
            }
            if let Some(battery) = battery {
                sdk.set_battery(battery, charging)?;
            }
            println!("{:?}", sdk.host_state()?);
        }
    }
    Ok(())
}

/// One line for a consent state, as the tour and `status` print it.
pub(crate) fn describe_consent(state: &ConsentState) -> String {
    let what = match &state.status {
        ConsentStatus::NotAsked => "not asked".to_owned(),
        ConsentStatus::Granted { terms_version, policy } => format!(
            "granted (terms {terms_version}; {}{}{}; battery >= {} %)",
            if policy.serve_on_wifi { "wifi" } else { "" },
            if policy.serve_on_cellular { "+cellular" } else { "" },
            if policy.charging_only { ", charging only" } else { "" },
            policy.min_battery_percent
        ),
        ConsentStatus::Revoked { purge_cache } => {
            format!("revoked{}", if *purge_cache { " (purge cache)" } else { "" })
        }
    };
    format!(
        "{what}, revision {}, {}",
        state.revision,
        if state.reported { "reported" } else { "report pending" }
    )
}
