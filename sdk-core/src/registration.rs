//! Registering the device with the control plane: once, remembered.

use edgepoints_protocol::{paths, DeviceRegistered, DeviceRegistration, Purpose};
use reqwest::Method;
use rusqlite::{OptionalExtension, Transaction};

use crate::events::Event;
use crate::outbox::{self, EntryKind, NewEntry};
use crate::shared::Shared;
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
    let device_id = shared.identity().device_id().to_string();
    shared.store().with(|c| {
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

/// Makes sure a registration is done or on its way: returns the pending
/// outbox entry, writing one if there is none. Inside the caller's
/// transaction, so whatever the caller queues after it goes after it.
pub(crate) fn ensure_queued(shared: &Shared, tx: &Transaction<'_>) -> Result<Option<i64>, StoreError> {
    let registered: bool = tx
        .query_row(
            "SELECT 1 FROM registration WHERE registered_at_ms IS NOT NULL",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if registered {
        return Ok(None);
    }
    if let Some(pending) = outbox::pending_of_kind(tx, EntryKind::Registration)? {
        return Ok(Some(pending));
    }
    let payload = DeviceRegistration {
        device_id: shared.identity().device_id().clone(),
        public_key: shared.identity().public_key(),
        platform: shared.config().platform.clone(),
        app_version: shared.config().app_version.clone(),
        sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let envelope = shared.identity().sign(Purpose::DeviceRegistration, &payload);
    let (id, _key) = outbox::enqueue(
        tx,
        NewEntry {
            kind: EntryKind::Registration,
            method: Method::POST,
            path: paths::DEVICES.to_owned(),
            body: serde_json::to_vec(&envelope).expect("envelope serialises"),
            context: serde_json::json!({}),
            idempotency_key: None,
        },
    )?;
    Ok(Some(id))
}

/// Registers unless already registered; waits for the answer as a direct
/// call would (see [`outbox::wait`]).
pub(crate) async fn register(shared: &Shared) -> Result<Registration, Error> {
    if let Some(done) = stored(shared)? {
        return Ok(done);
    }
    let pending = shared.store().with(|c| {
        let tx = c.transaction()?;
        let pending = ensure_queued(shared, &tx)?;
        tx.commit()?;
        Ok(pending)
    })?;
    if let Some(id) = pending {
        shared.outbox_wake().notify_one();
        outbox::wait(shared, id).await?;
    }
    stored(shared)?.ok_or_else(|| Error::Protocol("registration answered but not stored".into()))
}

/// Applies the control plane's answer to a registration (outbox worker).
pub(crate) fn apply_answer(shared: &Shared, tx: &Transaction<'_>, key: &str, body: &[u8]) -> Result<Vec<Event>, Error> {
    let registered: DeviceRegistered =
        serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("registration answer: {e}")))?;
    if registered.device_id != *shared.identity().device_id() {
        return Err(Error::Protocol(format!(
            "control plane registered {} instead of {}",
            registered.device_id,
            shared.identity().device_id()
        )));
    }
    tx.execute(
        "INSERT INTO registration (singleton, idempotency_key, registered_at_ms, control_plane_key_id,
                                   control_plane_public_key)
         VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (singleton) DO UPDATE SET idempotency_key = ?1, registered_at_ms = ?2,
             control_plane_key_id = ?3, control_plane_public_key = ?4",
        rusqlite::params![
            key,
            registered.registered_at_ms as i64,
            registered.control_plane_key_id,
            registered.control_plane_public_key
        ],
    )
    .map_err(StoreError::from)?;
    tracing::info!(device_id = %registered.device_id, "device registered");
    Ok(vec![Event::Registered {
        device_id: registered.device_id.to_string(),
    }])
}
