//! What the control plane knows — its key, the devices and their consent,
//! counters for QA — kept in a [`StateStore`] shared by every instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{ConsentDecision, ContentHash, DeviceId, FailedSource, HashFailureReport};
use serde::{Deserialize, Serialize};

use crate::store::{get_json, scan_json, update_json, StateStore, StoreError};

/// Names of the keys in the state store, spelled once: every module that
/// keeps state names its keys here, so no two can collide.
pub(crate) mod keys {
    use edgepoints_protocol::FailedSource;

    /// The prefix table that places devices by address (`geo`).
    pub const GEO_PREFIXES: &str = "geo:prefixes";
    /// Published items and the manifest version (`origin`).
    pub const ORIGIN_ITEM_PREFIX: &str = "origin:item:";
    pub const ORIGIN_VERSION: &str = "origin:version";
    /// How far QA moved the mock clock (`points`).
    pub const CLOCK_OFFSET: &str = "clock:offset_ms";
    /// The points rules, each device's points record and each member's
    /// (`points`).
    pub const POINTS_RULES: &str = "points:rules";
    pub const POINTS_DEVICE_PREFIX: &str = "points:device:";
    pub const POINTS_MEMBER_PREFIX: &str = "points:member:";
    /// Member accounts by normalised name, failed logins by name, server
    /// sessions by key, and the session timeouts QA set (`members`).
    pub const MEMBER_PREFIX: &str = "member:";
    pub const LOGIN_FAILURES_PREFIX: &str = "login_failures:";
    pub const SESSION_PREFIX: &str = "session:";
    pub const SESSION_TIMEOUTS: &str = "sessions:timeouts";
    /// The session a device is logged in with, by device id (`members`).
    pub const DEVICE_SESSION_PREFIX: &str = "device_session:";
    /// Notices not yet acknowledged, by member and notice id (`notices`).
    pub const NOTICE_PREFIX: &str = "notice:";
    /// Notices about one event, posted already (`notices::post_once`).
    pub const NOTICE_ONCE_PREFIX: &str = "notice_once:";
    /// Review rules by tenant (`review::rules`).
    pub const REVIEW_RULES_PREFIX: &str = "review:rules:";
    /// Merchants by id, one-time enrolment codes, the merchant each
    /// enrolled device acts for (`coupons::merchants`).
    pub const MERCHANT_PREFIX: &str = "merchant:";
    pub const ENROLMENT_CODE_PREFIX: &str = "enrolment_code:";
    pub const MERCHANT_DEVICE_PREFIX: &str = "merchant_device:";
    /// The coupon issuing keys (`coupons::issuer`).
    pub const ISSUER_KEYS: &str = "coupons:issuer_keys";
    /// Activities by id, with their claimed coupons (`coupons::activities`).
    pub const ACTIVITY_PREFIX: &str = "activity:";
    /// The revocation log: tags of revoked serials (`coupons::revocations`).
    pub const REVOCATIONS: &str = "coupons:revocations";
    /// Each merchant device's offline counter and budget use
    /// (`coupons::redemptions`).
    pub const OFFLINE_LEDGER_PREFIX: &str = "offline_ledger:";
    /// Shares by referral code (`coupons::shares`).
    pub const SHARE_PREFIX: &str = "share:";
    /// Views of an activity's page, per channel: `activity_views:{id}:{channel}`.
    pub const ACTIVITY_VIEWS_PREFIX: &str = "activity_views:";
    /// The rewards catalogue.
    pub const REWARDS: &str = "rewards:catalogue";

    /// Stations and vehicles by id, rentals by id, each member's rental in
    /// progress, member cards, the tariffs (`rental`).
    pub const STATION_PREFIX: &str = "station:";
    pub const VEHICLE_PREFIX: &str = "vehicle:";
    pub const RENTAL_PREFIX: &str = "rental:";
    pub const MEMBER_RENTAL_PREFIX: &str = "member_rental:";
    pub const MEMBER_CARD_PREFIX: &str = "member_card:";
    pub const RENTAL_TARIFF: &str = "tariff:rental";
    pub const CHARGING_TARIFF: &str = "tariff:charging";
    /// What the billing and SMS workers did, by stream entry id; the
    /// crashes QA asked of them; their settings (`rental::workers`).
    pub const BILL_PREFIX: &str = "bill:";
    pub const SMS_PREFIX: &str = "sms:";
    pub const WORKER_CRASH_PREFIX: &str = "worker_crash:";
    pub const WORKER_SETTINGS: &str = "workers:settings";

