//! Merchants, and the staff devices that act for them: a merchant (made by
//! QA over the admin API) gets one-time enrolment codes; a registered
//! device that enrols with one acts for that merchant from then on, and for
//! no other. Devices that never enrolled are customers.

use edgepoints_protocol::DeviceId;
use serde::{Deserialize, Serialize};

use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, put_json, scan_json, StoreError};
use crate::ControlPlane;

/// A merchant and its shops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MerchantRecord {
    /// 16 bytes, hex.
    pub merchant_id: String,
    pub name: String,
    pub shops: Vec<String>,
    /// Whose review rules its activities are checked against.
    pub tenant: String,
    /// Where shops are, by name (for customers nearby).
    #[serde(default)]
    pub shop_locations: std::collections::BTreeMap<String, edgepoints_protocol::Location>,
    pub created_at_ms: u64,
}

/// A merchant as QA made it, with a first enrolment code.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MerchantCreated {
    #[serde(flatten)]
    pub merchant: MerchantRecord,
    pub enrolment_code: String,
}

/// Another enrolment code of a merchant.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnrolmentCode {
    pub enrolment_code: String,
}

pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system has randomness");
    hex::encode(bytes)
}

fn merchant_key(merchant_id: &str) -> String {
    format!("{}{merchant_id}", keys::MERCHANT_PREFIX)
}

fn code_key(code: &str) -> String {
    format!("{}{code}", keys::ENROLMENT_CODE_PREFIX)
}

fn device_key(device: &DeviceId) -> String {
    format!("{}{device}", keys::MERCHANT_DEVICE_PREFIX)
}

/// A new merchant.
pub async fn create(
    control_plane: &ControlPlane,
    name: &str,
    shops: Vec<String>,
    tenant: &str,
    shop_locations: std::collections::BTreeMap<String, edgepoints_protocol::Location>,
) -> Result<MerchantRecord, StoreError> {
    let record = MerchantRecord {
        merchant_id: random_id(),
        name: name.to_owned(),
        shops,
        tenant: tenant.to_owned(),
        shop_locations,
        created_at_ms: now(control_plane).await?,
    };
    put_json(control_plane.store(), &merchant_key(&record.merchant_id), &record).await?;
    Ok(record)
}

pub async fn merchant(control_plane: &ControlPlane, merchant_id: &str) -> Result<Option<MerchantRecord>, StoreError> {
    get_json(control_plane.store(), &merchant_key(merchant_id)).await
}

pub async fn merchants(control_plane: &ControlPlane) -> Result<Vec<MerchantRecord>, StoreError> {
    scan_json(control_plane.store(), keys::MERCHANT_PREFIX).await
}

/// A one-time enrolment code for `merchant_id`: 10 characters, easy to
/// type, 50 bits of chance.
pub async fn new_enrolment_code(control_plane: &ControlPlane, merchant_id: &str) -> Result<String, StoreError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).expect("the system has randomness");
    let code: String = random.iter().map(|b| ALPHABET[usize::from(*b) % 32] as char).collect();
    put_json(control_plane.store(), &code_key(&code), &merchant_id.to_owned()).await?;
    Ok(code)
}

/// Why an enrolment was refused.
#[derive(Debug)]
pub enum EnrolmentRefused {
    /// Unknown, or used already.
    BadCode,
    /// The device acts for another merchant.
    OtherMerchant,
}

/// Enrols `device` with `code`: the code is spent in the same swap that
/// reads it, so it enrols one device once.
pub async fn enrol(
    control_plane: &ControlPlane,
    device: &DeviceId,
    code: &str,
) -> Result<Result<MerchantRecord, EnrolmentRefused>, StoreError> {
    let code = code.trim().to_uppercase();
    let Some(current) = control_plane.store().get(&code_key(&code)).await? else {
        return Ok(Err(EnrolmentRefused::BadCode));
    };
    let merchant_id: String = serde_json::from_slice(&current).map_err(|e| StoreError::Corrupt {
        key: code_key(&code),
        reason: e.to_string(),
    })?;
    if let Some(other) = merchant_of(control_plane, device).await? {
        if other != merchant_id {
            return Ok(Err(EnrolmentRefused::OtherMerchant));
        }
    }
    if !control_plane
        .store()
        .compare_and_swap(&code_key(&code), Some(&current), None)
        .await?
    {
        return Ok(Err(EnrolmentRefused::BadCode));
    }
    put_json(control_plane.store(), &device_key(device), &merchant_id).await?;
    let record = merchant(control_plane, &merchant_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            key: merchant_key(&merchant_id),
            reason: "an enrolment code of a merchant that does not exist".into(),
        })?;
    tracing::info!(%device, merchant_id, "merchant device enrolled");
    Ok(Ok(record))
}

/// The merchant `device` acts for, if it enrolled.
pub async fn merchant_of(control_plane: &ControlPlane, device: &DeviceId) -> Result<Option<String>, StoreError> {
    get_json(control_plane.store(), &device_key(device)).await
}
