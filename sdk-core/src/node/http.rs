//! One request to the edge node: `GET` or `HEAD /content/{hash}` with an
//! access ticket; single byte ranges; `ETag` is the hash; `If-None-Match`;
//! a signed delivery statement when the consumer asks for one.
//!
//! Over 400 lines on purpose: this is the serving hot path, one request's
//! steps read top to bottom (ticket, item, range, conditional, statement,
//! reply), and its unit tests sit with it.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use ed25519_dalek::VerifyingKey;
use edgepoints_protocol::receipts::is_valid_nonce;
use edgepoints_protocol::{
    AccessTicket, ContentHash, DeliveryStatement, DeviceId, Purpose, TicketError, DELIVERY_HEADER,
    RECEIPT_NONCE_HEADER, TICKET_HEADER,
};
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RANGE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use lru::LruCache;

use super::body::ReplyBody;
use super::conn::{Connection, Memo, MemoItem};
use super::stats::Counters;
use super::token_bucket::TokenBucket;
use super::upload_meter::UploadMeter;
use crate::content::{ContentCache, Stored};
use crate::time::unix_millis;

/// Verified tickets kept so the hot path does not check a signature per
/// request; node, content and expiry are still checked every time.
const TICKET_CACHE: usize = 4096;

/// An item as served: its bytes or file, and its header values.
struct Item {
    stored: Stored,
    len: u64,
    etag: HeaderValue,
    length: HeaderValue,
}

/// Largest item a connection keeps for its next request.
const MEMO_MAX_BYTES: usize = 64 * 1024;

/// Content never changes under its hash: a year, and immutable.
const CACHE_CONTROL_VALUE: &str = "public, max-age=31536000, immutable";

pub(crate) struct ServeContext {
    pub(super) cache: ContentCache,
    pub(super) node_id: DeviceId,
    pub(super) key_id: String,
    pub(super) key: VerifyingKey,
    pub(super) tickets: RwLock<LruCache<String, AccessTicket>>,
    pub(crate) counters: Arc<Counters>,
    /// Whether the gate lets the node serve; checked per request too, so a
    /// kept-alive connection cannot outlive a pause by even one request.
    pub(super) serving: AtomicBool,
    /// For signing probe answers.
    pub(super) sdk: crate::edgepoints::EdgePoints,
    /// This month's bytes against the policy's cap.
    pub(super) meter: Arc<UploadMeter>,
    /// The upload rate cap, if one is set.
    pub(super) bucket: Option<Arc<TokenBucket>>,
}

pub(super) fn ticket_cache() -> RwLock<LruCache<String, AccessTicket>> {
    RwLock::new(LruCache::new(NonZeroUsize::new(TICKET_CACHE).expect("non-zero")))
}

type Reply = Response<ReplyBody>;

fn reply(status: StatusCode) -> http::response::Builder {
    Response::builder().status(status)
}

fn empty(status: StatusCode) -> Reply {
    reply(status)
        .header(CONTENT_LENGTH, 0)
        .body(ReplyBody::empty())
        .expect("static response")
}

/// What a `Range` header asks for, after RFC 9110 §14.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// No usable range (absent, malformed, or several ranges, which this
    /// server does not serve as multipart): the whole item.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A well-formed range outside the item.
    Unsatisfiable,
}

fn parse_range(header: Option<&HeaderValue>, len: u64) -> RangeRequest {
    let Some(spec) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("bytes="))
    else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(n) if len > 0 => RangeRequest::Part(len.saturating_sub(n), len - 1),
            Some(_) => RangeRequest::Unsatisfiable,
            None => RangeRequest::Whole,
        },
        // bytes=A-: from A to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeRequest::Part(start, len - 1),
            Some(_) => RangeRequest::Unsatisfiable,
            None => RangeRequest::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start > end => RangeRequest::Whole,
            (Some(start), Some(_)) if start >= len => RangeRequest::Unsatisfiable,
            (Some(start), Some(end)) => RangeRequest::Part(start, end.min(len - 1)),
            _ => RangeRequest::Whole,
        },
        (true, true) => RangeRequest::Whole,
    }
}

impl ServeContext {
    fn check_ticket(&self, token: &str, hash: &ContentHash, memo: &mut Memo) -> Result<(), TicketError> {
        let now = unix_millis();
        // The same ticket as this connection's last request: no shared state.
        if let Some((memo_token, ticket)) = &memo.ticket {
            if memo_token == token {
                return ticket.check(&self.node_id, hash, now);
            }
        }
        // Verified before on another connection: a shared lock, no copy.
        // Recency is not updated on hits (that would take the exclusive lock
        // per request), so the oldest verified tickets, which expire first,
        // are evicted first.
        let cached = self
            .tickets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .peek(token)
            .cloned();
        let ticket = match cached {
            Some(ticket) => ticket,
            None => {
                let ticket = AccessTicket::verify_signature(token, &self.key_id, &self.key)?;
                self.tickets
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(token.to_owned(), ticket.clone());
                ticket
            }
        };
        let checked = ticket.check(&self.node_id, hash, now);
        memo.ticket = Some((token.to_owned(), ticket));
        checked
    }

