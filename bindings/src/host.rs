//! What the host tells the SDK about the phone.

use edgepoints_core as core;

use crate::number::Signed;

/// The network the phone is on, as the host's connectivity callback says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkKind {
    /// An unmetered network (Wi-Fi, Ethernet).
    Wifi,
    /// A metered mobile network.
    Cellular,
    /// No network.
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

/// What the host said about the phone; the consent policy is checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct HostState {
    pub network: NetworkKind,
    pub battery_percent: i32,
    pub charging: bool,
    pub foreground: bool,
}

impl From<core::HostState> for HostState {
    fn from(s: core::HostState) -> Self {
        HostState {
            network: s.network.into(),
            battery_percent: s.battery_percent.signed(),
            charging: s.charging,
            foreground: s.foreground,
        }
    }
}