    pub const SEED: &str = "control_plane:seed";
    pub const DEVICE_PREFIX: &str = "device:";
    pub const FAULTS: &str = "faults";
    pub const APPLIED_PREFIX: &str = "applied:";
    pub const REQUESTS_PREFIX: &str = "requests:";
    pub const IDEMPOTENCY_PREFIX: &str = "idempotency:";
    pub const EXECUTIONS_PREFIX: &str = "executions:";
    pub const NODE_PREFIX: &str = "node:";
    pub const HASH_FAILURE_PREFIX: &str = "hash_failure:";
    /// Reports the control plane checked and found false.
    pub const REFUTED_PREFIX: &str = "refuted_hash_failure:";
    /// Bumped whenever a node record changes, so routing indexes refresh.
    pub const NODES_VERSION: &str = "nodes:version";
    /// The change log behind that version: which node changed at each.
    pub const NODE_CHANGE_PREFIX: &str = "node_change:";

    pub fn device(id: &str) -> String {
        format!("{DEVICE_PREFIX}{id}")
    }
    pub fn node(id: &str) -> String {
        format!("{NODE_PREFIX}{id}")
    }
    pub fn node_change(version: i64) -> String {
        format!("{NODE_CHANGE_PREFIX}{version:020}")
    }
    /// Reports about one source of one item; `source` is `node:ID` or `origin:URL`.
    pub fn hash_failures(hash: &str, source: &str) -> String {
        format!("{HASH_FAILURE_PREFIX}{hash} {source}")
    }
    /// How a reported source is named in the report keys.
    pub fn report_source(source: &FailedSource) -> String {
        match source {
            FailedSource::Node { node_id } => format!("node:{node_id}"),
            FailedSource::Origin { url } => format!("origin:{url}"),
        }
    }
    /// The last check of a node's copy of an item on a reporter's word.
    pub fn report_check(hash: &str, node: &str, reporter: &str) -> String {
        format!("report_check:{hash} {node} {reporter}")
    }
    pub fn refuted_hash_failures(hash: &str, source: &str) -> String {
        format!("{REFUTED_PREFIX}{hash} {source}")
    }
    pub fn applied(what: &str) -> String {
        format!("{APPLIED_PREFIX}{what}")
    }
    pub fn requests(route: &str) -> String {
        format!("{REQUESTS_PREFIX}{route}")
    }
    /// Scope and key are visible ASCII (checked), so a space separates them.
    pub fn idempotency(scope: &str, key: &str) -> String {
        format!("{IDEMPOTENCY_PREFIX}{scope} {key}")
    }
    pub fn executions(scope: &str, key: &str) -> String {
        format!("{EXECUTIONS_PREFIX}{scope} {key}")
    }
}

/// The control plane's own signing key (manifests, tickets, coupons later).
pub struct ControlPlaneKey {
    key: SigningKey,
    key_id: String,
}

impl ControlPlaneKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let key_id = format!(
            "cp_{}",
            &hex::encode(blake3::hash(key.verifying_key().as_bytes()).as_bytes())[..16]
        );
        ControlPlaneKey { key, key_id }
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceRecord {
    pub device_id: DeviceId,
    pub public_key: String,
    pub platform: String,
    pub app_version: String,
    pub sdk_version: String,
    pub registered_at_ms: u64,
    pub consent: Option<ConsentRecord>,
    /// Every consent revision applied, in the order applied: the ground
    /// truth for "every decision arrived, once, in order".
    #[serde(default)]
    pub consent_history: Vec<u64>,
}

impl DeviceRecord {
    /// Whether the device's newest consent decision grants serving.
    pub fn consents(&self) -> bool {
        self.consent
            .as_ref()
            .is_some_and(|c| matches!(c.decision, ConsentDecision::Granted { .. }))
    }
}

/// The newest consent decision a device reported.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub revision: u64,
    pub decision: ConsentDecision,
    pub decided_at_ms: u64,
    pub recorded_at_ms: u64,
}

/// A device's edge node as last announced.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeRecord {
    pub device_id: DeviceId,
    pub revision: u64,
    /// None once the node stopped.
    pub url: Option<String>,
    pub holdings: Vec<ContentHash>,
    pub announced_at_ms: u64,
    pub recorded_at_ms: u64,
    #[serde(default)]
    pub location: Option<edgepoints_protocol::Location>,
    /// Requests per second at the last heartbeat.
    #[serde(default)]
    pub load: u32,
    /// Addresses the node announced, and those that answered the probe.
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub reachable: Vec<String>,
    /// The address the announcement came from.
    #[serde(default)]
    pub seen_from: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
}

impl NodeRecord {
    /// Where consumers are sent: the first probed address; none if no
    /// address answered (or the node stopped).
    pub fn routable_url(&self) -> Option<String> {
        self.url.as_ref()?;
        self.reachable.first().map(|address| format!("http://{address}"))
    }
}

/// Idempotency keys whose request ran more than once: always empty unless
/// exactly-once is broken.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Executions {
    pub keys: u64,
    pub duplicates: Vec<String>,
}

