//! Edge nodes: announcements of where they serve and what they hold, the
//! sources of an item for a consumer (with a ticket per node), and reports
//! of sources that served the wrong bytes.
//!
//! Routing: when the asking device and the nodes have a location (from
//! their host, or from their address prefix, see [`crate::geo`]), the
//! routing index orders them by distance, then load (from heartbeats);
//! the others follow, freshest announcement first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::extract::Json;
use super::extract::Path;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use edgepoints_protocol::paths::templates;
use edgepoints_protocol::sources::{MAX_ANNOUNCED_ADDRESSES, MAX_ANNOUNCED_HOLDINGS};
use edgepoints_protocol::{
    paths, AccessTicket, ContentHash, ContentSources, DeviceId, FailedSource, HashFailureRecorded, HashFailureReport,
    Location, NodeAnnounced, NodeAnnouncement, NodeSource, ProblemCode, ReportVerdict, LOCATION_HEADER,
};

use super::auth::DeviceSigned;
use super::devices::{parse_device_id, signed_read, unknown_device};
use crate::problem::ApiError;
use crate::routing::Position;
use crate::state::{keys, unix_millis, NodeRecord};
use crate::store::{get_json, scan_json, update_json};
use crate::ControlPlane;
use crate::{geo, origin, registry, verify};

/// How long a ticket handed to a consumer lets it fetch from a node.
const TICKET_LIFETIME: Duration = Duration::from_secs(600);

/// Most nodes offered for one item: enough for a hedge and a spare.
const MAX_SOURCES: usize = 4;

/// Reports kept per item and source (the count goes on).
const MAX_REPORTS_KEPT: usize = 100;

fn unprocessable(title: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ProblemCode::MalformedRequest, title).detail(detail)
}

/// `ip:port` of a URL with an IP host.
fn url_authority(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    Some(SocketAddr::new(ip, url.port_or_known_default()?).to_string())
}

