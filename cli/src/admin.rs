//! The mock control plane's admin API, as the CLI reaches it: the mock's own
//! typed client over the SDK's HTTP setup.

pub(crate) use edgepoints_mock_server::testing::AdminClient;

use crate::CliResult;

/// A client of the admin API of the mock at `base`.
pub(crate) fn admin_client(base: &str) -> CliResult<AdminClient> {
    Ok(AdminClient::new(base, edgepoints_core::transport::http_client()?))
}
