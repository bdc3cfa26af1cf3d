//! `edgepoints points`: a device's (or its member's) points — the balance,
//! the ledger, the rewards catalogue, redeeming a reward and the grants —,
//! and for QA the catalogue and the balance check on a mock.

use clap::{Args, Subcommand};
use edgepoints_protocol::loyalty::{Reward, RewardKind};

use crate::admin::admin_client;
use crate::device::{with_sdk, SdkOptions};
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct PointsArgs {
    #[command(subcommand)]
    action: PointsAction,
}

#[derive(Debug, Subcommand)]
enum PointsAction {
    /// The balance: the member's when one is logged in, else the device's.
    Balance {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Every ledger entry, oldest first: credits, debits and refunds.
    Ledger {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// The rewards offered now.
    Rewards {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Redeem a reward for the logged-in member's points.
    Redeem {
        #[command(flatten)]
        sdk: SdkOptions,
        reward_id: String,
    },
    /// What the member's redeemed rewards gave them.
    Grants {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// QA: add a reward to the catalogue, or replace one.
    SetReward {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        points: u64,
        /// A rental credit of this many cents…
        #[arg(long, conflicts_with = "voucher")]
        rental_credit_cents: Option<u64>,
        /// …or a partner's voucher.
        #[arg(long)]
        voucher: Option<String>,
        /// Take it off the catalogue (kept, not offered).
        #[arg(long)]
        inactive: bool,
    },
    /// QA: every balance against its ledger, every bought coupon and grant
    /// against its debit; fails if the books do not hold.
    Check {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
}

pub(crate) async fn run(args: PointsArgs) -> CliResult {
    match args.action {
        PointsAction::Balance { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                let b = sdk.points().balance().await?;
                println!(
                    "{} points ({}), {} today of a cap of {}",
                    b.balance, b.owner, b.today, b.daily_cap
                );
                Ok(())
            })
            .await
        }
        PointsAction::Ledger { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                let mut after = 0;
                loop {
                    let page = sdk.points().ledger(after).await?;
                    for e in &page.entries {
                        println!("{:>5} {:>+7} {:?}  {}", e.id, e.points, e.reason, e.detail);
                    }
                    match page.next_after {
                        Some(next) => after = next,
                        None => return Ok(()),
                    }
                }
            })
            .await
        }
        PointsAction::Rewards { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                for r in sdk.points().rewards().await? {
                    println!("{:<20} {:>6} points  {}", r.reward_id, r.points, r.title);
                }
                Ok(())
            })
            .await
        }
        PointsAction::Redeem { sdk, reward_id } => {
            with_sdk(&sdk, |sdk| async move {
                let grant = sdk.points().redeem_reward(&reward_id).await?;
                println!(
                    "redeemed {} for {} points (grant {}{})",
                    grant.title,
                    grant.points,
                    grant.grant_id,
                    grant.code.map(|c| format!(", code {c}")).unwrap_or_default()
                );
                Ok(())
            })
            .await
        }
        PointsAction::Grants { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                for g in sdk.points().grants().await? {
                    let used = match &g.used_by_rental {
                        Some(rental) => format!("used on rental {rental} ({} cents)", g.used_cents),
                        None => "unused".to_owned(),
                    };
                    println!("{}  {}  {used}", g.grant_id, g.title);
                }
                Ok(())
            })
            .await
        }
        PointsAction::SetReward {
            control_plane,
            id,
            title,
            points,
            rental_credit_cents,
            voucher,
            inactive,
        } => {
            let kind = match (rental_credit_cents, voucher) {
                (Some(amount_cents), None) => RewardKind::RentalCredit { amount_cents },
                (None, Some(partner)) => RewardKind::Voucher { partner },
                _ => return Err("give --rental-credit-cents or --voucher".into()),
            };
            let reward = Reward {
                reward_id: id,
                title,
                points,
                kind,
                active: !inactive,
            };
            admin_client(control_plane.as_str())?.put_reward(&reward).await?;
            println!("reward {} set", reward.reward_id);
            Ok(())
        }
        PointsAction::Check { control_plane } => {
            let check = admin_client(control_plane.as_str())?.points_check().await?;
            println!(
                "{} accounts, {} coupons bought, {} grants",
                check.accounts.len(),
                check.coupons_bought,
                check.grants
            );
            if check.holds() {
                println!("the books hold: every balance is the sum of its ledger");
                Ok(())
            } else {
                Err(format!("the books do not hold: {}", check.problems.join("; ")).into())
            }
        }
    }
}
