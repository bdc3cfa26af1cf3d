//! `edgepoints-mock-server`: the reference control plane as a process.

use std::net::SocketAddr;

use clap::Parser;
use edgepoints_mock_server::{MockConfig, MockServer};
use tracing_subscriber::EnvFilter;

/// The edgepoints mock control plane, for integration tests and QA.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
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
    let server = MockServer::start(MockConfig {
        listen: args.listen,
        key_seed,
    })
    .await?;
    // Scripts read the first line for the address; keep its shape.
    println!("edgepoints-mock-server listening on {}", server.url());
    println!(
        "control-plane key {} ed25519:{}",
        server.control_plane().key.key_id(),
        server.control_plane().key.public_key()
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down");
    server.shutdown().await;
    Ok(())
}
