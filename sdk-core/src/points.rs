//! Points: what this device earned by serving, as the control plane keeps
//! it. The device never computes a balance: it only reads one. While a
//! member is logged in, what the device earns is the member's, and these
//! read the member's balance and ledger (each entry naming the device
//! that earned it).

use edgepoints_protocol::{paths, LedgerPage, PointsBalance};

use crate::edgepoints::EdgePoints;
use crate::Error;

/// This device's points. Obtained from [`EdgePoints::points`].
#[derive(Clone)]
pub struct Points {
    sdk: EdgePoints,
}

impl Points {
    pub(crate) fn new(sdk: EdgePoints) -> Self {
        Points { sdk }
    }

    /// The balance, today's credits against the daily cap, and the online
    /// time credited so far.
    pub async fn balance(&self) -> Result<PointsBalance, Error> {
        let device = self.sdk.device_id();
        self.read(paths::device_points(&device), paths::device_member_points(&device))
            .await
    }

    /// Ledger entries after entry `after` (0 for the first page), oldest
    /// first; `next_after` names the next page if there is one.
    pub async fn ledger(&self, after: u64) -> Result<LedgerPage, Error> {
        let device = self.sdk.device_id();
        self.read(
            paths::device_ledger(&device, after),
            paths::device_member_ledger(&device, after),
        )
        .await
    }

    /// A signed read of the member's path while a member is logged in,
    /// else of the device's; registered first if need be.
    async fn read<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        device_path: String,
        member_path: String,
    ) -> Result<T, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move {
                let shared = sdk.shared();
                if shared.member().borrow().is_some() {
                    crate::members::session::member_get(shared, member_path).await
                } else {
                    crate::transport::signed_get(shared, device_path, Vec::new()).await
                }
            })
            .await
    }
}
