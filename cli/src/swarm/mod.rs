//! `edgepoints swarm`: many real SDK instances at once, to measure what the
//! edge network is for — taking load off the origin — and what the control
//! plane holds while it does.
//!
//! The run: start the mock (or use running instances), publish a catalogue
//! whose popularity is Zipf-distributed, open N phones (SDK instances in
//! this process, each with its own data directory, placed on a map,
//! consenting, serving on loopback with a cache a tenth of the catalogue),
//! then let every phone fetch items by popularity. Each fetch is answered
//! by the phone's own cache, the nearest nodes holding the item, or the
//! origin; what phones fetch they hold and announce, so caches warm.
//! Then audit: nothing lost, nothing doubled, points agree with verified
//! bytes. Optionally with faults (`chaos.rs`) and a heartbeat load
//! measurement (`heartbeat_load.rs`).
//!
//! Files: `catalogue.rs` (items and popularity), `phones.rs` (the SDK
//! instances), `traffic.rs` (the users), `figures.rs` and `plot.rs` (what
//! it adds up to), `audit.rs` (exactly once), `plane.rs` (the control
//! plane under test).

mod audit;
mod catalogue;
mod chaos;
mod figures;
mod heartbeat_load;
mod phones;
mod plane;
mod plot;
mod traffic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use edgepoints_protocol::PointsRules;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use self::audit::{Audit, Counters};
use self::catalogue::Catalogue;
use self::figures::Figures;
use self::phones::{Phone, PhoneSetup};
use self::plane::Plane;
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct SwarmArgs {
    /// SDK instances ("phones"): each serves as an edge node and fetches
    /// as a user.
    #[arg(long, default_value_t = 50)]
    phones: usize,
    /// Items in the catalogue.
    #[arg(long, default_value_t = 500)]
    items: usize,
    /// Bytes per item.
    #[arg(long, default_value_t = 64 * 1024)]
    item_bytes: usize,
    /// Exponent of the items' Zipf popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Share of the catalogue a phone's cache holds.
    #[arg(long, default_value_t = 0.1)]
    cache_share: f64,
    /// Fetches per phone (those its own cache answers count too).
    #[arg(long, default_value_t = 200)]
    fetches: usize,
    /// Mean pause of a user between two fetches, in ms (0: none, which
    /// measures throughput rather than latency).
    #[arg(long, default_value_t = 100)]
    think_ms: u64,
    /// Radius of the map the phones are placed on, in km.
    #[arg(long, default_value_t = 25.0)]
    radius_km: f64,
    /// Random 503s and lost answers on the API while the users fetch, one
    /// control-plane instance stopped and restarted, and coupons redeemed
    /// and cars returned meanwhile — each must be applied once.
    #[arg(long)]
    faults: bool,
    /// Then measure for this many seconds the signed heartbeats per second
    /// the control plane accepts from simulated nodes (0: skip).
    #[arg(long, default_value_t = 0)]
    heartbeat_load_s: u64,
    /// Simulated nodes in the heartbeat measurement.
    #[arg(long, default_value_t = 2000)]
    heartbeat_nodes: usize,
    /// Concurrent connections of the heartbeat measurement.
    #[arg(long, default_value_t = 64)]
    heartbeat_connections: usize,
    /// Where the embedded control plane keeps its state: `memory`, `redis`
    /// (a throwaway redis-server), or a Redis URL.
    #[arg(long, default_value = "memory")]
    store: String,
    /// Instances of the embedded control plane.
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// Use running control-plane instances (with the mock's admin API)
    /// instead of the embedded mock; repeat for several.
    #[arg(long = "control-plane")]
    control_plane: Vec<url::Url>,
    /// Write the figures (`swarm.json`) and the offload plot
    /// (`offload.svg`) into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of every random draw: placement, popularity, faults.
    #[arg(long, default_value_t = 20_261_206)]
    seed: u64,
    /// Fail unless the steady-state offload reaches this share (0 to 1).
    #[arg(long)]
    min_offload: Option<f64>,
}

/// Everything the run found, as written to `swarm.json`.
#[derive(Debug, Serialize)]
struct Report {
    phones: usize,
    items: usize,
    item_bytes: usize,
    zipf: f64,
    cache_share: f64,
    store: String,
    faults: bool,
    figures: Figures,
    /// Bytes the phones' first syncs fetched from the origin (the top of
    /// the catalogue pushed to them, not counted in the offload).
    prefetched_bytes: u64,
    heartbeats_per_s: f64,
    routing_answers_per_s: f64,
    /// Resident memory the phones added to this process, per phone: once
    /// started and synced, and after the run (caches in memory full).
    memory_per_phone_bytes: u64,
    memory_per_phone_after_bytes: u64,
    audit: Audit,
    chaos: Option<chaos::ChaosReport>,
    heartbeat_load: Option<heartbeat_load::LoadReport>,
}

