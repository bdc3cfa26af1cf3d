//! The swarm under faults: while the users fetch, every API route answers
//! 503 at random and loses answers after committing at random, and one
//! control-plane instance is stopped and started again. Meanwhile other
//! flows go on through the same broken network: customers claim coupons a
//! till redeems, and a driver rents and returns cars (each return billed
//! and texted on the queue). Afterwards each of them must have been
//! applied exactly once.

use std::path::Path;
use std::time::Duration;

use edgepoints_core::{ActivityDraft, ActivityState, EdgePoints, Error, RentalPhase, TemplateKind};
use edgepoints_protocol::rental::VehicleState;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::json;

use super::audit::Audit;
use super::phones;
use super::plane::Plane;
use crate::admin::AdminClient;
use crate::vehicle_link::HttpVehicleLink;
use crate::CliResult;

const CUSTOMERS: usize = 6;
const RENTALS: usize = 3;
const DRIVER_PASSWORD: &str = "swarm-driver-password";
/// How often one step is tried through the faults before the run gives up.
const STEP_TRIES: usize = 60;

pub(super) struct Chaos {
    till: EdgePoints,
    customers: Vec<EdgePoints>,
    driver: EdgePoints,
    activity_id: String,
    seed: u64,
}

/// What the faults did and what went on meanwhile.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ChaosReport {
    pub(super) fault_rules: Vec<serde_json::Value>,
    /// The instance stopped and started again.
    pub(super) restarted_instance: Option<String>,
    /// Coupons claimed, and redeemed by the till (each once).
    pub(super) serials: Vec<String>,
    /// Rentals the driver ended.
    pub(super) rentals: Vec<String>,
    /// Calls that failed through the faults and were tried again.
    pub(super) retried_steps: usize,
    /// Faults that struck, by the control plane's metrics.
    pub(super) faults_fired: u64,
}

