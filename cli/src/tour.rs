//! `edgepoints tour`: the main job. Starts the mock control plane (unless one
//! is given), opens several SDK instances on their own data directories, and
//! walks them through every flow that exists, checking each outcome against
//! the control plane's own state. Exits non-zero if anything disagrees.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use edgepoints_core::{Config, ConsentPolicy, EdgePoints, Location, NetworkKind, OutlierPolicy, RetryPolicy};
use edgepoints_mock_server::{ControlPlane, MockServer};
use serde_json::json;

use crate::admin::{admin_client, AdminClient};
use crate::device::describe_consent;
use crate::CliResult;
use edgepoints_protocol::paths::routes;

#[derive(Debug, Args)]
pub(crate) struct TourArgs {
    /// Use a running control plane instead of starting the embedded mock
    /// (it must offer the mock's admin API); repeat for several instances.
    #[arg(long = "control-plane")]
    control_plane: Vec<url::Url>,
    /// Keep the devices' data here instead of a temporary folder.
    #[arg(long)]
    data_root: Option<PathBuf>,
}

/// A device in the tour: a name for the narrative and its SDK instance.
struct Device {
    name: &'static str,
    dir: PathBuf,
    sdk: EdgePoints,
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn say(line: impl AsRef<str>) {
    println!("   {}", line.as_ref());
}

fn check(ok: bool, what: &str) -> CliResult {
    if ok {
        say(format!("ok: {what}"));
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

fn open(endpoints: &[url::Url], dir: &std::path::Path) -> CliResult<EdgePoints> {
    let mut config = Config::new(endpoints.to_vec(), dir);
    config.platform = "tour".into();
    config.app_version = env!("CARGO_PKG_VERSION").into();
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    // Short ejections, so the tour can show an endpoint coming back.
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        base_ejection: Duration::from_millis(500),
        ..OutlierPolicy::default()
    };
    Ok(EdgePoints::open(config, None)?)
}

const PARIS: Location = Location {
    latitude: 48.8566,
    longitude: 2.3522,
};
const PARIS_EAST: Location = Location {
    latitude: 48.8600,
    longitude: 2.4400,
};
const LYON: Location = Location {
    latitude: 45.7640,
    longitude: 4.8357,
};

/// Great-circle distance, for the narrative.
fn km(a: Location, b: Location) -> f64 {
    let (la1, la2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dla = la2 - la1;
    let dlo = (b.longitude - a.longitude).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Which of the mock instances `sdk` calls now.
fn sticky_instance(servers: &[MockServer], sdk: &EdgePoints) -> Option<usize> {
    let current = sdk.current_endpoint();
    servers
        .iter()
        .position(|s| s.url() == current.as_str().trim_end_matches('/'))
}

pub(crate) async fn run(args: TourArgs) -> CliResult {
    let started = Instant::now();
    // Embedded: three mock instances over one shared state, as a load
    // balancer would see three app servers.
    let embedded = args.control_plane.is_empty();
    let mut servers = Vec::new();
    let endpoints: Vec<url::Url> = if embedded {
        let control_plane = Arc::new(ControlPlane::in_memory(None).await);
        servers = MockServer::start_cluster(3, control_plane).await?;
        servers.iter().map(|s| s.url().parse()).collect::<Result<_, _>>()?
    } else {
        args.control_plane.clone()
    };
    let temp = tempfile::tempdir()?;
    let root = args.data_root.unwrap_or_else(|| temp.path().to_owned());
    let admin = admin_client(endpoints[0].as_str())?;

    step("Control plane");
    if let Some(first) = servers.first() {
        say(format!(
            "embedded mock control plane, key {}, 3 instances sharing one state:",
            first.control_plane().key.key_id()
        ));
        for server in &servers {
            say(format!("  {}", server.url()));
        }
    } else {
        for endpoint in &endpoints {
            say(format!("using the control plane at {endpoint}"));
        }
    }
    admin.reset_faults().await?;

    step("Three phones open the SDK and register (each signs with its own new key)");
    let mut devices = Vec::new();
    for name in ["alice-phone", "bob-phone", "carol-tablet"] {
        let dir = root.join(name);
        let sdk = open(&endpoints, &dir)?;
        let registration = sdk.register().await?;
        say(format!("{name:<13} {} registered", registration.device_id));
        devices.push(Device { name, dir, sdk });
    }
    let before = admin.requests_on(routes::DEVICES).await?;
    devices[0].sdk.register().await?;
    check(
        admin.requests_on(routes::DEVICES).await? == before,
        "registering again is answered from the device's own store, no request sent",
    )?;

    step("The phones tell the SDK about their state");
    devices[0].sdk.set_network(NetworkKind::Wifi)?;
    devices[0].sdk.set_battery(82, true)?;
    devices[1].sdk.set_network(NetworkKind::Cellular)?;
    devices[1].sdk.set_battery(55, false)?;
    devices[2].sdk.set_network(NetworkKind::Wifi)?;
    devices[2].sdk.set_battery(97, true)?;
    devices[2].sdk.set_foreground(false)?;
    for d in &devices {
        let h = d.sdk.host_state()?;
        say(format!(
            "{:<13} {:?}, battery {} %{}",
            d.name,
            h.network,
            h.battery_percent,
            if h.charging { ", charging" } else { "" }
        ));
    }

    step("Alice and Bob consent to serve, each under their own policy");
    let alice = devices[0]
        .sdk
        .consent()
        .grant("2026-11", ConsentPolicy::default())
        .await?;
    say(format!("alice-phone   {}", describe_consent(&alice)));
    let bob_policy = ConsentPolicy {
        serve_on_cellular: true,
        charging_only: true,
        min_battery_percent: 50,
        monthly_upload_cap_bytes: 2 << 30,
        ..ConsentPolicy::default()
    };
    let bob = devices[1].sdk.consent().grant("2026-11", bob_policy).await?;
    say(format!("bob-phone     {}", describe_consent(&bob)));
    check(
        alice.reported && bob.reported,
        "both decisions reached the control plane",
    )?;

    step("A policy the SDK refuses: minimum battery 140 %");
    let refused = devices[2]
        .sdk
        .consent()
        .grant(
            "2026-11",
            ConsentPolicy {
                min_battery_percent: 140,
                ..ConsentPolicy::default()
            },
        )
        .await;
    match refused {
        Err(edgepoints_core::Error::InvalidInput(why)) => say(format!("refused: {why}")),
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }
    check(
        devices[2].sdk.consent().state()?.revision == 0,
        "the refused call changed nothing",
    )?;

    step("The control plane fails twice (503); Carol's consent survives it");
    admin
        .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 503, "count": 2}))
        .await?;
    let before = admin.requests_on(routes::DEVICE_CONSENT).await?;
    let carol = devices[2]
        .sdk
        .consent()
        .grant("2026-11", ConsentPolicy::default())
        .await?;
    let sent = admin.requests_on(routes::DEVICE_CONSENT).await? - before;
    say(format!("carol-tablet  {}", describe_consent(&carol)));
    check(
        carol.reported && sent == 3,
        "two 503s retried with the same key, then applied",
    )?;

    step("Bob revokes while the control plane is down; the decision waits, then is reported");
    admin
        .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "fail", "status": 503, "count": 50}))
        .await?;
    let pending = devices[1].sdk.consent().revoke(true).await?;
    say(format!("bob-phone     {}", describe_consent(&pending)));
    check(!pending.reported, "revoked on the phone at once, report pending")?;
    admin.reset_faults().await?;
    let reported = devices[1].sdk.consent().report_pending().await?;
    say(format!("bob-phone     {}", describe_consent(&reported)));
    check(reported.reported, "reported once the control plane was back")?;

    step("An answer is lost after the control plane committed; Carol's next call is not applied twice");
    admin
        .add_fault(&json!({"route": routes::DEVICE_CONSENT, "action": "drop_after_commit", "count": 1}))
        .await?;
    let applied_before = admin.applied("consent_reports").await?;
    let carol = devices[2].sdk.consent().revoke(false).await?;
    let applied_after = admin.applied("consent_reports").await?;
    say(format!("carol-tablet  {}", describe_consent(&carol)));
    check(
        carol.reported && applied_after == applied_before + 1,
        "the SDK asked what became of its call and took the stored answer: applied once",
    )?;

    if servers.len() > 1 {
        step("The instance Alice's calls stick to goes down; her calls fail over, no new registration");
        let sticky = sticky_instance(&servers, &devices[0].sdk).ok_or("alice's endpoint is not one of ours")?;
        say(format!("alice-phone   sticks to {}", servers[sticky].url()));
        let downed = servers.remove(sticky);
        let addr = downed.addr();
        let control_plane = downed.control_plane().clone();
        downed.shutdown().await;
        say(format!("instance {addr} stopped"));
        let registrations = admin_registrations(&servers, &admin).await?;
        let moved = devices[0]
            .sdk
            .consent()
            .grant("2026-11", ConsentPolicy::default())
            .await?;
        say(format!(
            "alice-phone   {} via {}",
            describe_consent(&moved),
            devices[0].sdk.current_endpoint()
        ));
        check(
            moved.reported && admin_registrations(&servers, &admin).await? == registrations,
            "served by another instance from the shared state, without registering again",
        )?;
        let revived = MockServer::start_with(addr, control_plane).await?;
        say(format!("instance {addr} restarted"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while revived.requests_served() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            devices[0]
                .sdk
                .consent()
                .grant("2026-11", ConsentPolicy::default())
                .await?;
        }
        check(
            revived.requests_served() > 0,
            "after its ejection ran out and a health probe passed, Alice's calls went back to it",
        )?;
        servers.insert(sticky, revived);
    }

    step("Alice's app restarts: same device, same consent");
    let alice_id = devices[0].sdk.device_id();
    let alice_before = devices[0].sdk.consent().state()?;
    devices[0].sdk.shutdown().await;
    devices[0].sdk = open(&endpoints, &devices[0].dir)?;
    check(
        devices[0].sdk.device_id() == alice_id,
        "the device id survived the restart",
    )?;
    check(
        devices[0].sdk.consent().state()? == alice_before,
        "the consent survived the restart",
    )?;

    if let Some(server) = servers.first() {
        step("Alice's phone syncs the signed manifest and serves as an edge node");
        let plane = server.control_plane().clone();
        if edgepoints_mock_server::origin::manifest(&plane).await?.items.is_empty() {
            edgepoints_mock_server::origin::seed_demo(&plane).await?;
        }
        let alice = &devices[0].sdk;
        let report = alice.node().sync().await?;
        say(format!(
            "alice-phone   manifest v{}: fetched {} items ({} bytes), {} left out by the budget",
            report.manifest_version, report.fetched, report.bytes_fetched, report.over_budget
        ));
        check(
            report.fetched > 0 && report.failed.is_empty(),
            "every item fetched from the origin matched its hash",
        )?;
        let node = alice.node().start("127.0.0.1:0".parse()?).await?;
        say(format!(
            "alice-phone   serving on http://{}",
            node.local_addr().expect("serving")
        ));
        let item = edgepoints_mock_server::origin::manifest(&plane).await?.items[0].clone();
        let url = format!("http://{}/content/{}", node.local_addr().expect("serving"), item.hash);
        let client = edgepoints_core::transport::http_client()?;
        let anonymous = client.get(&url).send().await?.status();
        let ticket = edgepoints_protocol::AccessTicket {
            node_id: edgepoints_protocol::DeviceId::parse(&alice.device_id())?,
            consumer_id: edgepoints_protocol::DeviceId::parse(&devices[1].sdk.device_id())?,
            content: item.hash,
            expires_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64
                + 60_000,
        }
        .sign(plane.key.key_id(), plane.key.signing_key());
        let served = client
            .get(&url)
            .header(edgepoints_protocol::TICKET_HEADER, &ticket)
            .send()
            .await?;
        let status = served.status();
        let body = served.bytes().await?;
        say(format!(
            "a routed user: {} without a ticket, {} with one ({} bytes)",
            anonymous.as_u16(),
            status.as_u16(),
            body.len()
        ));
        check(
            anonymous == 401 && status == 200 && edgepoints_core::ContentHash::of(&body) == item.hash,
            "only ticket holders are served, and the bytes match the hash",
        )?;
        alice.set_network(NetworkKind::Cellular)?;
        // A new consumer (new connection): connections open at the pause
        // were cut, which a consumer sees as an error, not a status.
        let paused = edgepoints_core::transport::http_client()?
            .get(&url)
            .header(edgepoints_protocol::TICKET_HEADER, &ticket)
            .send()
            .await?
            .status();
        alice.set_network(NetworkKind::Wifi)?;
        check(
            paused == 503,
            "on cellular (outside Alice's policy) the node pauses at once",
        )?;
        let stats = node.stats();
        say(format!(
            "node stats: {} requests, {} bytes served, refused {:?}",
            stats.requests, stats.bytes_served, stats.rejected
        ));

        step("Carol's tablet serves too; each node's address is probed before it is routed to");
        let carol = &devices[2].sdk;
        carol.consent().grant("2026-11", ConsentPolicy::default()).await?;
        carol.set_network(NetworkKind::Wifi)?;
        carol.set_battery(70, true)?;
        carol.set_location(Some(PARIS))?;
        let synced = carol.node().sync().await?;
        let carol_node = carol.node().start("127.0.0.1:0".parse()?).await?;
        say(format!(
            "carol-tablet  synced {} items, serving on http://{} (Paris)",
            synced.fetched + synced.already_cached,
            carol_node.local_addr().expect("serving")
        ));
        // Alice's host shares her location after Carol started, so hers is
        // the freshest announcement: only distance puts Carol first below.
        alice.set_location(Some(LYON))?;
        alice.outbox().drain(Duration::from_secs(5)).await?;
        carol.outbox().drain(Duration::from_secs(5)).await?;
        for (name, handle) in [("alice-phone", &node), ("carol-tablet", &carol_node)] {
            say(format!(
                "{name:<13} reported {}, reachable as probed: {:?}",
                handle.local_addr().expect("serving"),
                handle.reachable_addresses()
            ));
        }
        let nodes = admin.state().await?.nodes;
        let probed = nodes
            .iter()
            .filter(|n| n.url.is_some() && !n.reachable.is_empty())
            .count();
        check(
            probed == 2 && !node.reachable_addresses().is_empty() && !carol_node.reachable_addresses().is_empty(),
            "the control plane reached both nodes at the addresses they reported (a nonce each signed), and they know it",
        )?;

        step("Bob's phone, in Paris, is routed to the nearest node; it signs a receipt for what it verified");
        let bob = &devices[1].sdk;
        bob.set_location(Some(PARIS_EAST))?;
        let wanted = edgepoints_mock_server::origin::manifest(&plane)
            .await?
            .items
            .into_iter()
            .find(|item| item.size == 4 << 20)
            .ok_or("the demo catalogue has a 4 MiB item")?;
        let report = bob.fetch(wanted.hash).await?;
        for attempt in &report.attempts {
            say(format!("bob-phone     tried {}: {:?}", attempt.source, attempt.outcome));
        }
        let from_peer = match &report.source {
            edgepoints_core::FetchSource::Node { node_id, .. } => Some(node_id.clone()),
            _ => None,
        };
        say(format!(
            "bob-phone     {:.0} km from Carol, {:.0} km from Alice",
            km(PARIS_EAST, PARIS),
            km(PARIS_EAST, LYON)
        ));
        check(
            from_peer.as_deref() == Some(carol.device_id().as_str())
                && bob.content().read(&wanted.hash).await?.map(|b| b.len() as u64) == Some(wanted.size),
            "Bob got the item from Carol's tablet, the nearest node, verified",
        )?;
        check(
            carol_node.stats().bytes_served == wanted.size,
            "Carol's node counted the bytes it delivered",
        )?;
        bob.outbox().drain(Duration::from_secs(5)).await?;
        let receipts = admin.applied("receipts").await?;
        check(
            report.receipt_queued && receipts == 1,
            "Bob's receipt (his signature over Carol's signed delivery statement and the ticket) was taken",
        )?;
        let fresh = edgepoints_mock_server::origin::publish(&plane, vec![7u8; 123_456].into(), 1).await?;
        let report = bob.fetch(fresh.hash).await?;
        say(format!(
            "bob-phone     a new item, held by no phone yet: from {}",
            report.source
        ));
        check(
            matches!(report.source, edgepoints_core::FetchSource::Origin { .. }),
            "an item no node holds comes from the origin",
        )?;

        step("The origin serves a corrupted copy once: refused, reported, then fetched intact");
        let another = edgepoints_mock_server::origin::publish(&plane, vec![9u8; 65_536].into(), 1).await?;
        admin
            .add_fault(&json!({"route": routes::ORIGIN, "action": "tamper", "count": 1}))
            .await?;
        match bob.fetch(another.hash).await {
            Err(edgepoints_core::Error::ContentRejected { reason, .. }) => say(format!("refused: {reason}")),
            other => return Err(format!("expected a refusal of the corrupted copy, got {other:?}").into()),
        }
        check(
            !bob.content().contains(&another.hash)?,
            "nothing of the corrupted copy was kept",
        )?;
        bob.outbox().drain(Duration::from_secs(5)).await?;
        let reports = admin.state().await?.hash_failures.len();
        check(reports == 1, "the hash failure is on record at the control plane")?;
        let report = bob.fetch(another.hash).await?;
        check(
            matches!(report.source, edgepoints_core::FetchSource::Origin { .. }),
            "the next fetch got the intact copy",
        )?;

        step("Carol's tablet heartbeats for five minutes (the mock's clock moves) and earns points");
        let rules = edgepoints_mock_server::points::rules(&plane).await?;
        let start = carol_node.heartbeat_now().await?;
        say(format!(
            "carol-tablet  the next heartbeat's answer brings {} points for the {} bytes Bob received",
            start.delivery_points, wanted.size
        ));
        let delivered_mb = wanted.size / 1_000_000;
        check(
            start.delivery_points == delivered_mb * rules.points_per_delivered_mb,
            &format!("{delivered_mb} full MB delivered earned exactly the configured points"),
        )?;
        let mut credited = start.delivery_points;
        for _ in 0..10 {
            edgepoints_mock_server::points::advance_clock(&plane, rules.heartbeat_interval_ms).await?;
            credited += carol_node.heartbeat_now().await?.credited_points;
        }
        let balance = carol.points().balance().await?;
        let ledger = carol.points().ledger(0).await?;
        say(format!(
            "carol-tablet  heartbeats {}..{}, {} points credited, balance {}, {} s online",
            start.seq,
            start.seq + 10,
            credited,
            balance.balance,
            balance.online_ms / 1000
        ));
        for entry in &ledger.entries {
            say(format!("ledger #{}: +{} ({})", entry.id, entry.points, entry.detail));
        }
        let minutes = 10 * rules.heartbeat_interval_ms / 60_000;
        check(
            balance.balance == minutes * rules.points_per_online_minute + start.delivery_points
                && credited == balance.balance,
            &format!("{minutes} minutes of heartbeats earned exactly the configured points, on top of the delivery"),
        )?;
        carol_node.stop().await;
        node.stop().await;
    }

    step("Summary");
    let state = admin.state().await?;
    println!(
        "   {:<13} {:<37} {:<10} {:<9} {:<9} network",
        "device", "id", "consent", "revision", "server"
    );
    let mut agree = true;
    for d in &devices {
        let consent = d.sdk.consent().state()?;
        let id = d.sdk.device_id();
        let server_revision = state
            .devices
            .iter()
            .find(|x| x.device_id.as_str() == id)
            .and_then(|x| x.consent.as_ref())
            .map_or(0, |c| c.revision);
        agree &= server_revision == consent.revision;
        let status = match consent.status {
            edgepoints_core::ConsentStatus::NotAsked => "not asked",
            edgepoints_core::ConsentStatus::Granted { .. } => "granted",
            edgepoints_core::ConsentStatus::Revoked { .. } => "revoked",
        };
        println!(
            "   {:<13} {:<37} {:<10} {:<9} {:<9} {:?}",
            d.name,
            id,
            status,
            consent.revision,
            server_revision,
            d.sdk.host_state()?.network
        );
    }
    say(format!(
        "control plane applied {} registrations and {} consent reports",
        applied(&state, "registrations"),
        applied(&state, "consent_reports")
    ));
    check(agree, "every device's consent revision matches the control plane's")?;
    let reported: u64 = devices
        .iter()
        .map(|d| d.sdk.consent().state().map(|s| s.revision))
        .sum::<Result<u64, _>>()?;
    if embedded {
        check(
            applied(&state, "registrations") == 3
                && applied(&state, "consent_reports") == reported as i64
                && state.executions.duplicates.is_empty(),
            &format!("3 registrations and {reported} consent decisions applied, each exactly once"),
        )?;
    }
    for d in &devices {
        d.sdk.shutdown().await;
    }
    for server in servers {
        server.shutdown().await;
    }
    println!("\ntour finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Registrations applied, asked of an instance that is up.
async fn admin_registrations(servers: &[MockServer], fallback: &AdminClient) -> CliResult<i64> {
    let state = match servers.first() {
        Some(server) => admin_client(&server.url())?.state().await?,
        None => fallback.state().await?,
    };
    Ok(applied(&state, "registrations"))
}

/// How often changes of kind `what` were applied, in a state dump.
fn applied(state: &edgepoints_mock_server::state::StateDump, what: &str) -> i64 {
    state.applied.get(what).copied().unwrap_or(0)
}