/// The JSON of `GET /admin/state` (read back by [`crate::testing::AdminClient`]).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateDump {
    pub control_plane_key_id: String,
    pub control_plane_public_key: String,
    pub store: String,
    pub devices: Vec<DeviceRecord>,
    pub nodes: Vec<NodeRecord>,
    /// Every standing hash-failure report (confirmed, unverifiable, or
    /// about an origin), grouped by item and source.
    pub hash_failures: Vec<HashFailureReport>,
    /// Reports the control plane checked against the node and found false.
    pub refuted_hash_failures: Vec<HashFailureReport>,
    /// How often each kind of change was applied.
    pub applied: BTreeMap<String, i64>,
    /// Requests received per route (`METHOD /path/{param}`), by all instances.
    pub requests: BTreeMap<String, i64>,
    pub idempotency_records: usize,
    pub executions: Executions,
    /// How many member accounts exist.
    #[serde(default)]
    pub members: usize,
    /// Every open member session.
    #[serde(default)]
    pub sessions: Vec<crate::members::SessionRecord>,
    /// Every activity's funnel, as its merchant reads it.
    #[serde(default)]
    pub funnels: Vec<edgepoints_protocol::coupons::funnel::ActivityFunnel>,
}

/// The whole control-plane state, shared by every instance serving it.
pub struct ControlPlane {
    pub key: ControlPlaneKey,
    store: Arc<dyn StateStore>,
    /// This instance's routing index, rebuilt from the shared node records
    /// when their version moved (another instance may have changed them).
    pub(crate) routing: tokio::sync::Mutex<(i64, crate::routing::RoutingIndex)>,
    /// The simulated cars this process hosts, if it hosts them.
    fleet: std::sync::Mutex<Option<Arc<crate::vehicles::Fleet>>>,
    /// Whether this process hosts cars at all (a process over Redis may
    /// leave them to another).
    hosts_vehicles: std::sync::atomic::AtomicBool,
    /// Whether the queue consumers and the sweep run for this state.
    background: std::sync::Once,
    /// Names this process's queue consumers.
    pub(crate) instance_id: String,
    /// Devices' public keys, decoded once for all their signed requests.
    pub(crate) device_keys: crate::device_keys::DeviceKeys,
    /// Devices' envelope signatures, checked in batches under load.
    pub(crate) signature_batches: crate::signature_batches::SignatureBatches,
}

