//! What the host tells the SDK about the phone.

use edgepoints_core as core;

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkKind {
    Wifi,
    Cellular,
    Offline,
}

impl From<NetworkKind> for core::NetworkKind {
    fn from(n: NetworkKind) -> Self {
        match n {
            NetworkKind::Wifi => core::NetworkKind::Wifi,
            NetworkKind::Cellular => core::NetworkKind::Cellular,
            NetworkKind::Offline => core::NetworkKind::Offline,
        }
    }
}

impl From<core::NetworkKind> for NetworkKind {
    fn from(n: core::NetworkKind) -> Self {
        match n {
            core::NetworkKind::Wifi => NetworkKind::Wifi,
            core::NetworkKind::Cellular => NetworkKind::Cellular,
            core::NetworkKind::Offline => NetworkKind::Offline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct HostState {
    pub network: NetworkKind,
    pub battery_percent: u8,
    pub charging: bool,
    pub foreground: bool,
}

impl From<core::HostState> for HostState {
    fn from(s: core::HostState) -> Self {
        HostState {
            network: s.network.into(),
            battery_percent: s.battery_percent,
            charging: s.charging,
            foreground: s.foreground,
        }
    }
}
