//! What a rental costs: time, distance, a one-way fee when it ends at
//! another station than it started, and a surcharge when the battery comes
//! back low. The tariff is QA's to set (`/admin/rental-tariff`).

use edgepoints_protocol::rental::{Fee, FeeLine};
use serde::{Deserialize, Serialize};

use crate::state::keys;
use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RentalTariff {
    pub currency: String,
    /// Per started minute.
    pub per_minute_cents: u64,
    /// Per started kilometre.
    pub per_km_cents: u64,
    pub one_way_cents: u64,
    /// Below this battery at the end, the surcharge applies.
    #[schema(maximum = 255)]
    pub low_battery_percent: u8,
    pub low_battery_cents: u64,
}

impl Default for RentalTariff {
    fn default() -> Self {
        RentalTariff {
            currency: "EUR".to_owned(),
            per_minute_cents: 29,
            per_km_cents: 19,
            one_way_cents: 490,
            low_battery_percent: 20,
            low_battery_cents: 500,
        }
    }
}

impl RentalTariff {
    pub fn problem(&self) -> Option<&'static str> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            Some("a currency is three upper-case letters")
        } else if self.low_battery_percent > 100 {
            Some("the low-battery threshold is 0 to 100 percent")
        } else {
            None
        }
    }
}

pub async fn tariff(control_plane: &ControlPlane) -> Result<RentalTariff, StoreError> {
    Ok(get_json(control_plane.store(), keys::RENTAL_TARIFF)
        .await?
        .unwrap_or_default())
}

pub async fn set_tariff(control_plane: &ControlPlane, tariff: &RentalTariff) -> Result<(), StoreError> {
    put_json(control_plane.store(), keys::RENTAL_TARIFF, tariff).await
}

/// The measured rental.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub duration_ms: u64,
    pub distance_m: u64,
    pub one_way: bool,
    pub end_battery_percent: u8,
}

/// The fee for `usage` under `tariff`: minutes and kilometres started count
/// whole (a rental is at least a minute).
pub fn fee(tariff: &RentalTariff, usage: Usage) -> Fee {
    let minutes = usage.duration_ms.div_ceil(60_000).max(1);
    let km = usage.distance_m.div_ceil(1000);
    let mut lines = vec![
        FeeLine {
            item: "time".into(),
            cents: minutes * tariff.per_minute_cents,
            detail: format!("{minutes} min × {}", tariff.per_minute_cents),
        },
        FeeLine {
            item: "distance".into(),
            cents: km * tariff.per_km_cents,
            detail: format!("{km} km × {}", tariff.per_km_cents),
        },
    ];
    if usage.one_way {
        lines.push(FeeLine {
            item: "one_way".into(),
            cents: tariff.one_way_cents,
            detail: "returned at another station".into(),
        });
    }
    if usage.end_battery_percent < tariff.low_battery_percent {
        lines.push(FeeLine {
            item: "low_battery".into(),
            cents: tariff.low_battery_cents,
            detail: format!(
                "returned at {}% (under {}%)",
                usage.end_battery_percent, tariff.low_battery_percent
            ),
        });
    }
    Fee {
        total_cents: lines.iter().map(|l| l.cents).sum(),
        currency: tariff.currency.clone(),
        lines,
        credits: Vec::new(),
    }
}

/// `fee` less a credit of `cents` (at most its total), as a credit line.
pub fn with_credit(mut fee: Fee, item: &str, cents: u64, detail: String) -> Fee {
    let cents = cents.min(fee.total_cents);
    if cents > 0 {
        fee.total_cents -= cents;
        fee.credits.push(FeeLine {
            item: item.to_owned(),
            cents,
            detail,
        });
    }
    fee
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_units_count_whole_and_extras_apply_when_due() {
        let tariff = RentalTariff::default();
        let short = fee(
            &tariff,
            Usage {
                duration_ms: 1,
                distance_m: 0,
                one_way: false,
                end_battery_percent: 80,
            },
        );
        assert_eq!(short.total_cents, 29, "one minute at least");
        let long = fee(
            &tariff,
            Usage {
                duration_ms: 90 * 60_000 + 1,
                distance_m: 12_001,
                one_way: true,
                end_battery_percent: 10,
            },
        );
        assert_eq!(
            long.lines
                .iter()
                .map(|l| (l.item.as_str(), l.cents))
                .collect::<Vec<_>>(),
            vec![
                ("time", 91 * 29),
                ("distance", 13 * 19),
                ("one_way", 490),
                ("low_battery", 500)
            ]
        );
        assert_eq!(long.total_cents, 91 * 29 + 13 * 19 + 490 + 500);
    }
}
