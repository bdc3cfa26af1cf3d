//! Direct signed calls: a device-signed envelope POSTed now (not through
//! the outbox), with one idempotency key for all its attempts, so a lost
//! answer is replayed rather than applied twice. For calls whose payload
//! must not be stored (a password) or that are only worth making now (a
//! heartbeat).

use edgepoints_protocol::Purpose;
use reqwest::Method;

use crate::shared::Shared;
use crate::transport::{retrying, Outgoing};
use crate::Error;

/// POSTs `payload`, signed for `purpose`, to `path`; the answer's body.
pub(crate) async fn signed_post<T: serde::Serialize>(
    shared: &Shared,
    purpose: Purpose,
    path: String,
    payload: &T,
) -> Result<Vec<u8>, Error> {
    let envelope = shared.identity().sign(purpose, payload);
    let body = serde_json::to_vec(&envelope).expect("envelope serialises");
    let key = crate::identity::new_idempotency_key()?;
    retrying(shared, || Outgoing {
        method: Method::POST,
        path: path.clone(),
        body: Some(body.clone()),
        idempotency_key: Some(key.clone()),
        headers: Vec::new(),
    })
    .await
}
