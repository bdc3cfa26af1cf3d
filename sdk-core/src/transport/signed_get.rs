//! Signed reads: a `GET` the control plane answers only to this device,
//! signed by its key (the path and the time, see `request_auth`), and
//! retried like any call. Reads change nothing, so they skip the outbox.

use serde::de::DeserializeOwned;

use crate::shared::Shared;
use crate::transport::{retrying, Outgoing};
use crate::Error;

/// A signed `GET` of `path`, with extra (unsigned) `headers`.
pub(crate) async fn signed_get<T: DeserializeOwned>(
    shared: &Shared,
    path: String,
    headers: Vec<(&'static str, String)>,
) -> Result<T, Error> {
    let body = retrying(shared, || {
        let mut request = Outgoing::get(path.clone());
        request.headers.extend(headers.iter().cloned());
        request.headers.push((
            edgepoints_protocol::request_auth::DEVICE_SIGNATURE_HEADER,
            shared.identity().sign_request("GET", &path, crate::time::unix_millis()),
        ));
        request
    })
    .await?;
    serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{path}: {e}")))
}