impl ChaosReport {
    pub(super) fn describe(&self) -> String {
        format!(
            "{} rules fired {} times, instance {} stopped and restarted, {} coupons redeemed and {} cars returned meanwhile ({} steps retried)",
            self.fault_rules.len(),
            self.faults_fired,
            self.restarted_instance.as_deref().unwrap_or("none"),
            self.serials.len(),
            self.rentals.len(),
            self.retried_steps
        )
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn offer() -> ActivityDraft {
    ActivityDraft {
        template: TemplateKind::PercentOff,
        title: "10% off a coffee".into(),
        description: "For the swarm's users".into(),
        shop: "Main".into(),
        staff: vec![],
        featured_items: vec!["coffee".into()],
        pictures: vec![],
        percent_off: Some(10),
        amount_off_cents: None,
        gift: None,
        min_spend_cents: 0,
        valid_from_s: now_s() - 60,
        valid_until_s: now_s() + 86_400,
        total_limit: 1000,
        per_customer_limit: 1,
        points_price: None,
    }
}

impl Chaos {
    /// Before the faults: a till enrolled with a live activity, customers
    /// registered, and a driver logged in with a link to the cars.
    pub(super) async fn prepare(plane: &Plane, admin: &AdminClient, root: &Path, seed: u64) -> CliResult<Chaos> {
        let endpoints = plane.endpoints();
        plane.ensure_cars().await?;
        let created = admin.create_merchant("Swarm Coffee", &["Main"]).await?;
        let till = phones::open(endpoints, &root.join("till"), 1 << 20)?;
        till.merchant().enrol(&created.enrolment_code).await?;
        let written = till.merchant().write_activity(None, offer()).await?;
        let live = till.merchant().submit(&written.activity_id).await?;
        if live.state != ActivityState::Live {
            return Err(format!("the swarm's activity was not published: {:?}", live.findings).into());
        }
        let mut customers = Vec::with_capacity(CUSTOMERS);
        for n in 0..CUSTOMERS {
            let customer = phones::open(endpoints, &root.join(format!("customer-{n}")), 1 << 20)?;
            customer.register().await?;
            customers.push(customer);
        }
        let driver = phones::open(endpoints, &root.join("driver"), 1 << 20)?;
        driver.rental().set_vehicle_link(Some(HttpVehicleLink::shared()?));
        let member = format!("swarm-driver-{seed}@example.org");
        match driver.members().sign_up(&member, DRIVER_PASSWORD).await {
            Ok(_) | Err(Error::MemberTaken) => {}
            Err(other) => return Err(other.into()),
        }
        driver.members().login(&member, DRIVER_PASSWORD).await?;
        Ok(Chaos {
            till,
            customers,
            driver,
            activity_id: live.activity_id,
            seed,
        })
    }

    /// Turns the faults on and runs the other flows through them; stops the
    /// last instance when the users are a third of the way and starts it
    /// again at half way. The faults stay on until the caller resets them.
    pub(super) async fn run(&self, plane: &Plane, admin: &AdminClient, users: ProgressBar) -> CliResult<ChaosReport> {
        let rules = vec![
            json!({"action": "fail", "status": 503, "probability": 0.05, "seed": self.seed}),
            json!({"action": "drop_after_commit", "probability": 0.03, "seed": self.seed + 1}),
        ];
        for rule in &rules {
            admin.add_fault(rule).await?;
        }
        let outage = async {
            let total = users.length().unwrap_or(1);
            wait_for(&users, total / 3).await;
            if !plane.can_restart() {
                return CliResult::Ok(None);
            }
            let stopped = plane.stop_last().await;
            wait_for(&users, total / 2).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            plane.restart_last().await?;
            Ok(stopped.map(|a| a.to_string()))
        };
        let (restarted, coupons, rentals) = tokio::join!(outage, self.coupons(), self.rentals(admin));
        let (serials, coupon_retries) = coupons?;
        let (rentals, rental_retries) = rentals?;
        let faults_fired = admin
            .metrics()
            .await?
            .lines()
            .filter(|line| line.starts_with("edgepoints_mock_faults_fired_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
        Ok(ChaosReport {
            faults_fired,
            fault_rules: rules,
            restarted_instance: restarted?,
            serials,
            rentals,
            retried_steps: coupon_retries + rental_retries,
        })
    }

    /// Each customer claims a coupon and the till redeems it. A call that
    /// fails through the faults stays in its outbox; draining it finishes
    /// the call (with the same idempotency key), never repeats it.
    async fn coupons(&self) -> CliResult<(Vec<String>, usize)> {
        let mut serials = Vec::new();
        let mut retries = 0;
        for (n, customer) in self.customers.iter().enumerate() {
            if customer.coupons().claim(&self.activity_id, None).await.is_err() {
                retries += 1;
            }
            let held = until_held(customer, &mut retries).await?;
            let shown = customer.coupons().present(&held)?;
            if self
                .till
                .merchant()
                .redeem(&shown.text, &format!("swarm order {n}"))
                .await
                .is_err()
            {
                // Queued: the till's outbox redeems it once the network lets it.
                retries += 1;
            }
            serials.push(held);
        }
        Ok((serials, retries))
    }

    /// The driver rents a car and returns it, `RENTALS` times. Each step
    /// that fails is picked up from the phase the SDK (reconciled with the
    /// control plane) says the rental is in.
    async fn rentals(&self, admin: &AdminClient) -> CliResult<(Vec<String>, usize)> {
        let rental = self.driver.rental();
        let mut ended = Vec::new();
        let mut retries = 0;
        for _ in 0..RENTALS {
            let mut rental_id: Option<String> = None;
            let mut tries = 0;
            let mut last_error = String::new();
            loop {
                tries += 1;
                if tries > STEP_TRIES {
                    return Err(format!("a rental step kept failing through the faults: {last_error}").into());
                }
                let status = match rental.reconcile().await {
                    Ok(status) => status,
                    Err(_) => rental.status()?,
                };
                let current = status.rental.as_ref().map(|r| r.rental_id.clone());
                let outcome = match status.phase {
                    RentalPhase::Closed if rental_id.is_some() && current == rental_id => break,
                    RentalPhase::Idle | RentalPhase::Closed | RentalPhase::Cancelled | RentalPhase::Expired => {
                        let car = admin
                            .vehicles()
                            .await?
                            .into_iter()
                            .find(|v| {
                                v.state == VehicleState::Available && v.station_id.is_some() && v.battery_percent > 30
                            })
                            .ok_or("no car is free")?;
                        rental.reserve(&car.vehicle_id).await.map(|s| {
                            rental_id = s.rental.map(|r| r.rental_id);
                        })
                    }
                    RentalPhase::Reserved | RentalPhase::Starting => {
                        rental_id = rental_id.or(current);
                        rental.start().await.map(|_| ())
                    }
                    RentalPhase::Running | RentalPhase::Ending => {
                        rental_id = rental_id.or(current);
                        rental.end().await.map(|_| ())
                    }
                };
                if let Err(error) = outcome {
                    last_error = format!("{:?}: {error}", status.phase);
                    retries += 1;
                    let _ = self.driver.outbox().drain(Duration::from_secs(2)).await;
                }
            }
            ended.push(rental_id.ok_or("a rental ended without an id")?);
        }
        Ok((ended, retries))
    }

    /// Everything the flows sent was applied once: each coupon redeemed
    /// once, each return billed and texted once.
    pub(super) async fn audit(&self, admin: &AdminClient, report: &ChaosReport, audit: &mut Audit) -> CliResult {
        for sdk in self.customers.iter().chain([&self.till, &self.driver]) {
            sdk.outbox().drain(Duration::from_secs(60)).await?;
        }
        let activity = admin
            .activities()
            .await?
            .into_iter()
            .find(|a| a.activity.activity_id == self.activity_id)
            .ok_or("the swarm's activity is gone")?;
        audit.tally(
            report.serials.len() as u64,
            u64::from(activity.activity_redeemed),
            "coupon redemptions",
        );
        let once = report.serials.iter().all(|serial| {
            activity
                .coupons
                .get(serial)
                .is_some_and(|c| c.redeemed() && c.redemptions == 1)
        });
        audit.check(once, "every claimed coupon redeemed exactly once");

        // The workers bill and text from the queue: give them a moment.
        let mut queues = admin.queues().await?;
        for _ in 0..100 {
            let billed = |id: &String| queues.bills.iter().any(|b| &b.rental_id == id);
            let texted = |id: &String| queues.sms.iter().any(|m| &m.rental_id == id);
            if report.rentals.iter().all(|id| billed(id) && texted(id)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            queues = admin.queues().await?;
        }
        let count = |ids: Vec<&String>| {
            report
                .rentals
                .iter()
                .map(|r| ids.iter().filter(|id| **id == r).count() as u64)
                .sum::<u64>()
        };
        let bills = count(queues.bills.iter().map(|b| &b.rental_id).collect());
        let texts = count(queues.sms.iter().map(|m| &m.rental_id).collect());
        audit.tally(report.rentals.len() as u64, bills, "rental returns billed");
        audit.tally(report.rentals.len() as u64, texts, "rental returns texted");
        Ok(())
    }

    pub(super) async fn shutdown(self) {
        for sdk in self.customers.into_iter().chain([self.till, self.driver]) {
            sdk.shutdown().await;
        }
    }
}

/// Waits until the users made `fetches` fetches.
async fn wait_for(users: &ProgressBar, fetches: u64) {
    while users.position() < fetches && !users.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The serial of the coupon `customer` holds, once its claim went through.
async fn until_held(customer: &EdgePoints, retries: &mut usize) -> CliResult<String> {
    for _ in 0..STEP_TRIES {
        if let Some(held) = customer.coupons().held()?.into_iter().next() {
            return Ok(held.serial);
        }
        *retries += 1;
        let _ = customer.outbox().drain(Duration::from_secs(2)).await;
    }
    Err("a claim never went through".into())
}
