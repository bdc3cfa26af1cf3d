//! Each tenant's review rules, in the shared state, editable over the
//! admin API; a tenant that set none has [`super::default_rules`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use edgepoints_protocol::review::ReviewRules;

use super::{default_rules, Reviewer, RulesError};
use crate::state::keys;
use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

/// The tenant of everything the mock serves until merchants name theirs.
pub const DEFAULT_TENANT: &str = "default";

fn rules_key(tenant: &str) -> String {
    format!("{}{tenant}", keys::REVIEW_RULES_PREFIX)
}

pub async fn rules(control_plane: &ControlPlane, tenant: &str) -> Result<ReviewRules, StoreError> {
    Ok(get_json(control_plane.store(), &rules_key(tenant))
        .await?
        .unwrap_or_else(default_rules))
}

/// Replaces the tenant's rules; refused (and nothing changed) if they do
/// not compile.
pub async fn set_rules(
    control_plane: &ControlPlane,
    tenant: &str,
    rules: &ReviewRules,
) -> Result<Result<(), RulesError>, StoreError> {
    if let Err(error) = Reviewer::new(rules) {
        return Ok(Err(error));
    }
    put_json(control_plane.store(), &rules_key(tenant), rules).await?;
    Ok(Ok(()))
}

/// Compiled rule sets by the hash of their JSON: another instance may
/// have changed a tenant's rules in the shared state, so the rules are read
/// every time, but compiled only when they are new to this process.
fn compiled() -> &'static Mutex<HashMap<[u8; 32], Arc<Reviewer>>> {
    static COMPILED: OnceLock<Mutex<HashMap<[u8; 32], Arc<Reviewer>>>> = OnceLock::new();
    COMPILED.get_or_init(Mutex::default)
}

/// Rule sets kept compiled at most; past it, the cache starts over.
const COMPILED_LIMIT: usize = 64;

/// The tenant's rules, compiled.
pub async fn reviewer(control_plane: &ControlPlane, tenant: &str) -> Result<Arc<Reviewer>, StoreError> {
    let rules = rules(control_plane, tenant).await?;
    let id = *blake3::hash(&serde_json::to_vec(&rules).expect("rules serialise")).as_bytes();
    if let Some(reviewer) = compiled().lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(reviewer.clone());
    }
    // Stored rules compiled when they were set; the defaults are tested.
    let reviewer = Arc::new(
        Reviewer::new(&rules).unwrap_or_else(|_| Reviewer::new(&default_rules()).expect("the default rules compile")),
    );
    let mut cache = compiled().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= COMPILED_LIMIT {
        cache.clear();
    }
    cache.insert(id, reviewer.clone());
    Ok(reviewer)
}
