//! The link to the car: bytes over a channel only the host has (Bluetooth
//! on a phone). The host implements [`VehicleLink`]; it only carries bytes
//! — the SDK builds, signs and checks everything that travels.
//!
//! A link is app code: it may fail, throw or hang. Each exchange runs on
//! the blocking pool with a deadline; a failure of any kind is a lost
//! answer, which the SDK settles by asking the car (never by guessing).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// Longest the SDK waits for one exchange.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an exchange failed, as the host says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VehicleLinkError {
    pub message: String,
}

impl VehicleLinkError {
    pub fn new(message: impl Into<String>) -> Self {
        VehicleLinkError {
            message: message.into(),
        }
    }
}

/// Carries bytes to a car and its answer back.
pub trait VehicleLink: Send + Sync + 'static {
    /// Sends `request` to the car `vehicle_id`, reached at `address` (the
    /// vehicle's `link` as the control plane gives it), and returns the
    /// car's answer as it came.
    fn exchange(&self, vehicle_id: String, address: String, request: Vec<u8>) -> Result<Vec<u8>, VehicleLinkError>;
}

/// One exchange through the host's link; any failure (error, panic,
/// timeout) is [`Error::VehicleUnreachable`].
pub(crate) async fn exchange(
    link: Arc<dyn VehicleLink>,
    vehicle_id: &str,
    address: &str,
    request: Vec<u8>,
) -> Result<Vec<u8>, Error> {
    let (vehicle_id, address) = (vehicle_id.to_owned(), address.to_owned());
    let call = tokio::task::spawn_blocking(move || {
        catch_unwind(AssertUnwindSafe(|| link.exchange(vehicle_id, address, request)))
    });
    match tokio::time::timeout(LINK_TIMEOUT, call).await {
        Err(_) => Err(Error::VehicleUnreachable("the link did not answer in time".into())),
        Ok(Err(join)) => Err(Error::VehicleUnreachable(format!("the link task failed: {join}"))),
        Ok(Ok(Err(_panic))) => Err(Error::VehicleUnreachable("the host's link panicked".into())),
        Ok(Ok(Ok(Err(error)))) => Err(Error::VehicleUnreachable(error.message)),
        Ok(Ok(Ok(Ok(answer)))) => Ok(answer),
    }
}
