//! Points: what this device earned by serving, as the control plane keeps
//! it. The device never computes a balance: it only reads one.

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
        self.read(paths::device_points(&self.sdk.device_id())).await
    }

    /// Ledger entries after entry `after` (0 for the first page), oldest
    /// first; `next_after` names the next page if there is one.
    pub async fn ledger(&self, after: u64) -> Result<LedgerPage, Error> {
        self.read(paths::device_ledger(&self.sdk.device_id(), after)).await
    }

    /// A signed read of `path`, registered first if need be.
    async fn read<T: serde::de::DeserializeOwned + Send + 'static>(&self, path: String) -> Result<T, Error> {
        self.sdk.register().await?;
        let sdk = self.sdk.clone();
        self.sdk
            .on_runtime(async move { crate::transport::signed_get(sdk.shared(), path, Vec::new()).await })
            .await
    }
}
