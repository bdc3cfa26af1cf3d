//! `edgepoints faults`: fault injection on a mock control plane, for QA.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::admin::admin_client;
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct FaultsArgs {
    /// The mock control plane (any of its instances: faults are shared).
    #[arg(long = "control-plane")]
    control_plane: url::Url,
    #[command(subcommand)]
    action: FaultsAction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// Answer with --status without running the request.
    Fail,
    /// Run and commit the request, then close the connection unanswered.
    DropAfterCommit,
    /// Run, then flip a byte of the answer (e.g. on `GET /origin/{hash}`).
    Tamper,
    /// Hold the request --delay-ms before running it.
    Delay,
}

#[derive(Debug, Subcommand)]
enum FaultsAction {
    /// Add a fault rule.
    Add {
        #[arg(value_enum)]
        kind: Kind,
        /// `METHOD /path/{param}`, e.g. "POST /v1/devices"; every API route if absent.
        #[arg(long)]
        route: Option<String>,
        #[arg(long, default_value_t = 503)]
        status: u16,
        /// With `fail`: seconds to put in a Retry-After header.
        #[arg(long)]
        retry_after_s: Option<u64>,
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Hit only this many matching requests.
        #[arg(long)]
        count: Option<u32>,
        /// Hit each matching request with this chance (0 to 1).
        #[arg(long)]
        probability: Option<f64>,
        /// Seed of the random sequence, for reproducible runs.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// List the rules in force.
    List,
    /// Remove every rule.
    Reset,
}

pub(crate) async fn run(args: FaultsArgs) -> CliResult {
    let admin = admin_client(args.control_plane.as_str())?;
    match args.action {
        FaultsAction::Add {
            kind,
            route,
            status,
            retry_after_s,
            delay_ms,
            count,
            probability,
            seed,
        } => {
            let mut rule = match kind {
                Kind::Fail => json!({"action": "fail", "status": status, "retry_after_s": retry_after_s}),
                Kind::DropAfterCommit => json!({"action": "drop_after_commit"}),
                Kind::Delay => json!({"action": "delay", "delay_ms": delay_ms}),
                Kind::Tamper => json!({"action": "tamper"}),
            };
            rule["route"] = json!(route);
            rule["count"] = json!(count);
            rule["probability"] = json!(probability);
            rule["seed"] = json!(seed);
            admin.add_fault(&rule).await?;
            println!("{}", serde_json::to_string_pretty(&admin.faults().await?)?);
        }
        FaultsAction::List => println!("{}", serde_json::to_string_pretty(&admin.faults().await?)?),
        FaultsAction::Reset => {
            admin.reset_faults().await?;
            println!("no faults");
        }
    }
    Ok(())
}
