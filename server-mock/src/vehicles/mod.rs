//! The mock's cars: each a simulated device of its own, with its own HTTP
//! endpoint, its own key, the control-plane key it was provisioned with,
//! and its own counters, revocation list and readings. A car never reads
//! the control plane's state: it checks what the phone brings it offline
//! ([`edgepoints_protocol::rental::vehicle_check`]) and answers signed.
//!
//! A [`Fleet`] hosts the cars of one process. Starting a car is its
//! provisioning: the control plane learns its public key and where the
//! phone reaches it (what a Bluetooth identifier is for a real car).

mod simulated;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ed25519_dalek::{SigningKey, VerifyingKey};
use edgepoints_protocol::envelope::encode_public_key;
use edgepoints_protocol::{Purpose, SignedEnvelope};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use simulated::{CarView, CardTap, SimulatedVehicle};

use crate::rental::catalogue::{self, VehicleRecord};
use crate::store::StoreError;
use crate::ControlPlane;

/// Serials a car must refuse from now on, signed by the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VehicleRevocation {
    pub vehicle_id: String,
    pub serials: Vec<String>,
}

struct Hosted {
    car: Arc<SimulatedVehicle>,
    _stop: oneshot::Sender<()>,
}

/// The simulated cars this process hosts. Dropping it stops them.
pub struct Fleet {
    control_plane_keys: Vec<(String, VerifyingKey)>,
    cars: Mutex<BTreeMap<String, Hosted>>,
}

impl Fleet {
    pub(crate) fn new(control_plane: &ControlPlane) -> Fleet {
        Fleet {
            control_plane_keys: vec![(control_plane.key.key_id().to_owned(), control_plane.key.verifying_key())],
            cars: Mutex::new(BTreeMap::new()),
        }
    }

    fn cars(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Hosted>> {
        self.cars.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the car `vehicle_id` as its record describes it (where it
    /// stands, its battery and odometer: what it left the factory with),
    /// with a new key, and provisions it. A car hosted already stays.
    pub async fn host(&self, control_plane: &ControlPlane, vehicle_id: &str) -> Result<(), StoreError> {
        if self.cars().contains_key(vehicle_id) {
            return Ok(());
        }
        let Some(record) =
            crate::store::get_json::<VehicleRecord>(control_plane.store(), &catalogue::vehicle_key(vehicle_id)).await?
        else {
            return Ok(());
        };
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the system has randomness");
        let key = SigningKey::from_bytes(&seed);
        let public_key = encode_public_key(&key.verifying_key());
        let car = Arc::new(SimulatedVehicle::new(&record, key, self.control_plane_keys.clone()));
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| StoreError::Corrupt {
                key: vehicle_id.to_owned(),
                reason: format!("cannot listen for the simulated vehicle: {e}"),
            })?;
        let addr = listener.local_addr().expect("a bound listener has an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = simulated::router(car.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let link = format!("http://{addr}");
        {
            let mut cars = self.cars();
            if cars.contains_key(vehicle_id) {
                return Ok(());
            }
            cars.insert(vehicle_id.to_owned(), Hosted { car, _stop: stop });
        }
        catalogue::provisioned(control_plane, vehicle_id, public_key, link.clone()).await?;
        tracing::info!(vehicle_id, %link, "simulated vehicle provisioned");
        Ok(())
    }

    /// Hosts every vehicle the control plane has.
    pub async fn host_all(&self, control_plane: &ControlPlane) -> Result<(), StoreError> {
        for record in catalogue::vehicles(control_plane).await? {
            self.host(control_plane, &record.vehicle_id).await?;
        }
        Ok(())
    }

    /// The hosted car, for QA and tests (its own view, not the control plane's).
    pub fn car(&self, vehicle_id: &str) -> Option<Arc<SimulatedVehicle>> {
        self.cars().get(vehicle_id).map(|h| h.car.clone())
    }

    pub fn vehicle_ids(&self) -> Vec<String> {
        self.cars().keys().cloned().collect()
    }
}

/// Tells the car at `link` to refuse `serials` from now on, over its own
/// uplink (a telematics channel, not the phone), in the background, a few
/// times if it does not answer; the credential's expiry bounds it anyway.
pub(crate) fn push_revocation(
    control_plane: &ControlPlane,
    vehicle_id: &str,
    link: Option<String>,
    serials: Vec<String>,
) {
    let Some(link) = link else {
        return;
    };
    let envelope = SignedEnvelope::sign(
        Purpose::VehicleRevocation,
        control_plane.key.key_id(),
        control_plane.key.signing_key(),
        &VehicleRevocation {
            vehicle_id: vehicle_id.to_owned(),
            serials,
        },
    );
    let vehicle_id = vehicle_id.to_owned();
    let body = serde_json::to_vec(&envelope).expect("envelopes serialise");
    tokio::spawn(async move {
        for attempt in 0..5u32 {
            let sent = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                post_plain(&format!("{link}/uplink"), body.clone()),
            )
            .await;
            match sent {
                Ok(Ok(status)) if (200..300).contains(&status) => {
                    tracing::info!(%vehicle_id, "revocation delivered to the vehicle");
                    return;
                }
                Ok(Ok(status)) => tracing::info!(%vehicle_id, status, "the vehicle refused the revocation"),
                Ok(Err(error)) => tracing::info!(%vehicle_id, %error, "revocation not delivered"),
                Err(_) => tracing::info!(%vehicle_id, "revocation timed out"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        tracing::warn!(%vehicle_id, "the vehicle did not take the revocation");
    });
}

/// POSTs JSON `body` to a plain-HTTP `url` (the simulated cars' uplink);
/// the status. One connection per call: revocations are rare.
async fn post_plain(url: &str, body: Vec<u8>) -> Result<u16, String> {
    let url = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("no port")?;
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::post(url.path())
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let answer = sender.send_request(request).await.map_err(|e| e.to_string())?;
    Ok(answer.status().as_u16())
}
