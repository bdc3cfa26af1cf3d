//! An app that rents a car and stops at a phase: the process the rental
//! restart tests kill (SIGKILL) to show the SDK resumes a rental in the
//! phase it was in.
//!
//! `rental-app --endpoint URL --dir DIR --member NAME --password PW
//!  --vehicle ID --to PHASE [--link-fails]` logs in, drives the rental to
//! PHASE (`reserved`, `starting`, `running`, `ending`, `closed`,
//! `cancelled`), prints `phase PHASE`, and waits to be killed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Parser;
use edgepoints_core::{EdgePoints, RentalPhase, VehicleLink};
use edgepoints_tests::{config, HttpVehicleLink};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    dir: std::path::PathBuf,
    #[arg(long)]
    member: String,
    #[arg(long)]
    password: String,
    #[arg(long)]
    vehicle: String,
    #[arg(long)]
    to: String,
    /// The link to the car fails: a start stops in `starting` with its
    /// unlock in flight.
    #[arg(long)]
    link_fails: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let sdk = EdgePoints::open(config(&[args.endpoint], &args.dir), None).expect("the SDK opens");
    sdk.members().login(&args.member, &args.password).await.expect("login");
    let link = Arc::new(HttpVehicleLink::default());
    if args.link_fails {
        link.fail_next.store(u32::MAX, Ordering::Relaxed);
    }
    let rental = sdk.rental();
    rental.set_vehicle_link(Some(link as Arc<dyn VehicleLink>));
    rental.reserve(&args.vehicle).await.expect("reserve");
    let phase = match args.to.as_str() {
        "reserved" => RentalPhase::Reserved,
        "cancelled" => rental.cancel().await.expect("cancel").phase,
        "starting" => {
            let started = rental.start().await;
            assert!(started.is_err(), "the failing link cannot unlock: {started:?}");
            rental.status().unwrap().phase
        }
        "running" => rental.start().await.expect("start").phase,
        "ending" => {
            rental.start().await.expect("start");
            // The end route fails (the test's fault): the end waits in the outbox.
            let ended = rental.end().await;
            assert!(ended.is_err(), "the end cannot reach the control plane: {ended:?}");
            rental.status().unwrap().phase
        }
        "closed" => {
            rental.start().await.expect("start");
            rental.end().await.expect("end").phase
        }
        other => panic!("no phase {other}"),
    };
    println!("phase {}", phase.as_str());
    std::future::pending::<()>().await;
}
