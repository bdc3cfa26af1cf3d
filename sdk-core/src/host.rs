//! What only the host app knows about the phone: network, battery,
//! foreground. Stored so a restart starts from the last known state.

use rusqlite::OptionalExtension;

use crate::store::Store;
use crate::time::unix_millis;
use crate::StoreError;

/// The network the phone is on, as the host's connectivity API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    Wifi,
    Cellular,
    /// No network (named so, not `None`, to stay clear of Swift's Optional).
    Offline,
}

impl NetworkKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NetworkKind::Wifi => "wifi",
            NetworkKind::Cellular => "cellular",
            NetworkKind::Offline => "offline",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "wifi" => Ok(NetworkKind::Wifi),
            "cellular" => Ok(NetworkKind::Cellular),
            "offline" => Ok(NetworkKind::Offline),
            other => Err(StoreError::Corrupt(format!("unknown network kind `{other}`"))),
        }
    }
}

/// The phone's state as the host last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostState {
    pub network: NetworkKind,
    pub battery_percent: u8,
    pub charging: bool,
    pub foreground: bool,
}

impl Default for HostState {
    /// Until the host says otherwise, assume the least permissive state:
    /// offline, so nothing is served or prefetched on a guess.
    fn default() -> Self {
        HostState {
            network: NetworkKind::Offline,
            battery_percent: 0,
            charging: false,
            foreground: true,
        }
    }
}

fn read(connection: &rusqlite::Connection) -> Result<Option<HostState>, StoreError> {
    let row: Option<(String, u8, bool, bool)> = connection
        .query_row(
            "SELECT network, battery_percent, charging, foreground FROM host_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    row.map(|(network, battery_percent, charging, foreground)| {
        Ok(HostState {
            network: NetworkKind::parse(&network)?,
            battery_percent,
            charging,
            foreground,
        })
    })
    .transpose()
}

pub(crate) fn load(store: &Store) -> Result<HostState, StoreError> {
    store.with(|c| Ok(read(c)?.unwrap_or_default()))
}

/// Applies `change` to the stored state; returns the new state if it differs.
pub(crate) fn update(store: &Store, change: impl FnOnce(&mut HostState)) -> Result<Option<HostState>, StoreError> {
    store.with(|c| {
        let tx = c.transaction()?;
        let before = read(&tx)?;
        let mut after = before.unwrap_or_default();
        change(&mut after);
        if before == Some(after) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO host_state (singleton, network, battery_percent, charging, foreground, updated_at_ms)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (singleton) DO UPDATE SET network = ?1, battery_percent = ?2, charging = ?3,
                 foreground = ?4, updated_at_ms = ?5",
            rusqlite::params![
                after.network.as_str(),
                after.battery_percent,
                after.charging,
                after.foreground,
                unix_millis() as i64
            ],
        )?;
        tx.commit()?;
        Ok(Some(after))
    })
}
