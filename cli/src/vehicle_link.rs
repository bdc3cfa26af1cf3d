//! The CLI's link to cars: HTTP to the address the control plane gives a
//! car, which is where the mock's simulated cars listen. A phone's link
//! writes the same bytes over Bluetooth; the SDK does the rest either way.

use std::sync::Arc;
use std::time::Duration;

use edgepoints_core::{VehicleLink, VehicleLinkError};

pub(crate) struct HttpVehicleLink {
    http: reqwest::Client,
}

impl HttpVehicleLink {
    pub(crate) fn shared() -> Result<Arc<dyn VehicleLink>, edgepoints_core::Error> {
        Ok(Arc::new(HttpVehicleLink {
            http: edgepoints_core::transport::http_client()?,
        }))
    }
}

impl VehicleLink for HttpVehicleLink {
    fn exchange(&self, _vehicle_id: String, address: String, request: Vec<u8>) -> Result<Vec<u8>, VehicleLinkError> {
        let http = self.http.clone();
        // The SDK calls the link on its blocking pool, inside its runtime.
        tokio::runtime::Handle::current().block_on(async move {
            let answer = http
                .post(format!("{}/link", address.trim_end_matches('/')))
                .body(request)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| VehicleLinkError::new(e.to_string()))?;
            if !answer.status().is_success() {
                return Err(VehicleLinkError::new(format!("the car answered {}", answer.status())));
            }
            answer
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| VehicleLinkError::new(e.to_string()))
        })
    }
}
