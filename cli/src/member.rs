//! `edgepoints member`: members for QA — sign up, log in and out, check the
//! session and read notices as a device does; list and expire sessions,
//! post notices and set timeouts on a mock control plane.

use clap::{Args, Subcommand};
use edgepoints_core::{MemberNotice, MemberState};
use edgepoints_protocol::SessionTimeouts;

use crate::admin::admin_client;
use crate::device::{with_sdk, SdkOptions};
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct MemberArgs {
    #[command(subcommand)]
    action: MemberAction,
}

#[derive(Debug, Subcommand)]
enum MemberAction {
    /// Create an account (does not log in).
    SignUp {
        #[command(flatten)]
        sdk: SdkOptions,
        member: String,
        #[arg(long, env = "EDGEPOINTS_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Log in on the device; the session is kept in its data directory.
    Login {
        #[command(flatten)]
        sdk: SdkOptions,
        member: String,
        #[arg(long, env = "EDGEPOINTS_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Log out (the control plane hears it through the outbox).
    Logout {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// The device's member state, and the session as the control plane sees it.
    Status {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Send a member heartbeat and print the notices it brought.
    Heartbeat {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// The notices stored on the device, newest first.
    Notices {
        #[command(flatten)]
        sdk: SdkOptions,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Close the account and end all its sessions.
    Close {
        #[command(flatten)]
        sdk: SdkOptions,
        #[arg(long, env = "EDGEPOINTS_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// QA: every open session on the mock.
    Sessions {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
    /// QA: end a session as an expiry would.
    Expire {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        session_key: String,
    },
    /// QA: post a notice to a member.
    Notify {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        member_id: String,
        text: String,
        #[arg(long, default_value = "message")]
        kind: String,
    },
    /// QA: set the session timeouts and the heartbeat interval.
    Timeouts {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        #[arg(long)]
        idle_ms: u64,
        #[arg(long)]
        absolute_ms: u64,
        #[arg(long)]
        heartbeat_ms: u64,
    },
}

pub(crate) async fn run(args: MemberArgs) -> CliResult {
    match args.action {
        MemberAction::SignUp { sdk, member, password } => {
            with_sdk(&sdk, |sdk| async move {
                let signed_up = sdk.members().sign_up(&member, &password).await?;
                println!("signed up {} as {}", signed_up.member, signed_up.member_id);
                Ok(())
            })
            .await
        }
        MemberAction::Login { sdk, member, password } => {
            with_sdk(&sdk, |sdk| async move {
                let session = sdk.members().login(&member, &password).await?;
                println!(
                    "logged in {} ({}), idle expiry at {} ms",
                    session.member, session.member_id, session.idle_expires_at_ms
                );
                Ok(())
            })
            .await
        }
        MemberAction::Logout { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                sdk.members().logout()?;
                // The logout is in the outbox: send it before exiting.
                sdk.outbox().drain(std::time::Duration::from_secs(30)).await?;
                println!("logged out");
                Ok(())
            })
            .await
        }
        MemberAction::Status { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                match sdk.members().state()? {
                    MemberState::LoggedOut => println!("logged out"),
                    MemberState::Expired { member_id } => println!("session of {member_id} expired: log in again"),
                    MemberState::LoggedIn { .. } => {
                        let session = sdk.members().check_session().await?;
                        println!(
                            "logged in {} ({}), idle expiry at {} ms, absolute at {} ms",
                            session.member,
                            session.member_id,
                            session.idle_expires_at_ms,
                            session.absolute_expires_at_ms
                        );
                    }
                }
                Ok(())
            })
            .await
        }
        MemberAction::Heartbeat { sdk } => {
            let started_ms = unix_millis();
            with_sdk(&sdk, |sdk| async move {
                sdk.members().heartbeat_now().await?;
                // The resumed session beats once at open too: count what
                // either beat brought.
                let notices: Vec<MemberNotice> = sdk
                    .members()
                    .notices(1000)?
                    .into_iter()
                    .filter(|n| n.received_at_ms >= started_ms)
                    .collect();
                println!("heartbeat accepted, {} new notices", notices.len());
                notices.iter().rev().for_each(print_notice);
                Ok(())
            })
            .await
        }
        MemberAction::Notices { sdk, limit } => {
            with_sdk(&sdk, |sdk| async move {
                sdk.members().notices(limit)?.iter().for_each(print_notice);
                Ok(())
            })
            .await
        }
        MemberAction::Close { sdk, password } => {
            with_sdk(&sdk, |sdk| async move {
                sdk.members().close_account(&password).await?;
                println!("account closed");
                Ok(())
            })
            .await
        }
        MemberAction::Sessions { control_plane } => {
            for session in admin_client(control_plane.as_str())?.sessions().await? {
                println!(
                    "{}  {:<24} device {}  from {}  via {}  last access {} ms",
                    session.session_key,
                    session.member,
                    session.device_id,
                    session.seen_from,
                    session.endpoint.as_deref().unwrap_or("-"),
                    session.last_access_ms
                );
            }
            Ok(())
        }
        MemberAction::Expire {
            control_plane,
            session_key,
        } => {
            admin_client(control_plane.as_str())?
                .expire_session(&session_key)
                .await?;
            println!("session expired");
            Ok(())
        }
        MemberAction::Notify {
            control_plane,
            member_id,
            text,
            kind,
        } => {
            let notice = admin_client(control_plane.as_str())?
                .post_notice(&member_id, &kind, &text)
                .await?;
            println!("posted {}", notice.notice_id);
            Ok(())
        }
        MemberAction::Timeouts {
            control_plane,
            idle_ms,
            absolute_ms,
            heartbeat_ms,
        } => {
            admin_client(control_plane.as_str())?
                .set_session_timeouts(SessionTimeouts {
                    idle_ms,
                    absolute_ms,
                    heartbeat_interval_ms: heartbeat_ms,
                })
                .await?;
            println!("timeouts set");
            Ok(())
        }
    }
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn print_notice(notice: &MemberNotice) {
    println!(
        "  {}  {:<20} {}  (posted {} ms)",
        notice.notice_id, notice.kind, notice.text, notice.posted_at_ms
    );
}
