//! Location from the address prefix, for devices whose host shares none.
//!
//! A CDN manager places a device it has no coarse location for by the
//! network its address belongs to. The mock keeps that as a table QA sets
//! (`PUT /admin/geo-prefixes`): CIDR prefixes, each with a location; the
//! longest prefix that holds an address wins. A node is placed by its
//! probed addresses, then by the address its announcement came from; a
//! consumer by the address its sources request came from. A location the
//! host gave always wins over the table.
//!
//! A lookup costs one hash lookup per distinct prefix length in the table,
//! not one comparison per row, so a table of thousands of prefixes places
//! a million nodes in well under a second.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use edgepoints_protocol::Location;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

const TABLE: &str = crate::state::keys::GEO_PREFIXES;

/// Most prefixes the table takes.
pub const MAX_PREFIXES: usize = 10_000;

/// One row: the addresses in `prefix` are at `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GeoPrefix {
    #[schema(value_type = String, example = "10.1.0.0/16")]
    pub prefix: IpNet,
    pub location: Location,
    /// For people reading the table: "Paris, ISP A".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The table: its rows, and for lookups the rows by prefix under each
/// prefix length present, longest first. A lookup masks the address to
/// each length and looks the network up: one hash lookup per distinct
/// length (at most 33 for IPv4, 129 for IPv6), whatever the table's size.
#[derive(Debug, Clone, Default)]
pub struct GeoTable {
    rows: Vec<GeoPrefix>,
    lengths: Vec<u8>,
    by_network: HashMap<IpNet, Location>,
}

impl GeoTable {
    /// Checks and orders rows; an error says which row is wrong. A prefix
    /// listed twice keeps its first location.
    pub fn new(mut rows: Vec<GeoPrefix>) -> Result<GeoTable, String> {
        if rows.len() > MAX_PREFIXES {
            return Err(format!("at most {MAX_PREFIXES} prefixes"));
        }
        for row in &rows {
            if !row.location.is_valid() {
                return Err(format!("{}: latitude −90..90, longitude −180..180", row.prefix));
            }
            if row.label.as_ref().is_some_and(|l| l.len() > 128) {
                return Err(format!("{}: a label is at most 128 bytes", row.prefix));
            }
        }
        // Host bits set ("10.1.2.3/16") mean the network they are in.
        for row in &mut rows {
            row.prefix = row.prefix.trunc();
        }
        rows.sort_by_key(|row| std::cmp::Reverse(row.prefix.prefix_len()));
        let mut by_network = HashMap::with_capacity(rows.len());
        for row in &rows {
            by_network.entry(row.prefix).or_insert(row.location);
        }
        let mut lengths: Vec<u8> = rows.iter().map(|row| row.prefix.prefix_len()).collect();
        lengths.dedup();
        Ok(GeoTable {
            rows,
            lengths,
            by_network,
        })
    }

    pub fn rows(&self) -> &[GeoPrefix] {
        &self.rows
    }

    /// The location of the longest prefix holding `ip`. An IPv4 address
    /// seen as IPv6 (`::ffff:a.b.c.d`, from a dual-stack listener) is
    /// looked up as IPv4.
    pub fn locate(&self, ip: IpAddr) -> Option<Location> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.lengths.iter().find_map(|len| {
            let network = IpNet::new(ip, *len).ok()?.trunc();
            self.by_network.get(&network).copied()
        })
    }

    /// The location of the first of `addresses` (`ip:port` or `ip`) the
    /// table places.
    pub fn locate_any<'a>(&self, addresses: impl IntoIterator<Item = &'a str>) -> Option<Location> {
        if self.rows.is_empty() {
            return None;
        }
        addresses.into_iter().find_map(|text| {
            let ip = text
                .parse::<SocketAddr>()
                .map(|a| a.ip())
                .or_else(|_| text.parse::<IpAddr>())
                .ok()?;
            self.locate(ip)
        })
    }
}

pub async fn table(control_plane: &ControlPlane) -> Result<GeoTable, StoreError> {
    let rows: Vec<GeoPrefix> = get_json(control_plane.store(), TABLE).await?.unwrap_or_default();
    GeoTable::new(rows).map_err(|reason| StoreError::Corrupt {
        key: TABLE.to_owned(),
        reason,
    })
}

/// Replaces the table; routing indexes rebuild with it.
pub async fn set_table(control_plane: &ControlPlane, table: GeoTable) -> Result<(), StoreError> {
    put_json(control_plane.store(), TABLE, &table.rows).await?;
    crate::registry::note_change(control_plane, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(prefix: &str, latitude: f64) -> GeoPrefix {
        GeoPrefix {
            prefix: prefix.parse().unwrap(),
            location: Location {
                latitude,
                longitude: 0.0,
            },
            label: None,
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let table = GeoTable::new(vec![
            row("10.0.0.0/8", 1.0),
            row("10.1.0.0/16", 2.0),
            row("2001:db8::/32", 3.0),
            row("10.1.2.3/24", 4.0),
        ])
        .unwrap();
        let at = |ip: &str| table.locate(ip.parse().unwrap()).map(|l| l.latitude);
        assert_eq!(at("10.9.9.9"), Some(1.0));
        assert_eq!(at("10.1.9.9"), Some(2.0));
        assert_eq!(at("10.1.2.200"), Some(4.0), "host bits set mean their network");
        assert_eq!(at("::ffff:10.1.9.9"), Some(2.0), "IPv4 seen as IPv6");
        assert_eq!(at("2001:db8::1"), Some(3.0));
        assert_eq!(at("192.0.2.1"), None);
        assert_eq!(
            table
                .locate_any(["bogus", "192.0.2.1:80", "10.1.0.1:4000"])
                .map(|l| l.latitude),
            Some(2.0)
        );
    }

    #[test]
    fn a_default_route_catches_the_rest_and_a_repeated_prefix_keeps_its_first_row() {
        let table = GeoTable::new(vec![
            row("0.0.0.0/0", 9.0),
            row("10.0.0.0/8", 1.0),
            row("10.0.0.0/8", 5.0),
        ])
        .unwrap();
        let at = |ip: &str| table.locate(ip.parse().unwrap()).map(|l| l.latitude);
        assert_eq!(at("10.1.1.1"), Some(1.0));
        assert_eq!(at("192.0.2.1"), Some(9.0));
        assert_eq!(at("2001:db8::1"), None, "an IPv4 default does not hold IPv6");
    }

    #[test]
    fn bad_rows_are_refused() {
        let mut bad = row("10.0.0.0/8", 91.0);
        assert!(GeoTable::new(vec![bad.clone()]).is_err());
        bad.location.latitude = 0.0;
        bad.label = Some("x".repeat(200));
        assert!(GeoTable::new(vec![bad]).is_err());
    }
}
