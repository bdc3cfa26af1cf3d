//! The servers of the serving benchmark (`scripts/bench-serving.sh`):
//!
//! - `items --www DIR`: writes the benchmark's items (4 KiB and 16 MiB of
//!   fixed pseudo-random bytes) as `DIR/content/{hash}`, for every server
//!   to serve the same bytes under the same path.
//! - `bare --www DIR`: the ceiling — a bare hyper server answering
//!   `GET /content/{hash}` from memory with no checks at all.
//! - `edge --www DIR --cache memory|disk`: a real edge node. It starts a
//!   mock control plane in-process, publishes the items, consents, syncs
//!   them (verified), serves them, and prints a ticket per item.
//!
//! Each prints `ready http://ADDR` once serving, then serves until SIGTERM.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use edgepoints_core::{Config, ConsentPolicy, ContentHash, EdgePoints, NetworkKind};
use edgepoints_mock_server::{origin, MockServer};
use edgepoints_protocol::{AccessTicket, DeviceId};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the benchmark items under `WWW/content/`.
    Items {
        #[arg(long)]
        www: PathBuf,
    },
    /// A bare hyper server: the items from memory, no checks.
    Bare {
        #[arg(long)]
        www: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// An edge node serving the items with tickets.
    Edge {
        #[arg(long)]
        www: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, value_enum)]
        cache: CacheKind,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CacheKind {
    /// Served from the memory LRU.
    Memory,
    /// No memory cache: every request reads the disk cache.
    Disk,
}

/// The items: sizes of the benchmark, bytes fixed by the seed.
const ITEM_SIZES: [usize; 2] = [4 * 1024, 16 * 1024 * 1024];

fn item_bytes(size: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ size as u64;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn read_items(www: &Path) -> Result<HashMap<String, Bytes>, BoxError> {
    let mut items = HashMap::new();
    for entry in std::fs::read_dir(www.join("content"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        items.insert(name, Bytes::from(std::fs::read(entry.path())?));
    }
    Ok(items)
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?)
}

/// Serves until SIGTERM or SIGINT.
async fn until_stopped() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn main() -> Result<(), BoxError> {
    match Cli::parse().command {
        Command::Items { www } => {
            std::fs::create_dir_all(www.join("content"))?;
            for size in ITEM_SIZES {
                let bytes = item_bytes(size);
                let hash = ContentHash::of(&bytes);
                std::fs::write(www.join("content").join(hash.to_hex()), &bytes)?;
                println!("item {size} {hash}");
            }
            Ok(())
        }
        Command::Bare { www, listen, threads } => runtime(threads)?.block_on(bare(www, listen)),
        Command::Edge {
            www,
            listen,
            threads,
            cache,
        } => runtime(threads)?.block_on(edge(www, listen, cache)),
    }
}

async fn bare(www: PathBuf, listen: SocketAddr) -> Result<(), BoxError> {
    let items = Arc::new(read_items(&www)?);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("ready http://{}", listener.local_addr()?);
    let accept = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let items = items.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let found = request
                        .uri()
                        .path()
                        .strip_prefix("/content/")
                        .and_then(|name| items.get(name))
                        .cloned();
                    async move {
                        Ok::<_, Infallible>(match found {
                            Some(bytes) => Response::new(Full::new(bytes)),
                            None => {
                                let mut response = Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = StatusCode::NOT_FOUND;
                                response
                            }
                        })
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    tokio::select! {
        () = accept => {}
        () = until_stopped() => {}
    }
    Ok(())
}

async fn edge(www: PathBuf, listen: SocketAddr, cache: CacheKind) -> Result<(), BoxError> {
    let server = MockServer::start(Default::default()).await?;
    let plane = server.control_plane().clone();
    let items = read_items(&www)?;
    for bytes in items.values() {
        origin::publish(&plane, bytes.clone(), 1).await?;
    }
    let data = tempfile::tempdir()?;
    let mut config = Config::new(vec![server.url().parse()?], data.path());
    config.content_memory_budget_bytes = match cache {
        CacheKind::Memory => 64 << 20,
        CacheKind::Disk => 0,
    };
    // wrk's connections are all the node serves; leave room for them.
    config.node_limits.max_connections = 1024;
    let sdk = EdgePoints::open(config, None)?;
    sdk.consent()
        .grant(
            "bench",
            ConsentPolicy {
                monthly_upload_cap_bytes: u64::MAX,
                ..ConsentPolicy::default()
            },
        )
        .await?;
    sdk.set_network(NetworkKind::Wifi)?;
    sdk.set_battery(100, true)?;
    let report = sdk.node().sync().await?;
    if report.fetched as usize != items.len() {
        return Err(format!(
            "synced {} of {} items: {:?}",
            report.fetched,
            items.len(),
            report.failed
        )
        .into());
    }
    let node = sdk.node().start(listen).await?;
    let node_id = DeviceId::parse(&sdk.device_id())?;
    let expires_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64
        + 24 * 3600 * 1000;
    for name in items.keys() {
        let content = ContentHash::parse(name)?;
        if let CacheKind::Memory = cache {
            // Warm: the first read promotes the item into memory.
            sdk.content().read(&content).await?;
        }
        let ticket = AccessTicket {
            node_id: node_id.clone(),
            // The consumer the benchmark's client stands for.
            consumer_id: edgepoints_tests::device_key(1).1,
            content,
            expires_at_ms,
        }
        .sign(plane.key.key_id(), plane.key.signing_key());
        println!("ticket {content} {ticket}");
    }
    println!("ready http://{}", node.local_addr().expect("serving"));
    until_stopped().await;
    let stats = node.stats();
    eprintln!(
        "edge node: {} requests, {} hits, {} bytes, refused {:?}",
        stats.requests, stats.hits, stats.bytes_served, stats.rejected
    );
    node.stop().await;
    sdk.shutdown().await;
    Ok(())
}
