//! What the control plane knows: its key, the devices and their consent,
//! and counters for QA.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{SigningKey, VerifyingKey};
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{ConsentDecision, DeviceId};
use serde::Serialize;

use crate::faults::FaultTable;
use crate::idempotency::IdempotencyStore;

/// The control plane's own signing key (manifests, tickets, coupons later).
pub struct ControlPlaneKey {
    key: SigningKey,
    key_id: String,
}

impl ControlPlaneKey {
    pub fn new(seed: Option<[u8; 32]>) -> std::io::Result<Self> {
        let seed = match seed {
            Some(seed) => seed,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
                seed
            }
        };
        let key = SigningKey::from_bytes(&seed);
        let key_id = format!(
            "cp_{}",
            &hex::encode(blake3::hash(key.verifying_key().as_bytes()).as_bytes())[..16]
        );
        Ok(ControlPlaneKey { key, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key(&self) -> String {
        encode_public_key(&self.key.verifying_key())
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// One registered device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord {
    pub device_id: DeviceId,
    pub public_key: String,
    pub platform: String,
    pub app_version: String,
    pub sdk_version: String,
    pub registered_at_ms: u64,
    pub consent: Option<ConsentRecord>,
}

/// The newest consent decision a device reported.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentRecord {
    pub revision: u64,
    pub decision: ConsentDecision,
    pub decided_at_ms: u64,
    pub recorded_at_ms: u64,
}

/// How often each kind of change was applied: the ground truth for
/// "applied exactly once" in tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppliedCounters {
    pub registrations: u64,
    pub consent_reports: u64,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub devices: BTreeMap<DeviceId, DeviceRecord>,
    pub applied: AppliedCounters,
}

/// The whole control-plane state, shared by every instance serving it.
pub struct ControlPlane {
    pub key: ControlPlaneKey,
    registry: Mutex<Registry>,
    pub idempotency: IdempotencyStore,
    pub faults: FaultTable,
    requests: Mutex<BTreeMap<String, u64>>,
}

/// The JSON of `GET /admin/state`.
#[derive(Debug, Serialize)]
pub struct StateDump {
    pub control_plane_key_id: String,
    pub control_plane_public_key: String,
    pub devices: Vec<DeviceRecord>,
    pub applied: AppliedCounters,
    /// Requests received per route (`METHOD /path/{param}`), faults included.
    pub requests: BTreeMap<String, u64>,
    pub idempotency_records: usize,
}

impl ControlPlane {
    pub fn new(key: ControlPlaneKey) -> Self {
        ControlPlane {
            key,
            registry: Mutex::new(Registry::default()),
            idempotency: IdempotencyStore::default(),
            faults: FaultTable::default(),
            requests: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn count_request(&self, route: &str) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(route.to_owned())
            .or_default() += 1;
    }

    pub fn dump(&self) -> StateDump {
        let registry = self.registry();
        StateDump {
            control_plane_key_id: self.key.key_id().to_owned(),
            control_plane_public_key: self.key.public_key(),
            devices: registry.devices.values().cloned().collect(),
            applied: registry.applied.clone(),
            requests: self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            idempotency_records: self.idempotency.len(),
        }
    }
}

pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
