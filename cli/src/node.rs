//! `edgepoints node`: a headless edge node on a desktop or server, serving
//! the content in its cache until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use edgepoints_core::{Config, ConsentPolicy, EdgePoints, NetworkKind};

use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Control-plane endpoint; repeat for several.
    #[arg(long = "control-plane", required = true)]
    control_plane: Vec<url::Url>,
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to serve on; port 0 picks a free one.
    #[arg(long, default_value = "0.0.0.0:0")]
    listen: SocketAddr,
    /// Grant consent (default policy) if this device has not yet: the
    /// operator of a headless node is its user.
    #[arg(long)]
    grant: bool,
    /// Sync the cache with the manifest this often (seconds); 0 never.
    #[arg(long, default_value_t = 600)]
    sync_every: u64,
    /// Upload rate cap in bytes per second; 0 for none.
    #[arg(long, default_value_t = 0)]
    upload_rate: u64,
    /// The network this host says it is on. A desktop is on a fixed one
    /// (`wifi`); `cellular` pauses a node under the default Wi-Fi-only
    /// policy, as a phone leaving Wi-Fi would.
    #[arg(long, value_enum, default_value_t = HostNetwork::Wifi)]
    network: HostNetwork,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum HostNetwork {
    Wifi,
    Cellular,
}

impl From<HostNetwork> for NetworkKind {
    fn from(network: HostNetwork) -> Self {
        match network {
            HostNetwork::Wifi => NetworkKind::Wifi,
            HostNetwork::Cellular => NetworkKind::Cellular,
        }
    }
}

pub(crate) async fn run(args: NodeArgs) -> CliResult {
    let mut config = Config::new(args.control_plane, args.data_dir);
    config.platform = "node".into();
    config.node_limits.upload_bytes_per_second = args.upload_rate;
    let sdk = EdgePoints::open(config, None)?;
    if args.grant && !sdk.consent().state()?.is_granted() {
        sdk.consent().grant("2026-11", ConsentPolicy::default()).await?;
    }
    // A desktop host is on mains power.
    sdk.set_network(args.network.into())?;
    sdk.set_battery(100, true)?;
    let node = sdk.node().start(args.listen).await?;
    println!(
        "edge node {} serving on http://{}",
        sdk.device_id(),
        node.local_addr().expect("serving")
    );
    let stats = sdk.content().stats()?;
    println!("cache: {} items, {} bytes", stats.items, stats.disk_bytes);
    let syncing = async {
        if args.sync_every == 0 {
            return std::future::pending().await;
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(args.sync_every));
        loop {
            every.tick().await;
            match sdk.node().sync().await {
                Ok(report) => println!(
                    "sync: manifest {}, {} fetched ({} bytes), {} dropped, {} failed",
                    report.manifest_version,
                    report.fetched,
                    report.bytes_fetched,
                    report.dropped,
                    report.failed.len()
                ),
                Err(error) => eprintln!("sync failed: {error}"),
            }
        }
    };
    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal?,
        () = syncing => {}
    }
    let served = node.stats();
    node.stop().await;
    println!(
        "stopped: {} requests, {} bytes served, {} hits, {} misses, refused {:?}",
        served.requests, served.bytes_served, served.hits, served.misses, served.rejected
    );
    sdk.shutdown().await;
    Ok(())
}