/// The interval the swarm asks its nodes to heartbeat at: often, so the
/// control plane's heartbeat path is busy during the run.
const HEARTBEAT_INTERVAL_MS: u64 = 1_000;

pub(crate) async fn run(args: SwarmArgs) -> CliResult {
    if args.phones < 2 || args.items < 10 || args.fetches == 0 || !(0.0..=1.0).contains(&args.cache_share) {
        return Err("a swarm needs at least 2 phones, 10 items, some fetches and a cache share between 0 and 1".into());
    }
    let plane = Plane::start(&args).await?;
    let admin = plane.admin()?;
    admin.reset_faults().await?;
    let rules = PointsRules {
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        gap_limit_intervals: 5,
        // No cap, so delivery points follow from bytes exactly.
        daily_cap: u64::MAX / 4,
        ..PointsRules::default()
    };
    admin.set_points_rules(&rules).await?;

    eprintln!(
        "swarm: {} phones, {} items of {} KiB (Zipf {}), caches hold {:.0} % of the catalogue, control plane {}",
        args.phones,
        args.items,
        args.item_bytes / 1024,
        args.zipf,
        args.cache_share * 100.0,
        plane.describe()
    );
    let catalogue = Arc::new(Catalogue::publish(&admin, args.items, args.item_bytes, args.zipf, args.seed).await?);
    let cache_bytes = ((catalogue.bytes() as f64 * args.cache_share) as u64).max(args.item_bytes as u64);

    let before = Counters::read(&admin).await?;
    let memory_before = resident_bytes();
    let root = tempfile::tempdir()?;
    let setup = PhoneSetup {
        endpoints: plane.endpoints(),
        cache_bytes,
        radius_km: args.radius_km,
        seed: args.seed,
    };
    let bar = progress(args.phones as u64, "phones syncing and starting their nodes");
    let mut phones: Vec<Phone> = Vec::with_capacity(args.phones);
    for index in 0..args.phones {
        phones.push(setup.start(root.path(), index).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    for phone in &phones {
        phone.sdk.outbox().drain(Duration::from_secs(30)).await?;
    }
    let memory_per_phone_bytes = resident_bytes().saturating_sub(memory_before) / args.phones as u64;
    let prefetched_bytes = phones.iter().map(|p| p.prefetched_bytes).sum();

    let chaos = if args.faults {
        Some(chaos::Chaos::prepare(&plane, &admin, root.path(), args.seed).await?)
    } else {
        None
    };
    let started = Instant::now();
    let bar = progress((args.phones * args.fetches) as u64, "users fetching by popularity");
    let (samples, chaos_report) = {
        let chaos_run = chaos.as_ref().map(|c| c.run(&plane, &admin, bar.clone()));
        let plan = traffic::Browsing {
            catalogue: catalogue.clone(),
            fetches: args.fetches,
            think: Duration::from_millis(args.think_ms),
            started,
            progress: bar.clone(),
        };
        let browsing = phones.iter().enumerate().map(|(index, phone)| {
            tokio::spawn(traffic::browse(
                index,
                phone.sdk.clone(),
                args.seed.wrapping_add(1 + index as u64),
                plan.clone(),
            ))
        });
        let browsing = join_all(browsing.collect());
        match chaos_run {
            Some(chaos_run) => {
                let (samples, report) = tokio::join!(browsing, chaos_run);
                (samples?, Some(report?))
            }
            None => (browsing.await?, None),
        }
    };
    let duration = started.elapsed();
    bar.finish_and_clear();
    let memory_per_phone_after_bytes = resident_bytes().saturating_sub(memory_before) / args.phones as u64;

    admin.reset_faults().await?;
    for phone in &phones {
        phone.sdk.outbox().drain(Duration::from_secs(60)).await?;
    }
    let during = Counters::read(&admin).await?.since(&before);
    let figures = Figures::of(&samples, duration, 20);
    let mut audit = audit::audit(&admin, &phones, &samples, &during, &rules).await?;
    if let (Some(chaos), Some(report)) = (&chaos, &chaos_report) {
        chaos.audit(&admin, report, &mut audit).await?;
    }

    // The phones are done: stopped before the load, so the measurement is
    // of the control plane and its callers alone.
    if let Some(chaos) = chaos {
        chaos.shutdown().await;
    }
    for phone in phones {
        phone.stop().await;
    }
    let heartbeat_load = if args.heartbeat_load_s > 0 {
        Some(
            heartbeat_load::measure(
                plane.endpoints(),
                args.heartbeat_nodes,
                args.heartbeat_connections,
                Duration::from_secs(args.heartbeat_load_s),
            )
            .await?,
        )
    } else {
        None
    };

    let report = Report {
        phones: args.phones,
        items: args.items,
        item_bytes: args.item_bytes,
        zipf: args.zipf,
        cache_share: args.cache_share,
        store: plane.describe(),
        faults: args.faults,
        heartbeats_per_s: during.heartbeats as f64 / figures.seconds,
        routing_answers_per_s: during.routing_answers as f64 / figures.seconds,
        figures,
        prefetched_bytes,
        memory_per_phone_bytes,
        memory_per_phone_after_bytes,
        audit,
        chaos: chaos_report,
        heartbeat_load,
    };
    print_report(&report);
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)?;
        std::fs::write(out.join("swarm.json"), serde_json::to_vec_pretty(&report)?)?;
        let title = format!(
            "Origin offload as caches warm: {} phones, {} items, Zipf {}, caches {:.0} %",
            args.phones,
            args.items,
            args.zipf,
            args.cache_share * 100.0
        );
        std::fs::write(
            out.join("offload.svg"),
            plot::offload_svg(&title, &report.figures.windows, 0.9),
        )?;
        println!("figures in {}", out.display());
    }

    plane.shutdown().await;

    if !report.audit.passed() {
        return Err("the audit found calls lost or doubled, or points that disagree with bytes".into());
    }
    if report.figures.failed > 0 && !args.faults {
        return Err(format!("{} fetches failed without any fault injected", report.figures.failed).into());
    }
    if let Some(min) = args.min_offload {
        if report.figures.steady_offload < min {
            return Err(format!(
                "steady-state offload {:.1} % is below the required {:.1} %",
                report.figures.steady_offload * 100.0,
                min * 100.0
            )
            .into());
        }
    }
    Ok(())
}

