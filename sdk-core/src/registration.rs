//! Registering the device with the control plane: once, remembered.

use edgepoints_protocol::{paths, DeviceRegistered, DeviceRegistration, Purpose};
use reqwest::Method;
use rusqlite::OptionalExtension;

use crate::edgepoints::Shared;
use crate::events::Event;
use crate::identity::new_idempotency_key;
use crate::transport::Outgoing;
use crate::{Error, StoreError};

/// What the control plane said when it registered this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub device_id: String,
    pub registered_at_ms: u64,
    pub control_plane_key_id: String,
    pub control_plane_public_key: String,
}

/// The stored registration, if the control plane has answered one.
pub(crate) fn stored(shared: &Shared) -> Result<Option<Registration>, StoreError> {
    let device_id = shared.identity.device_id().to_string();
    shared.store.with(|c| {
        Ok(c.query_row(
            "SELECT registered_at_ms, control_plane_key_id, control_plane_public_key
             FROM registration WHERE registered_at_ms IS NOT NULL",
            [],
            |row| {
                Ok(Registration {
                    device_id: device_id.clone(),
                    registered_at_ms: row.get::<_, i64>(0)? as u64,
                    control_plane_key_id: row.get(1)?,
                    control_plane_public_key: row.get(2)?,
                })
            },
        )
        .optional()?)
    })
}

/// Registers unless already registered. The idempotency key is stored before
/// the first send, so a call interrupted by a crash is the same request when
/// it is made again, and the control plane answers it from its stored result.
pub(crate) async fn register(shared: &Shared) -> Result<Registration, Error> {
    if let Some(done) = stored(shared)? {
        return Ok(done);
    }
    let key = shared.store.with(|c| {
        let tx = c.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO registration (singleton, idempotency_key) VALUES (1, ?1)",
            [new_idempotency_key()?],
        )?;
        let key: String = tx.query_row("SELECT idempotency_key FROM registration", [], |r| r.get(0))?;
        tx.commit()?;
        Ok(key)
    })?;
    let payload = DeviceRegistration {
        device_id: shared.identity.device_id().clone(),
        public_key: shared.identity.public_key(),
        platform: shared.config.platform.clone(),
        app_version: shared.config.app_version.clone(),
        sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let envelope = shared.identity.sign(Purpose::DeviceRegistration, &payload);
    let answer = shared
        .transport
        .call::<DeviceRegistered>(Outgoing {
            method: Method::POST,
            path: paths::DEVICES,
            body: Some(serde_json::to_vec(&envelope).expect("envelope serialises")),
            idempotency_key: Some(&key),
        })
        .await?;
    let registered = answer.value;
    if registered.device_id != *shared.identity.device_id() {
        return Err(Error::Protocol(format!(
            "control plane registered {} instead of {}",
            registered.device_id,
            shared.identity.device_id()
        )));
    }
    shared.store.with(|c| {
        c.execute(
            "UPDATE registration SET registered_at_ms = ?1, control_plane_key_id = ?2, control_plane_public_key = ?3",
            rusqlite::params![
                registered.registered_at_ms as i64,
                registered.control_plane_key_id,
                registered.control_plane_public_key
            ],
        )?;
        Ok(())
    })?;
    tracing::info!(device_id = %registered.device_id, replayed = answer.replayed, attempts = answer.attempts, "device registered");
    shared.events.emit(Event::Registered {
        device_id: registered.device_id.to_string(),
    });
    Ok(Registration {
        device_id: registered.device_id.to_string(),
        registered_at_ms: registered.registered_at_ms,
        control_plane_key_id: registered.control_plane_key_id,
        control_plane_public_key: registered.control_plane_public_key,
    })
}
