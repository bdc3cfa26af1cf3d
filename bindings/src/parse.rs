//! Text from Kotlin and Swift into the core's types; a bad text is
//! `InvalidInput` naming what it was.

use edgepoints_core as core;

use crate::EdgePointsError;

fn invalid(what: &str, text: &str, error: impl std::fmt::Display) -> EdgePointsError {
    EdgePointsError::InvalidInput {
        reason: format!("{what} `{text}`: {error}"),
    }
}

pub(crate) fn content_hash(text: &str) -> Result<core::ContentHash, EdgePointsError> {
    core::ContentHash::parse(text).map_err(|e| EdgePointsError::InvalidInput { reason: e.to_string() })
}

pub(crate) fn socket_address(text: &str) -> Result<std::net::SocketAddr, EdgePointsError> {
    text.parse().map_err(|e| invalid("listen address", text, e))
}

pub(crate) fn ip_addresses(texts: &[String]) -> Result<Vec<std::net::IpAddr>, EdgePointsError> {
    texts
        .iter()
        .map(|text| text.parse().map_err(|e| invalid("address", text, e)))
        .collect()
}

pub(crate) fn endpoints(texts: &[String]) -> Result<Vec<url::Url>, EdgePointsError> {
    texts
        .iter()
        .map(|text| text.parse().map_err(|e| invalid("endpoint", text, e)))
        .collect()
}
