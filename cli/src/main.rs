//! `edgepoints`: a desktop host of the SDK.
//!
//! - `edgepoints tour` — the main job: starts the mock control plane and
//!   walks several SDK instances through every flow.
//! - `edgepoints device …` — one SDK instance on a data directory, a
//!   subcommand per flow, for QA and ops.
//! - `edgepoints node …` — a headless edge node.
//! - `edgepoints fetch HASH …` — fetch and verify one item, as an app does.
//! - `edgepoints faults …` — fault injection on a mock control plane.
//! - `edgepoints member …` — members and sessions, as a device and as QA.
//! - `edgepoints coupons …` — merchants, tills and customers, for QA.
//! - `edgepoints rental …` — cars, rentals and the billing queue, for QA.

mod admin;
mod coupons;
mod device;
mod faults;
mod fetch;
mod member;
mod node;
mod points;
mod rental;
mod swarm;
mod tour;
mod vehicle_link;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "edgepoints", version, about = "Desktop host of the edgepoints SDK")]
struct Cli {
    /// Log filter (also read from RUST_LOG), e.g. `edgepoints_core=debug`.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the mock control plane and drive several SDK instances through every flow.
    Tour(tour::TourArgs),
    /// Run one SDK flow on a data directory against a control plane.
    Device(device::DeviceArgs),
    /// Inject faults into a mock control plane.
    Faults(faults::FaultsArgs),
    /// Coupons: merchants and keys for QA; a till; a customer.
    Coupons(coupons::CouponsArgs),
    /// Points: balance, ledger, rewards and grants; the catalogue and the
    /// balance check for QA.
    Points(points::PointsArgs),
    /// Members: sign up, log in and out, notices; sessions and timeouts for QA.
    Member(member::MemberArgs),
    /// Rental: find, reserve, start, command and end as a device; vehicles,
    /// rentals, queues and simulated cars for QA.
    Rental(rental::RentalArgs),
    /// Run a headless edge node until Ctrl-C.
    Node(node::NodeArgs),
    /// Fetch one item by hash (from a nearby node, else the origin) and verify it.
    Fetch(fetch::FetchArgs),
    /// Many SDK instances at once: origin offload as caches warm, latency,
    /// the control plane's load, and an audit that nothing was lost or
    /// doubled (optionally under faults).
    Swarm(swarm::SwarmArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = cli
        .log
        .as_deref()
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        Command::Tour(args) => tour::run(args).await,
        Command::Device(args) => device::run(args).await,
        Command::Faults(args) => faults::run(args).await,
        Command::Coupons(args) => coupons::run(args).await,
        Command::Points(args) => points::run(args).await,
        Command::Member(args) => member::run(args).await,
        Command::Rental(args) => rental::run(args).await,
        Command::Node(args) => node::run(args).await,
        Command::Fetch(args) => fetch::run(args).await,
        Command::Swarm(args) => swarm::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// Any error, for a command-line tool.
pub(crate) type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
