//! Checking a hash-failure report: before a consumer's word excludes a
//! node, the control plane fetches the item from that node itself, as a
//! consumer would, and hashes what it gets.
//!
//! The check is made under a ticket naming the reporter, so the node sees
//! the same request it would see from the consumer retrying. (A node could
//! still tell the control plane's address from a consumer's; a production
//! manager would check from addresses nodes cannot single out, and more
//! than once.)

use std::time::Duration;

use edgepoints_protocol::{AccessTicket, ContentHash, DeviceId, ReportVerdict, TICKET_HEADER};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use serde::{Deserialize, Serialize};

use crate::state::{keys, unix_millis};
use crate::store::{get_json, put_json, StoreError};
use crate::ControlPlane;

/// How long the whole check may take, connect to last byte: well inside
/// the reporting device's request timeout, which waits for the answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A check's outcome stands this long for its reporter: the same device
/// reporting the same node and item again meanwhile gets the same verdict,
/// so one device cannot make the control plane download an item from a
/// node over and over. Another reporter gets a check of its own: a copy
/// that rots right after a false report is still caught.
const CHECK_STANDS_MS: u64 = 60_000;

#[derive(Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
struct StandingCheck {
    verdict: ReportVerdict,
    at_ms: u64,
}

/// The verdict on a report that `node` served `content` wrong: the last
/// check's if it is recent, else a new check's.
pub async fn verdict(
    control_plane: &ControlPlane,
    node: &DeviceId,
    url: &str,
    content: &ContentHash,
    size: u64,
    reporter: &DeviceId,
) -> Result<ReportVerdict, StoreError> {
    let key = keys::report_check(&content.to_hex(), node.as_str(), reporter.as_str());
    let now = unix_millis();
    if let Some(standing) = get_json::<StandingCheck>(control_plane.store(), &key).await? {
        if now.saturating_sub(standing.at_ms) < CHECK_STANDS_MS {
            return Ok(standing.verdict);
        }
    }
    let verdict = check_node(control_plane, node, url, content, size, reporter).await;
    let standing = StandingCheck { verdict, at_ms: now };
    put_json(control_plane.store(), &key, &standing).await?;
    Ok(verdict)
}

/// Fetches `content` (of `size` bytes) from the node at `url` and says
/// whether it hashes right.
async fn check_node(
    control_plane: &ControlPlane,
    node: &DeviceId,
    url: &str,
    content: &ContentHash,
    size: u64,
    reporter: &DeviceId,
) -> ReportVerdict {
    let ticket = AccessTicket {
        node_id: node.clone(),
        consumer_id: reporter.clone(),
        content: *content,
        expires_at_ms: unix_millis() + CHECK_TIMEOUT.as_millis() as u64,
    }
    .sign(control_plane.key.key_id(), control_plane.key.signing_key());
    let fetched = tokio::time::timeout(CHECK_TIMEOUT, fetch(url, content, size, &ticket)).await;
    match fetched {
        Ok(Ok(Some(bytes))) if ContentHash::of(&bytes) == *content => ReportVerdict::Refuted,
        Ok(Ok(_)) => {
            tracing::warn!(%node, %content, "the node served the control plane wrong bytes too");
            ReportVerdict::Confirmed
        }
        Ok(Err(why)) => {
            tracing::info!(%node, %content, %why, "could not check the node");
            ReportVerdict::Unverified
        }
        Err(_) => ReportVerdict::Unverified,
    }
}

/// One plain HTTP/1.1 `GET` of the item: its bytes, or `None` when it sent
/// more than the item has (read no further: that is not the item).
async fn fetch(url: &str, content: &ContentHash, size: u64, ticket: &str) -> Result<Option<Vec<u8>>, String> {
    let base = url::Url::parse(url).map_err(|e| e.to_string())?;
    if base.scheme() != "http" {
        return Err(format!("only http nodes are checked, not {}", base.scheme()));
    }
    let host = base.host_str().ok_or("no host")?.to_owned();
    let port = base.port_or_known_default().ok_or("no port")?;
    let target = base
        .join(&format!("content/{}", content.to_hex()))
        .map_err(|e| e.to_string())?;
    let stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(target.path())
        .header(hyper::header::HOST, base.authority())
        .header(TICKET_HEADER, ticket)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    if response.status() != hyper::StatusCode::OK {
        return Err(format!("status {}", response.status()));
    }
    let limit = usize::try_from(size).unwrap_or(usize::MAX);
    match Limited::new(response.into_body(), limit).collect().await {
        Ok(collected) => Ok(Some(collected.to_bytes().to_vec())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}
