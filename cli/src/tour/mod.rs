//! `edgepoints tour`: the main job. Starts the mock control plane (unless one
//! is given), opens several SDK instances on their own data directories, and
//! walks them through every flow that exists, checking each outcome against
//! the control plane's own state. Exits non-zero if anything disagrees.
//!
//! [`run`] reads as the table of contents: each step is a method of
//! [`Tour`], in `calls.rs` (registration, consent, reliable calls, failover),
//! `edge.rs` (the edge network, routing, receipts, points), `coupons.rs`
//! (activities, review, sharing, the till), `members.rs` (accounts,
//! sessions, notices), `rental.rs` (cars, credentials, the billing queue)
//! and `loyalty.rs` (spending points, rewards, funnels). A new flow adds
//! its steps as methods in a file of its own.

mod calls;
mod coupons;
mod edge;
mod loyalty;
mod members;
mod narrative;
mod rental;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use edgepoints_core::{Config, EdgePoints, OutlierPolicy, RetryPolicy};
use edgepoints_mock_server::state::StateDump;
use edgepoints_mock_server::{ControlPlane, MockServer};

use self::narrative::{check, say, step};
use crate::admin::{admin_client, AdminClient};
use crate::CliResult;

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

pub(crate) async fn run(args: TourArgs) -> CliResult {
    let mut tour = Tour::start(args).await?;
    tour.three_phones_register().await?;
    tour.phones_report_their_state()?;
    tour.alice_and_bob_consent().await?;
    tour.a_bad_policy_is_refused().await?;
    tour.consent_survives_two_failures().await?;
    tour.a_revocation_waits_for_the_control_plane().await?;
    tour.a_lost_answer_is_applied_once().await?;
    tour.calls_fail_over_and_come_back().await?;
    tour.alice_restarts().await?;
    if let Some(plane) = tour.embedded_plane() {
        let alice_node = tour.alice_serves(&plane).await?;
        let carol_node = tour.carol_serves_and_both_are_probed(&alice_node).await?;
        let delivered = tour.bob_fetches_from_the_nearest_node(&plane, &carol_node).await?;
        tour.a_corrupted_copy_is_refused_and_reported(&plane).await?;
        tour.carol_earns_points(&plane, &carol_node, delivered).await?;
        carol_node.stop().await;
        alice_node.stop().await;
    }
    let till = tour.the_bakery_enrols_its_till().await?;
    let activity = tour.an_activity_is_rejected_fixed_and_published(&till).await?;
    let shown = tour.bob_claims_through_alices_share(&activity).await?;
    tour.the_till_checks_offline_and_redeems_once(&till, &shown).await?;
    tour.two_offline_tills_redeem_one_coupon(&till, &activity).await?;
    tour.bob_signs_up_and_logs_in_on_two_devices().await?;
    tour.bobs_instance_dies_and_his_session_goes_on().await?;
    tour.a_notice_reaches_bob_once().await?;
    tour.bob_logs_out_and_his_other_session_expires().await?;
    let rental = tour.alice_reserves_a_car_and_bob_is_refused().await?;
    tour.the_car_opens_for_alice_and_refuses_a_replay(&rental).await?;
    tour.alices_instance_dies_mid_rental(&rental).await?;
    tour.alice_returns_the_car_at_the_harbour(&rental).await?;
    if tour.embedded_plane().is_some() {
        let croissant = tour.alice_buys_a_coupon_with_earned_points(&till).await?;
        tour.alice_rents_again_for_less_with_a_points_reward().await?;
        tour.the_bakery_reads_its_funnels(&till, &activity, &croissant).await?;
    }
    till.shutdown().await;
    tour.summary().await
}

/// Devices the tour registers: three phones, the bakery's three tills, and
/// the phone that tries a till's spent enrolment code.
const EXPECTED_REGISTRATIONS: i64 = 7;

/// A device in the tour: a name for the narrative and its SDK instance.
pub(super) struct Device {
    name: &'static str,
    dir: PathBuf,
    sdk: EdgePoints,
}

/// The tour's cast and stage: the control plane's instances, its admin API,
/// and three phones.
pub(super) struct Tour {
    started: Instant,
    /// Whether the tour started the mock itself (it then checks exact counts).
    embedded: bool,
    servers: Vec<MockServer>,
    endpoints: Vec<url::Url>,
    admin: AdminClient,
    /// Where the devices keep their data.
    root: PathBuf,
    alice: Device,
    bob: Device,
    carol: Device,
    /// The devices' data, when no root was given; removed at the end.
    _temp: tempfile::TempDir,
}

