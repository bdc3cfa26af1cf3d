//! The Tokio runtime the SDK's background work runs on when the host is
//! Kotlin or Swift (they have none). Two worker threads: the SDK waits on
//! the network far more than it computes.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::EdgePointsError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

pub(crate) fn runtime() -> Result<&'static Runtime, EdgePointsError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("edgepoints")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| EdgePointsError::Internal {
            reason: format!("cannot start the SDK runtime: {reason}"),
        })
}
