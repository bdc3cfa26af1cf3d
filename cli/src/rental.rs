//! `edgepoints rental`: cars for QA — find, reserve, start, unlock, lock and
//! end as a member's device does (the link to the mock's simulated cars is
//! HTTP); and on a mock control plane, the vehicles, rentals and queues,
//! a consumer made to die, and a car driven, its doors opened, a card
//! tapped.

use clap::{Args, Subcommand, ValueEnum};
use edgepoints_core::{CommandKind, CommandOutcome, EdgePoints, Location, RentalStatus};
use edgepoints_mock_server::rental::workers::CrashPoint;
use serde_json::json;

use crate::admin::admin_client;
use crate::device::{with_sdk, SdkOptions};
use crate::vehicle_link::HttpVehicleLink;
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct RentalArgs {
    #[command(subcommand)]
    action: RentalAction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Command {
    Unlock,
    Lock,
    Honk,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Crash {
    AfterRead,
    AfterWork,
}

#[derive(Debug, Subcommand)]
enum RentalAction {
    /// Available cars near a point, nearest first.
    Find {
        #[command(flatten)]
        sdk: SdkOptions,
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        #[arg(long, default_value_t = 5.0)]
        radius_km: f64,
    },
    /// Reserve a car for the logged-in member.
    Reserve {
        #[command(flatten)]
        sdk: SdkOptions,
        vehicle_id: String,
    },
    /// Cancel the reservation.
    Cancel {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Start the reserved rental and unlock the car.
    Start {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Send one command to the car.
    Command {
        #[command(flatten)]
        sdk: SdkOptions,
        #[arg(value_enum)]
        command: Command,
    },
    /// Lock and end the rental at a station.
    End {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// The rental as this device has it, reconciled with the control plane.
    Status {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Bind a member card to the account.
    BindCard {
        #[command(flatten)]
        sdk: SdkOptions,
        card_number: String,
    },
    /// Reserve a charging connector at a station for a window from now.
    Charge {
        #[command(flatten)]
        sdk: SdkOptions,
        station_id: String,
        #[arg(long)]
        connector: Option<String>,
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
    /// QA: every vehicle record on the mock.
    Vehicles {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
    /// QA: every rental on the mock, newest first.
    Rentals {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
    /// QA: the billing and SMS streams, their pending entries, what the
    /// workers did.
    Queues {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
    /// QA: the next consumer of a stream (`billing`, `sms`) dies.
    Crash {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        stream: String,
        #[arg(long, value_enum, default_value = "after-work")]
        at: Crash,
    },
    /// QA: drive a simulated car to a point.
    Drive {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        vehicle_id: String,
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        #[arg(long)]
        km: Option<f64>,
    },
    /// QA: open or close a simulated car's doors.
    Doors {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        vehicle_id: String,
        #[arg(long)]
        open: bool,
    },
    /// QA: tap a card at a simulated car's reader.
    Tap {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        vehicle_id: String,
        card_number: String,
    },
}

fn describe(status: &RentalStatus) -> String {
    let mut text = status.phase.as_str().to_owned();
    if let Some(rental) = &status.rental {
        text.push_str(&format!(" rental {} of {}", rental.rental_id, rental.vehicle_id));
        if let Some(fee) = &rental.fee {
            text.push_str(&format!(
                ", fee {}.{:02} {}",
                fee.total_cents / 100,
                fee.total_cents % 100,
                fee.currency
            ));
        }
    }
    if let Some(step) = &status.pending_step {
        text.push_str(&format!(", {step} on its way"));
    }
    if let Some(flight) = &status.command_in_flight {
        text.push_str(&format!(
            ", {} #{} awaiting the car",
            flight.command.as_str(),
            flight.counter
        ));
    }
    if let Some(refusal) = &status.last_refusal {
        text.push_str(&format!(", last refusal: {refusal}"));
    }
    text
}

fn describe_outcome(outcome: &CommandOutcome) -> String {
    format!(
        "{} #{}: {}{}; locked {}, doors {}, {} km, battery {}%",
        outcome.command.as_str(),
        outcome.counter,
        outcome
            .refusal
            .map_or("accepted".to_owned(), |r| format!("refused ({})", r.as_str())),
        if outcome.settled_by_status {
            " (asked the car)"
        } else {
            ""
        },
        outcome.reading.locked,
        if outcome.reading.doors_closed { "closed" } else { "open" },
        outcome.reading.odometer_m / 1000,
        outcome.reading.battery_percent
    )
}

/// Runs `action` on the device with the link to the mock's cars set.
async fn with_rental<F, Fut>(options: &SdkOptions, action: F) -> CliResult
where
    F: FnOnce(EdgePoints) -> Fut,
    Fut: std::future::Future<Output = CliResult>,
{
    with_sdk(options, |sdk| async move {
        sdk.rental().set_vehicle_link(Some(HttpVehicleLink::shared()?));
        action(sdk).await
    })
    .await
}

/// Where QA reaches a simulated car.
async fn car_link(control_plane: &url::Url, vehicle_id: &str) -> CliResult<String> {
    let vehicles = admin_client(control_plane.as_str())?.vehicles().await?;
    vehicles
        .into_iter()
        .find(|v| v.vehicle_id == vehicle_id)
        .and_then(|v| v.link)
        .ok_or_else(|| format!("no simulated car {vehicle_id} on this control plane").into())
}

pub(crate) async fn run(args: RentalArgs) -> CliResult {
    match args.action {
        RentalAction::Find {
            sdk,
            lat,
            lon,
            radius_km,
        } => {
            with_sdk(&sdk, |sdk| async move {
                let near = Location {
                    latitude: lat,
                    longitude: lon,
                };
                for v in sdk.rental().vehicles_near(near, radius_km).await? {
                    println!(
                        "{:<8} {:<10} {:<9} {:>5.2} km  battery {:>3}%  range {:>3} km  at {}",
                        v.vehicle_id,
                        v.plate,
                        v.model,
                        v.distance_km.unwrap_or_default(),
                        v.battery_percent,
                        v.range_km,
                        v.station_id.as_deref().unwrap_or("-")
                    );
                }
                Ok(())
            })
            .await
        }
        RentalAction::Reserve { sdk, vehicle_id } => {
            with_rental(&sdk, |sdk| async move {
                println!("{}", describe(&sdk.rental().reserve(&vehicle_id).await?));
                Ok(())
            })
            .await
        }
        RentalAction::Cancel { sdk } => {
            with_rental(&sdk, |sdk| async move {
                println!("{}", describe(&sdk.rental().cancel().await?));
                Ok(())
            })
            .await
        }
        RentalAction::Start { sdk } => {
            with_rental(&sdk, |sdk| async move {
                println!("{}", describe(&sdk.rental().start().await?));
                Ok(())
            })
            .await
        }
        RentalAction::Command { sdk, command } => {
            with_rental(&sdk, |sdk| async move {
                let kind = match command {
                    Command::Unlock => CommandKind::Unlock,
                    Command::Lock => CommandKind::Lock,
                    Command::Honk => CommandKind::Honk,
                };
                println!("{}", describe_outcome(&sdk.rental().command(kind).await?));
                Ok(())
            })
            .await
        }
        RentalAction::End { sdk } => {
            with_rental(&sdk, |sdk| async move {
                println!("{}", describe(&sdk.rental().end().await?));
                Ok(())
            })
            .await
        }
        RentalAction::Status { sdk } => {
            with_rental(&sdk, |sdk| async move {
                println!("{}", describe(&sdk.rental().reconcile().await?));
                Ok(())
            })
            .await
        }
        RentalAction::BindCard { sdk, card_number } => {
            with_sdk(&sdk, |sdk| async move {
                let bound = sdk.rental().bind_card(&card_number).await?;
                println!("card …{} bound to {}", bound.card_hint, bound.member_id);
                Ok(())
            })
            .await
        }
        RentalAction::Charge {
            sdk,
            station_id,
            connector,
            minutes,
        } => {
            with_sdk(&sdk, |sdk| async move {
                let from = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let answer = sdk
                    .rental()
                    .reserve_charging(&station_id, connector, from, from + minutes * 60_000)
                    .await?;
                println!(
                    "{:?} at {} connector {}{}",
                    answer.status,
                    answer.station_id,
                    answer.connector_id.as_deref().unwrap_or("-"),
                    answer.reason.map(|r| format!(": {r}")).unwrap_or_default()
                );
                Ok(())
            })
            .await
        }
        RentalAction::Vehicles { control_plane } => {
            for v in admin_client(control_plane.as_str())?.vehicles().await? {
                println!(
                    "{:<8} {:<11} {:?} battery {}% at {} rental {} link {}",
                    v.vehicle_id,
                    v.plate,
                    v.state,
                    v.battery_percent,
                    v.station_id.as_deref().unwrap_or("-"),
                    v.rental_id.as_deref().unwrap_or("-"),
                    v.link.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        RentalAction::Rentals { control_plane } => {
            for r in admin_client(control_plane.as_str())?.rentals().await? {
                println!(
                    "{} {:<8} {:<9} member {} {} → {}{}",
                    r.rental_id,
                    r.vehicle_id,
                    r.state.as_str(),
                    r.member_id,
                    r.origin_station_id.as_deref().unwrap_or("-"),
                    r.end_station_id.as_deref().unwrap_or("-"),
                    r.fee.map(|f| format!(", {} cents", f.total_cents)).unwrap_or_default()
                );
            }
            Ok(())
        }
        RentalAction::Queues { control_plane } => {
            let view = admin_client(control_plane.as_str())?.queues().await?;
            for stream in &view.streams {
                println!(
                    "stream {} (group {}): {} messages, {} pending",
                    stream.stream,
                    stream.group,
                    stream.length,
                    stream.pending.len()
                );
                for p in &stream.pending {
                    println!(
                        "  pending {} with {} for {} ms, delivered {}×",
                        p.id, p.consumer, p.idle_ms, p.deliveries
                    );
                }
            }
            for bill in &view.bills {
                println!(
                    "bill {} for rental {}: {} cents, by {}",
                    bill.message_id, bill.rental_id, bill.fee.total_cents, bill.consumer
                );
            }
            for sms in &view.sms {
                println!(
                    "sms {} to {}: {} (by {})",
                    sms.message_id, sms.to, sms.text, sms.consumer
                );
            }
            Ok(())
        }
        RentalAction::Crash {
            control_plane,
            stream,
            at,
        } => {
            let at = match at {
                Crash::AfterRead => CrashPoint::AfterRead,
                Crash::AfterWork => CrashPoint::AfterWork,
            };
            admin_client(control_plane.as_str())?.crash_worker(&stream, at).await?;
            println!("the next {stream} consumer to take a message dies");
            Ok(())
        }
        RentalAction::Drive {
            control_plane,
            vehicle_id,
            lat,
            lon,
            km,
        } => {
            let link = car_link(&control_plane, &vehicle_id).await?;
            let body = json!({ "to": { "latitude": lat, "longitude": lon }, "km": km });
            let view = admin_client(control_plane.as_str())?.car(&link, "drive", &body).await?;
            println!("{view}");
            Ok(())
        }
        RentalAction::Doors {
            control_plane,
            vehicle_id,
            open,
        } => {
            let link = car_link(&control_plane, &vehicle_id).await?;
            let view = admin_client(control_plane.as_str())?
                .car(&link, "doors", &json!({ "closed": !open }))
                .await?;
            println!("{view}");
            Ok(())
        }
        RentalAction::Tap {
            control_plane,
            vehicle_id,
            card_number,
        } => {
            let link = car_link(&control_plane, &vehicle_id).await?;
            let tapped = admin_client(control_plane.as_str())?
                .car(&link, "card-tap", &json!({ "card_number": card_number }))
                .await?;
            println!("{tapped}");
            Ok(())
        }
    }
}