fn check_node_url(text: &str) -> Result<(), ApiError> {
    let url = url::Url::parse(text).map_err(|e| unprocessable("invalid node URL", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || text.len() > 256 {
        return Err(unprocessable(
            "invalid node URL",
            "an http(s) URL with a host, at most 256 bytes",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(unprocessable("invalid node URL", "no query or fragment"));
    }
    Ok(())
}

/// `PUT /v1/devices/{device_id}/node`: the node's newest announcement.
#[utoipa::path(
    put,
    path = templates::DEVICE_NODE,
    tag = "nodes",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<NodeAnnouncement>, description = "Signed by the device of the path"),
    responses((status = 200, body = NodeAnnounced), crate::openapi::Problems),
)]
pub(super) async fn announce(
    State(control_plane): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    DeviceSigned {
        device_id,
        payload: announcement,
        device,
    }: DeviceSigned<NodeAnnouncement>,
) -> Result<Json<NodeAnnounced>, ApiError> {
    if announcement.revision == 0 {
        return Err(ApiError::bad_request("announcement revisions start at 1"));
    }
    if announcement.holdings.len() > MAX_ANNOUNCED_HOLDINGS {
        return Err(unprocessable(
            "too many holdings",
            format!("at most {MAX_ANNOUNCED_HOLDINGS} per announcement"),
        ));
    }
    if let Some(url) = &announcement.url {
        check_node_url(url)?;
    }
    if announcement.location.is_some_and(|l| !l.is_valid()) {
        return Err(unprocessable(
            "invalid location",
            "latitude −90..90, longitude −180..180",
        ));
    }
    if announcement.addresses.len() > MAX_ANNOUNCED_ADDRESSES
        || announcement.addresses.iter().any(|a| a.parse::<SocketAddr>().is_err())
    {
        return Err(unprocessable(
            "invalid addresses",
            format!("at most {MAX_ANNOUNCED_ADDRESSES}, each `ip:port`"),
        ));
    }
    // A serving node is probed at every address it names (its URL's, if it
    // names none) before it is listed; a stopped one is not probed.
    let mut to_probe = announcement.addresses.clone();
    if to_probe.is_empty() {
        if let Some(authority) = announcement.url.as_deref().and_then(url_authority) {
            to_probe.push(authority);
        }
    }
    let reachable = if announcement.url.is_some() {
        let key = control_plane
            .device_keys
            .decode(&device.public_key)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        crate::probe::reachable(&to_probe, &device_id, &key).await
    } else {
        Vec::new()
    };
    let record = NodeRecord {
        device_id: device_id.clone(),
        revision: announcement.revision,
        url: announcement.url.clone(),
        holdings: announcement.holdings.clone(),
        announced_at_ms: announcement.announced_at_ms,
        recorded_at_ms: unix_millis(),
        location: announcement.location,
        load: 0,
        addresses: to_probe.clone(),
        reachable: reachable.clone(),
        seen_from: Some(peer.to_string()),
        network: announcement.network.clone(),
    };
    let (applied, current) =
        update_json::<NodeRecord, (bool, u64), ()>(control_plane.store(), &keys::node(device_id.as_str()), |stored| {
            Ok(match stored {
                // Only a newer revision replaces the stored one.
                Some(stored) if stored.revision >= record.revision => {
                    let current = stored.revision;
                    (Some(stored), (false, current))
                }
                Some(stored) => {
                    // The load comes from heartbeats, not announcements.
                    let record = NodeRecord {
                        load: stored.load,
                        ..record.clone()
                    };
                    (Some(record), (true, stored.revision.max(announcement.revision)))
                }
                None => (Some(record.clone()), (true, record.revision)),
            })
        })
        .await?
        .expect("announcements never refuse");
    if applied {
        registry::note_change(&control_plane, Some(&device_id)).await?;
        control_plane.count(&keys::applied("node_announcements")).await?;
        tracing::info!(%device_id, revision = current, url = ?record.url, holdings = record.holdings.len(), "node announced");
    }
    Ok(Json(NodeAnnounced {
        device_id,
        current_revision: current,
        applied,
        reachable,
        seen_from: Some(peer.to_string()),
    }))
}

/// `GET /v1/devices/{device_id}/sources/{hash}`: nodes that can serve the
/// item to this device, each with a ticket, then the origins.
#[utoipa::path(
    get,
    path = templates::DEVICE_SOURCES,
    tag = "nodes",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), ("hash" = String, Path, pattern = "^[0-9a-f]{64}$", description = "An item's BLAKE3 hash"), crate::openapi::SignedRead),
    responses((status = 200, body = ContentSources), crate::openapi::Problems),
)]
pub(super) async fn sources(
    State(control_plane): State<Arc<ControlPlane>>,
    Path((device_id, hash)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<ContentSources>, ApiError> {
    let device_id = parse_device_id(&device_id)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "no such content");
    let hash = ContentHash::parse(&hash).map_err(|_| not_found())?;
    signed_read(
        &control_plane,
        &device_id,
        &headers,
        &paths::device_sources(device_id.as_str(), &hash),
    )
    .await?;
    crate::metrics::routing_lookup();
    // Only published content is routed: a withdrawn item is served by no one.
    let item = origin::item(&control_plane, &hash).await?.ok_or_else(not_found)?;
    let store = control_plane.store();
    // Where the consumer is: as its host says, else by its address.
    let near = match headers
        .get(LOCATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(Location::from_header)
    {
        Some(location) => Some(location),
        None => geo::table(&control_plane).await?.locate(peer.ip()),
    };
    // Candidates: routable nodes (serving somewhere, consenting, not
    // reported for this item), nearest first when both sides have a
    // location, then the rest, freshest announcement first. The nearest
    // come from the index and are checked one by one; all records are read
    // only when they do not fill the answer — at scale, never.
    let mut candidates: Vec<(DeviceId, (String, String))> = Vec::new();
    if let Some(near) = near {
        let position = Position {
            latitude: near.latitude,
            longitude: near.longitude,
        };
        let nearest = {
            let index = registry::routing_index(&control_plane).await?;
            index.1.nearest(&hash, position, MAX_SOURCES, Some(&device_id))
        };
        for candidate in nearest {
            let node: Option<NodeRecord> = get_json(store, &keys::node(candidate.device.as_str())).await?;
            if let Some(node) = node {
                if let Some((_, source)) = routable_source(&control_plane, node, &device_id, &hash).await? {
                    candidates.push((candidate.device, source));
                }
            }
        }
    }
    if candidates.len() < MAX_SOURCES {
        let mut rest = Vec::new();
        for node in scan_json::<NodeRecord>(store, keys::NODE_PREFIX).await? {
            if candidates.iter().any(|(chosen, _)| *chosen == node.device_id) {
                continue;
            }
            let device = node.device_id.clone();
            if let Some((recorded_at_ms, source)) = routable_source(&control_plane, node, &device_id, &hash).await? {
                rest.push((device, (recorded_at_ms, source)));
            }
        }
        rest.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.as_str().cmp(b.0.as_str())));
        candidates.extend(rest.into_iter().map(|(device, (_, source))| (device, source)));
    }
    let expires_at_ms = unix_millis() + TICKET_LIFETIME.as_millis() as u64;
    let nodes = candidates
        .into_iter()
        .take(MAX_SOURCES)
        .map(|(node_id, (url, public_key))| {
            let ticket = AccessTicket {
                node_id: node_id.clone(),
                consumer_id: device_id.clone(),
                content: hash,
                expires_at_ms,
            }
            .sign(control_plane.key.key_id(), control_plane.key.signing_key());
            NodeSource {
                node_id,
                url,
                ticket,
                public_key: Some(public_key),
            }
        })
        .collect();
    Ok(Json(ContentSources {
        content: hash,
        size: item.size,
        nodes,
        origins: item.origins,
    }))
}