/// Waits for every task; the samples of all, in no particular order.
async fn join_all(tasks: Vec<tokio::task::JoinHandle<Vec<traffic::Sample>>>) -> CliResult<Vec<traffic::Sample>> {
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await?);
    }
    Ok(samples)
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// This process's resident memory, from `/proc` (0 where there is none).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn print_report(report: &Report) {
    let f = &report.figures;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "\n== Swarm: {} phones, {} items, store {}",
        report.phones, report.items, report.store
    );
    println!(
        "   fetches          {} in {:.1} s: {} from the phone's own cache, {} from nodes, {} from the origin, {} failed",
        f.fetches, f.seconds, f.local, f.from_nodes, f.from_origin, f.failed
    );
    println!(
        "   origin offload   {:.1} % of network bytes overall, {:.1} % at steady state (last quarter); {:.1} MiB from nodes, {:.1} MiB from the origin",
        f.offload * 100.0,
        f.steady_offload * 100.0,
        mib(f.node_bytes),
        mib(f.origin_bytes)
    );
    let timeline: Vec<String> = f
        .windows
        .iter()
        .map(|w| w.offload.map_or("–".to_owned(), |o| format!("{:.0}", o * 100.0)))
        .collect();
    println!("   offload by time  {} (%)", timeline.join(" "));
    println!(
        "   latency          nodes p50 {:.1} ms p99 {:.1} ms ({}); origin p50 {:.1} ms p99 {:.1} ms ({})",
        f.node_latency.p50_ms,
        f.node_latency.p99_ms,
        f.node_latency.count,
        f.origin_latency.p50_ms,
        f.origin_latency.p99_ms,
        f.origin_latency.count
    );
    println!(
        "   hedges           {}, fallbacks to the origin {}",
        f.hedges, f.fallbacks
    );
    for (reason, count) in &f.node_failures {
        println!("   node not used    {count}× {reason}");
    }
    println!(
        "   control plane    {:.0} routing answers/s, {:.1} heartbeats/s accepted",
        report.routing_answers_per_s, report.heartbeats_per_s
    );
    println!(
        "   points           {} bytes credited to nodes, {} delivery points",
        report.audit.credited_bytes, report.audit.delivery_points
    );
    println!(
        "   memory           {:.1} MiB per phone started, {:.1} MiB after the run (resident, SDK + node + its cache in memory, + the control plane's growth); {:.1} MiB prefetched by the first syncs",
        mib(report.memory_per_phone_bytes),
        mib(report.memory_per_phone_after_bytes),
        mib(report.prefetched_bytes)
    );
    if let Some(chaos) = &report.chaos {
        println!("   faults           {}", chaos.describe());
    }
    if let Some(load) = &report.heartbeat_load {
        println!("   heartbeat load   {}", load.describe());
    }
    println!(
        "   lost calls       {}, doubled calls {}",
        report.audit.lost, report.audit.doubled
    );
    for check in &report.audit.checks {
        println!("   {} {}", if check.held { "ok:" } else { "FAILED:" }, check.what);
    }
}