impl ControlPlane {
    /// Opens the control plane over `store`. The signing key is shared through
    /// the store: the first instance makes it (from `seed`, or at random),
    /// the others read it. A `seed` that disagrees with the stored one fails.
    pub async fn open(store: Arc<dyn StateStore>, seed: Option<[u8; 32]>) -> Result<ControlPlane, StoreError> {
        let proposed = match seed {
            Some(seed) => seed,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| StoreError::Corrupt {
                    key: keys::SEED.into(),
                    reason: format!("no randomness: {e}"),
                })?;
                seed
            }
        };
        let stored = update_json::<String, String, String>(&*store, keys::SEED, |current| match current {
            None => Ok((Some(hex::encode(proposed)), hex::encode(proposed))),
            Some(existing) if seed.is_some() && existing != hex::encode(proposed) => {
                Err("the store holds another control-plane key".to_owned())
            }
            Some(existing) => Ok((Some(existing.clone()), existing)),
        })
        .await?
        .map_err(|reason| StoreError::Corrupt {
            key: keys::SEED.into(),
            reason,
        })?;
        let seed: [u8; 32] = hex::decode(&stored)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt {
                key: keys::SEED.into(),
                reason: "not 32 bytes of hex".into(),
            })?;
        let mut instance = [0u8; 4];
        getrandom::fill(&mut instance).expect("the system has randomness");
        Ok(ControlPlane {
            key: ControlPlaneKey::from_seed(seed),
            store,
            routing: tokio::sync::Mutex::new((-1, crate::routing::RoutingIndex::default())),
            fleet: std::sync::Mutex::new(None),
            hosts_vehicles: std::sync::atomic::AtomicBool::new(true),
            background: std::sync::Once::new(),
            instance_id: format!("cp-{}", hex::encode(instance)),
            device_keys: Default::default(),
            signature_batches: Default::default(),
        })
    }

    /// An in-memory control plane, as the embedded default uses.
    pub async fn in_memory(seed: Option<[u8; 32]>) -> ControlPlane {
        ControlPlane::open(Arc::new(crate::store::MemoryStore::default()), seed)
            .await
            .expect("the memory store cannot fail")
    }

    pub fn store(&self) -> &dyn StateStore {
        &*self.store
    }

    /// The cars this process hosts, once [`ControlPlane::host_vehicles`] ran.
    pub fn fleet(&self) -> Option<Arc<crate::vehicles::Fleet>> {
        self.fleet.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Leaves the cars to another process: instances started over this
    /// state do not host them.
    pub fn without_vehicles(&self) {
        self.hosts_vehicles.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn hosts_vehicles(&self) -> bool {
        self.hosts_vehicles.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts a simulated car for every vehicle (and for every one added
    /// later through this process), once; the fleet.
    pub async fn host_vehicles(&self) -> Result<Arc<crate::vehicles::Fleet>, StoreError> {
        let fleet = {
            let mut slot = self.fleet.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| Arc::new(crate::vehicles::Fleet::new(self)))
                .clone()
        };
        fleet.host_all(self).await?;
        Ok(fleet)
    }

    /// Starts what runs behind the API for this state, once: the billing
    /// and SMS consumers, and the sweeps that expire holds, finish charging
    /// and settle bought coupons that expired unused. They hold the control plane weakly and stop when it goes.
    pub fn start_background(self: &Arc<Self>) {
        self.background.call_once(|| {
            for worker in crate::rental::workers::Worker::ALL {
                tokio::spawn(crate::rental::workers::run(
                    Arc::downgrade(self),
                    worker,
                    self.instance_id.clone(),
                ));
            }
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    let Some(plane) = weak.upgrade() else {
                        return;
                    };
                    if let Err(error) = crate::rental::housekeeping::sweep(&plane).await {
                        tracing::warn!(%error, "rental sweep failed");
                    }
                    if let Err(error) = crate::coupons::expiry::sweep(&plane).await {
                        tracing::warn!(%error, "sweep of expired bought coupons failed");
                    }
                }
            });
        });
    }

    pub async fn device(&self, id: &DeviceId) -> Result<Option<DeviceRecord>, StoreError> {
        get_json(self.store(), &keys::device(id.as_str())).await
    }

    pub async fn node(&self, id: &DeviceId) -> Result<Option<NodeRecord>, StoreError> {
        get_json(self.store(), &keys::node(id.as_str())).await
    }

    /// Whether a standing hash-failure report (confirmed, or not
    /// checkable; refuted ones are kept apart) says `node` served `content`
    /// wrong: such a node is not routed to for the item, and its receipts
    /// for it earn nothing.
    pub async fn node_stands_reported(&self, node: &DeviceId, content: &ContentHash) -> Result<bool, StoreError> {
        let source = keys::report_source(&FailedSource::Node { node_id: node.clone() });
        Ok(self
            .store()
            .get(&keys::hash_failures(&content.to_hex(), &source))
            .await?
            .is_some())
    }

    pub(crate) async fn count(&self, key: &str) -> Result<(), StoreError> {
        self.store.increment(key, 1).await.map(|_| ())
    }

    pub async fn dump(&self) -> Result<StateDump, StoreError> {
        let store = self.store();
        let devices = scan_json(store, keys::DEVICE_PREFIX).await?;
        let nodes = scan_json(store, keys::NODE_PREFIX).await?;
        let reports = |prefix: &'static str| async move {
            Ok::<_, StoreError>(
                scan_json::<Vec<HashFailureReport>>(store, prefix)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            )
        };
        let hash_failures = reports(keys::HASH_FAILURE_PREFIX).await?;
        let refuted_hash_failures = reports(keys::REFUTED_PREFIX).await?;
        let counters = |prefix: &'static str| async move {
            Ok::<_, StoreError>(
                store
                    .scan(prefix)
                    .await?
                    .into_iter()
                    .map(|(k, v)| {
                        let n = std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                        (k[prefix.len()..].to_owned(), n)
                    })
                    .collect::<BTreeMap<String, i64>>(),
            )
        };
        let executions = counters(keys::EXECUTIONS_PREFIX).await?;
        Ok(StateDump {
            control_plane_key_id: self.key.key_id().to_owned(),
            control_plane_public_key: self.key.public_key(),
            store: store.describe(),
            devices,
            nodes,
            hash_failures,
            refuted_hash_failures,
            applied: counters(keys::APPLIED_PREFIX).await?,
            requests: counters(keys::REQUESTS_PREFIX).await?,
            idempotency_records: store.scan(keys::IDEMPOTENCY_PREFIX).await?.len(),
            members: crate::members::member_count(self).await?,
            funnels: {
                let mut funnels = Vec::new();
                let activities: Vec<crate::coupons::activities::ActivityRecord> =
                    scan_json(store, keys::ACTIVITY_PREFIX).await?;
                for record in &activities {
                    funnels.push(crate::coupons::funnel::funnel(self, record).await?);
                }
                funnels
            },
            sessions: crate::members::sessions(self).await?,
            executions: Executions {
                keys: executions.len() as u64,
                duplicates: executions
                    .into_iter()
                    .filter(|(_, n)| *n > 1)
                    .map(|(k, n)| format!("{k} ran {n} times"))
                    .collect(),
            },
        })
    }
}

pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