    /// The item's bytes and header values: this connection's last item if
    /// it is still cached, else from the cache.
    async fn read(&self, hash: &ContentHash, connection: &Connection) -> Result<Option<Item>, crate::Error> {
        let generation = self.cache.generation();
        {
            let memo = connection.memo.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(item) = &memo.content {
                if item.hash == *hash && item.generation == generation && self.cache.is_open() {
                    return Ok(Some(Item {
                        stored: Stored::Memory(item.bytes.clone()),
                        len: item.bytes.len() as u64,
                        etag: item.etag.clone(),
                        length: item.length.clone(),
                    }));
                }
            }
        }
        let Some(stored) = self.cache.open_for_serving(hash).await? else {
            return Ok(None);
        };
        let len = match &stored {
            Stored::Memory(bytes) => bytes.len() as u64,
            Stored::File { size, .. } => *size,
        };
        let item = Item {
            stored,
            len,
            etag: etag_of(hash),
            length: HeaderValue::from(len),
        };
        // Only small items are kept per connection, so the memos of all
        // connections together stay small next to the memory budget.
        if let Stored::Memory(bytes) = &item.stored {
            if bytes.len() <= MEMO_MAX_BYTES {
                connection.memo.lock().unwrap_or_else(|p| p.into_inner()).content = Some(MemoItem {
                    hash: *hash,
                    bytes: bytes.clone(),
                    generation,
                    etag: item.etag.clone(),
                    length: item.length.clone(),
                });
            }
        }
        Ok(Some(item))
    }

    /// The node's signed statement for a consumer that asked for one: what
    /// this response delivers, to the consumer the ticket names. Signed
    /// only on request, so plain reads pay nothing for it.
    fn delivery_statement(
        &self,
        connection: &Connection,
        hash: &ContentHash,
        offset: u64,
        length: u64,
        size: u64,
        nonce: &str,
    ) -> Option<HeaderValue> {
        let consumer_id = {
            let memo = connection.memo.lock().unwrap_or_else(|p| p.into_inner());
            memo.ticket.as_ref()?.1.consumer_id.clone()
        };
        let identity = &self.sdk.shared().identity();
        let statement = DeliveryStatement {
            node_id: self.node_id.clone(),
            consumer_id,
            content: *hash,
            offset,
            length,
            size,
            nonce: nonce.to_owned(),
            served_at_ms: unix_millis(),
        };
        let token = identity.sign(Purpose::DeliveryStatement, &statement).to_compact();
        HeaderValue::from_str(&token).ok()
    }

