//! What the host app tells the SDK when it opens it.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::transport::{OutlierPolicy, RetryBudgetPolicy, RetryPolicy};
use crate::Error;

/// Settings for one [`crate::EdgePoints`] instance.
///
/// ```
/// use edgepoints_core::Config;
/// let config = Config::new(vec!["http://127.0.0.1:8080".parse().unwrap()], "/tmp/ep");
/// assert_eq!(config.endpoints.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Control-plane endpoints. A member's calls stick to one of them and fail
    /// over to the others; the list is a list from day one.
    pub endpoints: Vec<Url>,
    /// Where the SDK keeps its SQLite file and cached content. The app owns
    /// the folder; one SDK instance per folder at a time.
    pub data_dir: PathBuf,
    /// Whole-request timeout of one attempt.
    pub request_timeout: Duration,
    /// TCP + TLS connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// When a failing endpoint is taken out of rotation, and for how long.
    pub outlier: OutlierPolicy,
    /// How many retries the SDK allows itself relative to its requests.
    pub retry_budget: RetryBudgetPolicy,
    /// Longest wait between attempts of an outbox entry during a long outage.
    pub outbox_max_delay: Duration,
    /// Most bytes of verified content kept on disk.
    pub content_disk_budget_bytes: u64,
    /// Most bytes of content kept in memory for serving.
    pub content_memory_budget_bytes: u64,
    /// Limits of the edge node's HTTP server.
    pub node_limits: NodeLimits,
    /// How long a fetch waits for a source's first bytes, and then between
    /// chunks, before giving up on it (a whole-item deadline would punish
    /// big items on slow links).
    pub source_idle_timeout: Duration,
    /// How long a fetch gives one node before asking the next one too; the
    /// first to deliver verified bytes wins.
    pub hedge_delay: Duration,
    /// Reported at registration: `android`, `ios`, `linux`, ...
    pub platform: String,
    /// The host app's version, reported at registration.
    pub app_version: String,
}

/// What the edge node's HTTP server allows a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    /// Connections served at once; more get 503 at once, not a queue.
    pub max_connections: usize,
    /// Time allowed to send a request's headers, and to start the next
    /// request on a kept-alive connection (no slowloris).
    pub header_read_timeout: Duration,
    /// Largest request head accepted (at least 8 KiB).
    pub max_header_bytes: usize,
    /// Upload rate cap over all responses, in bytes per second; 0 for none.
    pub upload_bytes_per_second: u64,
    /// Report loopback and link-local addresses too (tests, single hosts).
    pub report_local_addresses: bool,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            upload_bytes_per_second: 0,
            report_local_addresses: false,
        }
    }
}

impl Config {
    pub fn new(endpoints: Vec<Url>, data_dir: impl Into<PathBuf>) -> Self {
        Config {
            endpoints,
            data_dir: data_dir.into(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            outlier: OutlierPolicy::default(),
            retry_budget: RetryBudgetPolicy::default(),
            outbox_max_delay: Duration::from_secs(300),
            content_disk_budget_bytes: 512 * 1024 * 1024,
            content_memory_budget_bytes: 32 * 1024 * 1024,
            node_limits: NodeLimits::default(),
            source_idle_timeout: Duration::from_secs(5),
            hedge_delay: Duration::from_millis(300),
            platform: std::env::consts::OS.to_owned(),
            app_version: "unknown".to_owned(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.endpoints.is_empty() {
            return Err(Error::InvalidInput(
                "at least one control-plane endpoint is needed".into(),
            ));
        }
        for endpoint in &self.endpoints {
            if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host().is_none() {
                return Err(Error::InvalidInput(format!(
                    "control-plane endpoint `{endpoint}` is not an http(s) URL with a host"
                )));
            }
            if endpoint.query().is_some() || endpoint.fragment().is_some() {
                return Err(Error::InvalidInput(format!(
                    "control-plane endpoint `{endpoint}` must not carry a query or fragment"
                )));
            }
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(Error::InvalidInput("data directory is empty".into()));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() || self.source_idle_timeout.is_zero() {
            return Err(Error::InvalidInput("timeouts must be longer than zero".into()));
        }
        self.retry.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_endpoints() {
        let ok = Config::new(vec!["http://127.0.0.1:1".parse().unwrap()], "/tmp/x");
        assert!(ok.validate().is_ok());
        assert!(Config::new(vec![], "/tmp/x").validate().is_err());
        let ftp = Config::new(vec!["ftp://h/".parse().unwrap()], "/tmp/x");
        assert!(ftp.validate().is_err());
        let query = Config::new(vec!["http://h/?a=1".parse().unwrap()], "/tmp/x");
        assert!(query.validate().is_err());
    }
}
