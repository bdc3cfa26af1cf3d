//! `edgepoints-mock-server`: the reference control plane as a process.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use edgepoints_mock_server::store::{MemoryStore, RedisStore, StateStore};
use edgepoints_mock_server::{ControlPlane, MockServer};
use tracing_subscriber::EnvFilter;

// Every request builds and drops dozens of small strings, JSON buffers and
// records; under load glibc's allocator took a sixth of the process's CPU
// (consolidating its bins), mimalloc's thread-local free lists a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The edgepoints mock control plane, for integration tests and QA.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; repeat for several instances over one state.
    /// Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: Vec<SocketAddr>,
    /// Start this many instances on ephemeral ports of the first --listen
    /// address's host instead.
    #[arg(long)]
    instances: Option<usize>,
    /// Where the state lives: `memory` (this process only) or a Redis URL
    /// (`redis://127.0.0.1:6379/0`) shared with other processes.
    #[arg(long, default_value = "memory")]
    store: String,
    /// Key prefix in Redis, so several control planes can share one.
    #[arg(long, default_value = "edgepoints")]
    namespace: String,
    /// Do not publish the demo content (items from 16 B to 16 MiB), sign up
    /// the demo members, nor open the demo city's stations and cars.
    #[arg(long)]
    no_demo_content: bool,
    /// Host no simulated cars in this process: another process (or the
    /// test harness) hosts them for every instance over the shared store.
    #[arg(long)]
    no_vehicles: bool,
    /// Seed of the control plane's signing key (64 hex digits), for
    /// reproducible keys across runs.
    #[arg(long)]
    key_seed: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let key_seed = match args.key_seed {
        None => None,
        Some(text) => Some(
            <[u8; 32]>::try_from(hex::decode(&text)?.as_slice()).map_err(|_| "--key-seed must be 32 bytes in hex")?,
        ),
    };
    let store: Arc<dyn StateStore> = if args.store == "memory" {
        Arc::new(MemoryStore::default())
    } else {
        Arc::new(RedisStore::connect(&args.store, &args.namespace).await?)
    };
    let control_plane = Arc::new(ControlPlane::open(store, key_seed).await?);
    if args.no_vehicles {
        control_plane.without_vehicles();
    }
    if !args.no_demo_content {
        edgepoints_mock_server::origin::seed_demo(&control_plane).await?;
        edgepoints_mock_server::members::seed_demo(&control_plane).await?;
        edgepoints_mock_server::rental::catalogue::seed_demo(&control_plane).await?;
    }
    let listens = match args.instances {
        Some(n) => vec![SocketAddr::new(args.listen[0].ip(), 0); n],
        None => args.listen,
    };
    let mut servers = Vec::new();
    for listen in listens {
        servers.push(MockServer::start_with(listen, control_plane.clone()).await?);
    }
    // Scripts read these lines for the addresses; keep their shape. A
    // reader that stopped reading must not bring the server down, so write
    // errors (a closed pipe) are ignored.
    let mut out = std::io::stdout().lock();
    for server in &servers {
        let _ = writeln!(out, "edgepoints-mock-server listening on {}", server.url());
    }
    let _ = writeln!(
        out,
        "control-plane key {} ed25519:{}",
        control_plane.key.key_id(),
        control_plane.key.public_key()
    );
    let _ = writeln!(out, "state store {}", control_plane.store().describe());
    let _ = out.flush();
    drop(out);
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down");
    for server in servers {
        server.shutdown().await;
    }
    Ok(())
}