impl Tour {
    /// Starts (or finds) the control plane and opens the three phones.
    async fn start(args: TourArgs) -> CliResult<Tour> {
        let started = Instant::now();
        // Embedded: three mock instances over one shared state, as a load
        // balancer would see three app servers.
        let embedded = args.control_plane.is_empty();
        let mut servers = Vec::new();
        let endpoints: Vec<url::Url> = if embedded {
            let control_plane = Arc::new(ControlPlane::in_memory(None).await);
            servers = MockServer::start_cluster(3, control_plane.clone()).await?;
            edgepoints_mock_server::rental::catalogue::seed_demo(&control_plane).await?;
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
        let device = |name: &'static str| -> CliResult<Device> {
            let dir = root.join(name);
            Ok(Device {
                name,
                sdk: open(&endpoints, &dir)?,
                dir,
            })
        };
        Ok(Tour {
            started,
            embedded,
            alice: device("alice-phone")?,
            bob: device("bob-phone")?,
            carol: device("carol-tablet")?,
            servers,
            endpoints,
            admin,
            root,
            _temp: temp,
        })
    }

    fn devices(&self) -> [&Device; 3] {
        [&self.alice, &self.bob, &self.carol]
    }

    /// The embedded control plane, for the steps that publish content and
    /// move the clock; none against a remote one.
    fn embedded_plane(&self) -> Option<Arc<ControlPlane>> {
        self.servers.first().map(|s| s.control_plane().clone())
    }

    /// The admin API of an instance that is up (the first may have been
    /// stopped by a failover step).
    fn live_admin(&self) -> CliResult<AdminClient> {
        match self.servers.first() {
            Some(server) => admin_client(&server.url()),
            None => Ok(self.admin.clone()),
        }
    }

    /// Every device's consent against the control plane's; exact counts
    /// when the tour runs its own mock.
    async fn summary(self) -> CliResult {
        step("Summary");
        let state = self.admin.state().await?;
        println!(
            "   {:<13} {:<37} {:<10} {:<9} {:<9} network",
            "device", "id", "consent", "revision", "server"
        );
        let mut agree = true;
        for d in self.devices() {
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
        let reported: u64 = self
            .devices()
            .iter()
            .map(|d| d.sdk.consent().state().map(|s| s.revision))
            .sum::<Result<u64, _>>()?;
        if self.embedded {
            check(
                applied(&state, "registrations") == EXPECTED_REGISTRATIONS
                    && applied(&state, "consent_reports") == reported as i64
                    && state.executions.duplicates.is_empty(),
                &format!(
                    "{EXPECTED_REGISTRATIONS} registrations (three phones, three tills, a stray phone) and {reported} consent decisions applied, each exactly once"
                ),
            )?;
        }
        for d in self.devices() {
            d.sdk.shutdown().await;
        }
        for server in self.servers {
            server.shutdown().await;
        }
        println!("\ntour finished in {:.1} s", self.started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// Opens an SDK instance as the tour's phones do: quick retries, and short
/// ejections so the tour can show an endpoint coming back.
fn open(endpoints: &[url::Url], dir: &Path) -> CliResult<EdgePoints> {
    open_with(endpoints, dir, None)
}

/// [`open`] with an event listener.
fn open_with(
    endpoints: &[url::Url],
    dir: &Path,
    listener: Option<Arc<dyn edgepoints_core::EventListener>>,
) -> CliResult<EdgePoints> {
    Ok(EdgePoints::open(quick_config(endpoints, dir, "tour"), listener)?)
}

/// The SDK set up as the tour's and the swarm's devices are: quick retries
/// and short ejections, so a fault costs them seconds, not minutes.
pub(crate) fn quick_config(endpoints: &[url::Url], dir: &Path, platform: &str) -> Config {
    let mut config = Config::new(endpoints.to_vec(), dir);
    config.platform = platform.into();
    config.app_version = env!("CARGO_PKG_VERSION").into();
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    config.outlier = OutlierPolicy {
        consecutive_failures: 1,
        base_ejection: Duration::from_millis(500),
        ..OutlierPolicy::default()
    };
    config
}

/// How often changes of kind `what` were applied, in a state dump.
fn applied(state: &StateDump, what: &str) -> i64 {
    state.applied.get(what).copied().unwrap_or(0)
}