/// `node` as a source of `hash` for `consumer`, with when it announced: if
/// it serves somewhere, holds the item, is not the consumer, stands
/// unreported for the item and its device consents. The source is its URL
/// and its device's public key.
async fn routable_source(
    control_plane: &ControlPlane,
    node: NodeRecord,
    consumer: &DeviceId,
    hash: &ContentHash,
) -> Result<Option<(u64, (String, String))>, ApiError> {
    let Some(url) = node.routable_url() else {
        return Ok(None);
    };
    if node.device_id == *consumer || !node.holdings.contains(hash) {
        return Ok(None);
    }
    if control_plane.node_stands_reported(&node.device_id, hash).await? {
        return Ok(None);
    }
    let Some(device) = control_plane.device(&node.device_id).await? else {
        return Ok(None);
    };
    Ok(device
        .consents()
        .then(|| (node.recorded_at_ms, (url.to_owned(), device.public_key))))
}

/// `POST /v1/devices/{device_id}/hash-failures`: a source served bytes that
/// do not hash to the item's name. A report about a node is checked first
/// (see [`verify`]): unless the node serves the control plane the right
/// bytes, it is not routed to for the item again.
#[utoipa::path(
    post,
    path = templates::DEVICE_HASH_FAILURES,
    tag = "nodes",
    params(("device_id" = String, Path, pattern = "^dev_[0-9a-f]{32}$", description = "The device's id"), crate::openapi::IdempotencyKey),
    request_body(content = crate::openapi::Signed<HashFailureReport>, description = "Signed by the device of the path"),
    responses((status = 201, body = HashFailureRecorded), crate::openapi::Problems),
)]
pub(super) async fn report_hash_failure(
    State(control_plane): State<Arc<ControlPlane>>,
    DeviceSigned {
        device_id,
        payload: report,
        ..
    }: DeviceSigned<HashFailureReport>,
) -> Result<(StatusCode, Json<HashFailureRecorded>), ApiError> {
    if report.reason.len() > 512 {
        return Err(ApiError::bad_request("reason is longer than 512 bytes"));
    }
    let verdict = match &report.source {
        FailedSource::Node { node_id } => {
            if node_id == &device_id {
                return Err(unprocessable("a device cannot report itself", node_id.to_string()));
            }
            let node = control_plane.node(node_id).await?.ok_or_else(unknown_device)?;
            match (
                node.routable_url(),
                origin::item(&control_plane, &report.content).await?,
            ) {
                (Some(url), Some(item)) => {
                    verify::verdict(&control_plane, node_id, &url, &report.content, item.size, &device_id).await?
                }
                _ => ReportVerdict::Unverified,
            }
        }
        FailedSource::Origin { url } if url.len() > 256 => {
            return Err(ApiError::bad_request("origin URL is longer than 256 bytes"));
        }
        FailedSource::Origin { .. } => ReportVerdict::NotChecked,
    };
    // A refuted report is kept apart: on record, but it excludes nothing.
    let source = keys::report_source(&report.source);
    let hex = report.content.to_hex();
    let key = match verdict {
        ReportVerdict::Refuted => keys::refuted_hash_failures(&hex, &source),
        _ => keys::hash_failures(&hex, &source),
    };
    let recorded = update_json::<Vec<HashFailureReport>, u64, ()>(control_plane.store(), &key, |stored| {
        let mut reports = stored.unwrap_or_default();
        reports.push(report.clone());
        let count = reports.len() as u64;
        if reports.len() > MAX_REPORTS_KEPT {
            reports.remove(0);
        }
        Ok((Some(reports), count))
    })
    .await?
    .expect("reports never refuse");
    let reports_for_source = match verdict {
        ReportVerdict::Refuted => {
            get_json::<Vec<HashFailureReport>>(control_plane.store(), &keys::hash_failures(&hex, &source))
                .await?
                .map_or(0, |standing| standing.len() as u64)
        }
        _ => recorded,
    };
    control_plane.count(&keys::applied("hash_failure_reports")).await?;
    tracing::warn!(reporter = %device_id, content = %report.content, source = ?report.source, reason = %report.reason, ?verdict, "hash failure reported");
    Ok((
        StatusCode::CREATED,
        Json(HashFailureRecorded {
            reports_for_source,
            verdict,
        }),
    ))
}
