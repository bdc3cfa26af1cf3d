//! The mock control plane's admin API, as the CLI uses it (state and faults).
//! Over HTTP, so it works the same for an embedded and a remote mock.

use serde_json::Value;

use crate::CliResult;

pub(crate) struct AdminClient {
    http: reqwest::Client,
    base: String,
}

impl AdminClient {
    pub(crate) fn new(base: &str) -> CliResult<Self> {
        let http = edgepoints_core::transport::http_client()?;
        Ok(AdminClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    pub(crate) async fn state(&self) -> CliResult<Value> {
        Ok(self
            .http
            .get(format!("{}/admin/state", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Adds a rule; a refused rule comes back with the control plane's reason.
    pub(crate) async fn add_fault(&self, rule: Value) -> CliResult {
        let response = self
            .http
            .post(format!("{}/admin/faults", self.base))
            .json(&rule)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("fault refused: {}", response.text().await?).into());
        }
        Ok(())
    }

    pub(crate) async fn faults(&self) -> CliResult<Value> {
        Ok(self
            .http
            .get(format!("{}/admin/faults", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    pub(crate) async fn reset_faults(&self) -> CliResult {
        self.http
            .delete(format!("{}/admin/faults", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Requests the mock received on `route` (`METHOD /path/{param}`).
    pub(crate) async fn requests_on(&self, route: &str) -> CliResult<u64> {
        Ok(self.state().await?["requests"][route].as_u64().unwrap_or(0))
    }
}
