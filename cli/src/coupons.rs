//! `edgepoints coupons`: coupons for QA — merchants and keys on a mock,
//! a till (enrol, publish — priced in points or not —, validate offline or
//! online, redeem, the funnel) and a customer (list, share, claim, give
//! back, held, present) on a data directory.

use clap::{Args, Subcommand};
use edgepoints_core::{ActivityDraft, FunnelCounts, PointsPrice, TemplateKind};

use crate::admin::admin_client;
use crate::device::{with_sdk, SdkOptions};
use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct CouponsArgs {
    #[command(subcommand)]
    action: CouponsAction,
}

#[derive(Debug, Subcommand)]
enum CouponsAction {
    /// QA: a new merchant with its shops; prints its one-time enrolment code.
    NewMerchant {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
        #[arg(long)]
        name: String,
        /// Repeat for several shops.
        #[arg(long = "shop", required = true)]
        shops: Vec<String>,
    },
    /// QA: retire the coupon issuing key and make a new one.
    RotateKey {
        #[arg(long = "control-plane")]
        control_plane: url::Url,
    },
    /// Till: enrol with a merchant's one-time code.
    Enrol {
        #[command(flatten)]
        sdk: SdkOptions,
        code: String,
    },
    /// Till: write a percent-off activity and submit it; prints the review's verdict.
    Publish {
        #[command(flatten)]
        sdk: SdkOptions,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        shop: String,
        #[arg(long, default_value_t = 10)]
        percent_off: u8,
        #[arg(long, default_value_t = 30)]
        days: u64,
        #[arg(long, default_value_t = 100)]
        total: u32,
        #[arg(long, default_value_t = 1)]
        per_customer: u32,
        /// A price in points per coupon (paid by the claiming member).
        #[arg(long)]
        points: Option<u64>,
        /// Percent of the price back when a coupon is given back.
        #[arg(long, default_value_t = 100)]
        refund_rollback: u8,
        /// Percent of the price back when a coupon expires unused.
        #[arg(long, default_value_t = 0)]
        refund_expiry: u8,
    },
    /// Till: an activity's funnel, per share channel.
    Funnel {
        #[command(flatten)]
        sdk: SdkOptions,
        activity_id: String,
    },
    /// Till: ask the control plane where a presentation's coupon stands.
    Check {
        #[command(flatten)]
        sdk: SdkOptions,
        presentation: String,
    },
    /// Till: check a presentation offline.
    Validate {
        #[command(flatten)]
        sdk: SdkOptions,
        presentation: String,
    },
    /// Till: redeem the coupon behind a presentation (through the outbox).
    Redeem {
        #[command(flatten)]
        sdk: SdkOptions,
        presentation: String,
        #[arg(long)]
        order: String,
    },
    /// Customer: the live activities.
    List {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Customer: share an activity; prints the link with its referral code.
    Share {
        #[command(flatten)]
        sdk: SdkOptions,
        activity_id: String,
        #[arg(long, default_value = "link")]
        channel: String,
    },
    /// Customer: claim a coupon.
    Claim {
        #[command(flatten)]
        sdk: SdkOptions,
        activity_id: String,
        #[arg(long)]
        referral: Option<String>,
    },
    /// Customer: give a held coupon back (a bought one is refunded by its rule).
    GiveBack {
        #[command(flatten)]
        sdk: SdkOptions,
        serial: String,
    },
    /// Customer: the coupons held.
    Held {
        #[command(flatten)]
        sdk: SdkOptions,
    },
    /// Customer: the presentation of a held coupon, and its QR code.
    Present {
        #[command(flatten)]
        sdk: SdkOptions,
        serial: String,
    },
}

pub(crate) fn funnel_header() -> String {
    format!(
        "{:<10} {:>5} {:>6} {:>6} {:>8} {:>8} {:>6} {:>7} {:>9} {:>9} {:>6} {:>8}",
        "channel",
        "views",
        "shares",
        "claims",
        "referred",
        "given-bk",
        "checks",
        "redeems",
        "rollbacks",
        "conflicts",
        "points",
        "refunded"
    )
}

pub(crate) fn funnel_row(channel: &str, c: &FunnelCounts) -> String {
    format!(
        "{channel:<10} {:>5} {:>6} {:>6} {:>8} {:>8} {:>6} {:>7} {:>9} {:>9} {:>6} {:>8}",
        c.views,
        c.shares,
        c.claims,
        c.referred_claims,
        c.claims_rolled_back,
        c.validations,
        c.redemptions,
        c.rollbacks,
        c.offline_conflicts,
        c.points_taken,
        c.points_refunded
    )
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) async fn run(args: CouponsArgs) -> CliResult {
    match args.action {
        CouponsAction::NewMerchant {
            control_plane,
            name,
            shops,
        } => {
            let shops: Vec<&str> = shops.iter().map(String::as_str).collect();
            let created = admin_client(control_plane.as_str())?
                .create_merchant(&name, &shops)
                .await?;
            println!(
                "merchant {} ({}), enrolment code {}",
                created.merchant.name, created.merchant.merchant_id, created.enrolment_code
            );
            Ok(())
        }
        CouponsAction::RotateKey { control_plane } => {
            let list = admin_client(control_plane.as_str())?.rotate_coupon_key().await?;
            println!("trust list version {}, {} keys", list.version, list.keys.len());
            Ok(())
        }
        CouponsAction::Enrol { sdk, code } => {
            with_sdk(&sdk, |sdk| async move {
                let identity = sdk.merchant().enrol(&code).await?;
                println!("enrolled for {} ({})", identity.name, identity.merchant_id);
                Ok(())
            })
            .await
        }
        CouponsAction::Publish {
            sdk,
            title,
            description,
            shop,
            percent_off,
            days,
            total,
            per_customer,
            points,
            refund_rollback,
            refund_expiry,
        } => {
            let draft = ActivityDraft {
                template: TemplateKind::PercentOff,
                title,
                description,
                shop,
                staff: vec![],
                featured_items: vec![],
                pictures: vec![],
                percent_off: Some(percent_off),
                amount_off_cents: None,
                gift: None,
                min_spend_cents: 0,
                valid_from_s: now_s(),
                valid_until_s: now_s() + days * 86_400,
                total_limit: total,
                per_customer_limit: per_customer,
                points_price: points.map(|points| PointsPrice {
                    points,
                    refund_on_rollback_percent: refund_rollback,
                    refund_on_expiry_percent: refund_expiry,
                }),
            };
            with_sdk(&sdk, |sdk| async move {
                let written = sdk.merchant().write_activity(None, draft).await?;
                let reviewed = sdk.merchant().submit(&written.activity_id).await?;
                println!("activity {} is {:?}", reviewed.activity_id, reviewed.state);
                for f in &reviewed.findings {
                    println!(
                        "  {} in {}: `{}` ({})",
                        f.finding.category, f.field, f.finding.text, f.finding.word
                    );
                }
                Ok(())
            })
            .await
        }
        CouponsAction::Validate { sdk, presentation } => {
            with_sdk(&sdk, |sdk| async move {
                println!("{:?}", sdk.merchant().validate(&presentation)?);
                Ok(())
            })
            .await
        }
        CouponsAction::Redeem {
            sdk,
            presentation,
            order,
        } => {
            with_sdk(&sdk, |sdk| async move {
                let r = sdk.merchant().redeem(&presentation, &order).await?;
                println!("redeemed {} as {} (order {})", r.serial, r.redemption_id, r.order_ref);
                Ok(())
            })
            .await
        }
        CouponsAction::List { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                for a in sdk.coupons().live_activities(None).await? {
                    println!(
                        "{}  {}  {} ({} claimed)",
                        a.activity_id, a.merchant_name, a.draft.title, a.claimed
                    );
                }
                Ok(())
            })
            .await
        }
        CouponsAction::Share {
            sdk,
            activity_id,
            channel,
        } => {
            with_sdk(&sdk, |sdk| async move {
                let share = sdk.coupons().share(&activity_id, &channel).await?;
                println!("{}", share.link);
                Ok(())
            })
            .await
        }
        CouponsAction::Claim {
            sdk,
            activity_id,
            referral,
        } => {
            with_sdk(&sdk, |sdk| async move {
                let coupon = sdk.coupons().claim(&activity_id, referral).await?;
                println!(
                    "claimed {} ({}), valid until {}",
                    coupon.serial, coupon.title, coupon.expires_s
                );
                Ok(())
            })
            .await
        }
        CouponsAction::GiveBack { sdk, serial } => {
            with_sdk(&sdk, |sdk| async move {
                let refunded = sdk.coupons().give_back(&serial).await?;
                println!("gave {serial} back; {refunded} points refunded");
                Ok(())
            })
            .await
        }
        CouponsAction::Funnel { sdk, activity_id } => {
            with_sdk(&sdk, |sdk| async move {
                let funnel = sdk.merchant().funnel(&activity_id).await?;
                println!("{} ({:?})", funnel.title, funnel.state);
                println!("{}", funnel_header());
                for channel in &funnel.channels {
                    println!("{}", funnel_row(&channel.channel, &channel.counts));
                }
                println!("{}", funnel_row("total", &funnel.total));
                Ok(())
            })
            .await
        }
        CouponsAction::Check { sdk, presentation } => {
            with_sdk(&sdk, |sdk| async move {
                let checked = sdk.merchant().validate_online(&presentation).await?;
                println!("{} is {:?}", checked.serial, checked.standing);
                Ok(())
            })
            .await
        }
        CouponsAction::Held { sdk } => {
            with_sdk(&sdk, |sdk| async move {
                for c in sdk.coupons().held()? {
                    println!("{}  {}  until {}", c.serial, c.title, c.expires_s);
                }
                Ok(())
            })
            .await
        }
        CouponsAction::Present { sdk, serial } => {
            with_sdk(&sdk, |sdk| async move {
                let shown = sdk.coupons().present(&serial)?;
                println!("{}", shown.text);
                // Two modules per character cell, top and bottom half.
                let width = shown.qr_width as usize;
                let dark = |x: usize, y: usize| y < width && shown.qr_modules[y * width + x];
                for y in (0..width).step_by(2) {
                    let line: String = (0..width)
                        .map(|x| match (dark(x, y), dark(x, y + 1)) {
                            (true, true) => '█',
                            (true, false) => '▀',
                            (false, true) => '▄',
                            (false, false) => ' ',
                        })
                        .collect();
                    println!("{line}");
                }
                Ok(())
            })
            .await
        }
    }
}
