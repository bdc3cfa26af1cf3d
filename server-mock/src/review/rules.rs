//! Each tenant's review rules, in the shared state, editable over the
//! admin API; a tenant that set none has [`super::default_rules`].

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

/// The tenant's rules, compiled.
pub async fn reviewer(control_plane: &ControlPlane, tenant: &str) -> Result<Reviewer, StoreError> {
    let rules = rules(control_plane, tenant).await?;
    // Stored rules compiled when they were set; the defaults are tested.
    Ok(Reviewer::new(&rules).unwrap_or_else(|_| Reviewer::new(&default_rules()).expect("the default rules compile")))
}