    /// The control plane checks this node is reachable here: the nonce,
    /// signed with the device key.
    fn answer_probe(&self, nonce: &str) -> Reply {
        if nonce.is_empty() || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.counters.reject("bad_probe");
            return empty(StatusCode::BAD_REQUEST);
        }
        let identity = &self.sdk.shared().identity();
        let answer = edgepoints_protocol::ProbeAnswer {
            device_id: identity.device_id().clone(),
            nonce: nonce.to_owned(),
        };
        let envelope = identity.sign(edgepoints_protocol::Purpose::Probe, &answer);
        let body = serde_json::to_vec(&envelope).expect("envelope serialises");
        let mut response = Response::new(ReplyBody::memory(body.into(), None));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    pub(crate) async fn handle<B>(&self, request: Request<B>, connection: &Connection) -> Reply {
        self.counters.request();
        if !self.serving.load(Ordering::Acquire) {
            self.counters.reject("paused");
            let mut response = empty(StatusCode::SERVICE_UNAVAILABLE);
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
            return response;
        }
        if let Some(nonce) = request.uri().path().strip_prefix("/probe/") {
            return self.answer_probe(nonce);
        }
        let head = request.method() == Method::HEAD;
        if request.method() != Method::GET && !head {
            self.counters.reject("method_not_allowed");
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let Some(hash) = request
            .uri()
            .path()
            .strip_prefix("/content/")
            .and_then(|name| ContentHash::parse(name).ok())
        else {
            self.counters.reject("not_found");
            return empty(StatusCode::NOT_FOUND);
        };
        let Some(token) = request.headers().get(TICKET_HEADER).and_then(|v| v.to_str().ok()) else {
            self.counters.reject("no_ticket");
            return empty(StatusCode::UNAUTHORIZED);
        };
        let checked = {
            let mut memo = connection.memo.lock().unwrap_or_else(|p| p.into_inner());
            self.check_ticket(token, &hash, &mut memo)
        };
        if let Err(error) = checked {
            tracing::debug!(%error, %hash, "ticket refused");
            self.counters.reject("bad_ticket");
            return empty(StatusCode::FORBIDDEN);
        }
        let item = match self.read(&hash, connection).await {
            Ok(Some(item)) => item,
            Ok(None) => {
                self.counters.miss();
                return empty(StatusCode::NOT_FOUND);
            }
            Err(error) => {
                tracing::warn!(%error, %hash, "cache read failed");
                return empty(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
        let etag = item.etag;
        let not_modified = request
            .headers()
            .get(IF_NONE_MATCH)
            .is_some_and(|v| matches_etag(v.as_bytes(), etag.as_bytes()));
        self.counters.hit();
        // Headers by constant name and value: nothing is parsed per request.
        let common = |status: StatusCode, body: ReplyBody| {
            let mut response = Response::new(body);
            *response.status_mut() = status;
            // Room for every header the reply gets: one allocation.
            *response.headers_mut() = http::HeaderMap::with_capacity(8);
            let headers = response.headers_mut();
            headers.insert(ETAG, etag.clone());
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
            headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            response
        };
        if not_modified {
            return common(StatusCode::NOT_MODIFIED, ReplyBody::empty());
        }
        let len = item.len;
        let (status, start, body_len, range) = match parse_range(request.headers().get(RANGE), len) {
            RangeRequest::Whole => (StatusCode::OK, 0, len, None::<String>),
            RangeRequest::Part(start, end) => (
                StatusCode::PARTIAL_CONTENT,
                start,
                end - start + 1,
                Some(format!("bytes {start}-{end}/{len}")),
            ),
            RangeRequest::Unsatisfiable => {
                self.counters.reject("range_not_satisfiable");
                return reply(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(CONTENT_RANGE, format!("bytes */{len}"))
                    .header(CONTENT_LENGTH, 0)
                    .body(ReplyBody::empty())
                    .expect("valid response");
            }
        };
        let payload = if head {
            ReplyBody::empty()
        } else {
            if !self.meter.try_charge(body_len) {
                self.counters.reject("monthly_cap");
                let mut response = empty(StatusCode::SERVICE_UNAVAILABLE);
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("3600"));
                return response;
            }
            self.counters.served(body_len);
            let bucket = self.bucket.clone();
            match item.stored {
                Stored::Memory(bytes) => {
                    ReplyBody::memory(bytes.slice(start as usize..(start + body_len) as usize), bucket)
                }
                Stored::File { file, .. } => ReplyBody::file(file, start, body_len, bucket),
            }
        };
        let delivery = if head {
            None
        } else {
            request
                .headers()
                .get(RECEIPT_NONCE_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|nonce| is_valid_nonce(nonce))
                .and_then(|nonce| self.delivery_statement(connection, &hash, start, body_len, len, nonce))
        };
        let mut response = common(status, payload);
        let headers = response.headers_mut();
        if let Some(delivery) = delivery {
            headers.insert(DELIVERY_HEADER, delivery);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        match range {
            None => {
                headers.insert(CONTENT_LENGTH, item.length);
            }
            Some(range) => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(body_len));
                headers.insert(CONTENT_RANGE, HeaderValue::from_str(&range).expect("ASCII"));
            }
        }
        response
    }
}

/// `"<hex hash>"`, formatted without allocating a String.
fn etag_of(hash: &ContentHash) -> HeaderValue {
    let mut quoted = [b'"'; 66];
    hex::encode_to_slice(hash.as_bytes(), &mut quoted[1..65]).expect("64 hex digits fit");
    HeaderValue::from_bytes(&quoted).expect("quoted hex is a valid header value")
}

/// Whether an `If-None-Match` value names `etag` (or is `*`); weak
/// comparison, as RFC 9110 §13.1.2 asks for `If-None-Match`.
fn matches_etag(header: &[u8], etag: &[u8]) -> bool {
    let header = header.trim_ascii();
    header == b"*"
        || header.split(|b| *b == b',').any(|tag| {
            let tag = tag.trim_ascii();
            tag.strip_prefix(b"W/").unwrap_or(tag) == etag
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(spec: &str, len: u64) -> RangeRequest {
        parse_range(Some(&HeaderValue::from_str(spec).unwrap()), len)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(range("bytes=0-9", 100), RangeRequest::Part(0, 9));
        assert_eq!(range("bytes=90-200", 100), RangeRequest::Part(90, 99));
        assert_eq!(range("bytes=95-", 100), RangeRequest::Part(95, 99));
        assert_eq!(range("bytes=-10", 100), RangeRequest::Part(90, 99));
        assert_eq!(range("bytes=-500", 100), RangeRequest::Part(0, 99));
        assert_eq!(range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=100-120", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(range("bytes=9-1", 100), RangeRequest::Whole);
        assert_eq!(range("bytes=x-1", 100), RangeRequest::Whole);
        assert_eq!(range("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(range("bytes=+1-2", 100), RangeRequest::Whole);
        assert_eq!(parse_range(None, 100), RangeRequest::Whole);
    }
}
