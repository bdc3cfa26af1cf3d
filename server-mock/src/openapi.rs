//! The mock's OpenAPI 3.1 description, served at `GET /openapi.json`.
//!
//! It is generated, not written: every route is registered through
//! [`utoipa_axum`] from a handler that carries its `#[utoipa::path]`, and
//! every schema is derived from the wire types themselves (the protocol
//! crate's `openapi` feature). A route cannot be served without being
//! described. What the handlers share is here: the `Idempotency-Key` every
//! mutating API call needs, the headers of signed reads and member calls,
//! and the `application/problem+json` refusals.

use std::sync::Arc;

use axum::{Extension, Json};
use edgepoints_protocol::request_auth::DEVICE_SIGNATURE_HEADER;
use edgepoints_protocol::Purpose;
use edgepoints_protocol::{Problem, IDEMPOTENCY_KEY_HEADER, SESSION_HEADER};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, RefOr, Required, Response, ResponseBuilder, Type};
use utoipa::{IntoParams, IntoResponses, OpenApi, ToSchema};

/// The document's fixed parts; the paths and schemas come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "edgepoints mock control plane",
        description = "The reference control plane of the edgepoints SDK, for integration tests and QA: the \
                       device API (registration, consent, the edge node, points, members, coupons, rental), \
                       the public reads and the origin, and the admin API (state, faults, clock, catalogue). \
                       Every mutating API call carries an Idempotency-Key (IETF httpapi draft): a replay returns \
                       the stored answer with Idempotent-Replayed: true, the same key with another request is \
                       422, a replay while the first runs is 409, no key is 400. Refusals are \
                       application/problem+json.",
        license(name = "MPL-2.0"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "devices", description = "Registration, consent and the status of past calls"),
        (name = "nodes", description = "Edge nodes: announcements, routing to nodes, hash failures"),
        (name = "points", description = "Heartbeats, receipts, balances and ledgers"),
        (name = "members", description = "Sign-up, login, sessions and notices"),
        (name = "coupons", description = "Merchants, activities, claims, redemptions"),
        (name = "loyalty", description = "Rewards bought with points"),
        (name = "rental", description = "Cars, stations, reservations and rentals"),
        (name = "content", description = "The manifest and the origin"),
        (name = "admin", description = "QA: state, faults, clock, catalogue"),
        (name = "console", description = "The QA console page at /admin/"),
        (name = "health", description = "Liveness and metrics"),
    )
)]
pub struct ApiDoc;

/// The finished document, handed to its own route as an extension (the
/// router's state is the control plane).
pub(crate) type Document = Arc<serde_json::Value>;

/// The document as it is served: utoipa's, with the replays described and
/// unsigned integers said to be unsigned.
pub(crate) fn finish(mut document: utoipa::openapi::OpenApi) -> Document {
    describe_replays(&mut document);
    let mut value = serde_json::to_value(&document).expect("the document serialises");
    describe_unsigned(&mut value);
    Arc::new(value)
}

/// utoipa writes Rust's `u64` as `int64` with `minimum: 0` (and `u32` as
/// `int32`), which caps it at `i64::MAX`; the control plane takes the whole
/// unsigned range, so the document says `uint64`/`uint32` with its maximum.
fn describe_unsigned(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let unsigned = map.get("minimum").and_then(|m| m.as_f64()) == Some(0.0) && !map.contains_key("maximum");
            let format = map.get("format").and_then(|f| f.as_str()).map(str::to_owned);
            match (unsigned, format.as_deref()) {
                (true, Some("int64")) => {
                    map.insert("format".into(), "uint64".into());
                    map.insert("maximum".into(), serde_json::Value::from(u64::MAX));
                }
                (true, Some("int32")) => {
                    map.insert("format".into(), "uint32".into());
                    map.insert("maximum".into(), serde_json::Value::from(u32::MAX));
                }
                _ => {}
            }
            map.values_mut().for_each(describe_unsigned);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(describe_unsigned),
        _ => {}
    }
}

/// `GET /openapi.json`: this description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")),
)]
pub(crate) async fn serve(Extension(document): Extension<Document>) -> Json<serde_json::Value> {
    Json(document.as_ref().clone())
}

fn header(name: &str, required: bool, description: &str, pattern: Option<&str>) -> Parameter {
    let mut schema = ObjectBuilder::new().schema_type(Type::String);
    if let Some(pattern) = pattern {
        schema = schema.pattern(Some(pattern));
    }
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The `Idempotency-Key` of a mutating API call.
pub(crate) struct IdempotencyKey;

impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            IDEMPOTENCY_KEY_HEADER,
            true,
            "Chosen once per logical call and sent with every retry of it (16 to 255 visible characters). \
             Without it the call is refused (400).",
            Some("^[!-~]{16,255}$"),
        )]
    }
}

/// The signature of a signed read: the device signs the method, the path
/// and the time.
pub(crate) struct SignedRead;

impl IntoParams for SignedRead {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            DEVICE_SIGNATURE_HEADER,
            true,
            "`device_id:timestamp_ms:signature`, the device key's Ed25519 signature over the method, the path \
             and the timestamp (see the protocol crate's `request_auth`).",
            None,
        )]
    }
}

/// A signed read of a member's data: the signature and the session.
pub(crate) struct MemberRead;

impl IntoParams for MemberRead {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = SignedRead::into_params(parameter_in);
        params.push(header(
            SESSION_HEADER,
            true,
            "The member session's key, as the login answered it.",
            None,
        ));
        params
    }
}

/// The refusals every route may answer, as `application/problem+json`.
pub(crate) struct Problems;

impl IntoResponses for Problems {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        [
            (
                "400",
                "Malformed: the body, a parameter or the Idempotency-Key is not as described",
            ),
            ("401", "The signature does not verify"),
            ("403", "Signed by another device, or not allowed to this device"),
            ("404", "No such route or resource"),
            (
                "409",
                "A conflict: the same Idempotency-Key still running, or the state forbids it now",
            ),
            ("413", "The body is larger than the route takes"),
            ("415", "The body is not `application/json`"),
            (
                "422",
                "Refused: the same Idempotency-Key with another request, or a request that cannot be",
            ),
            ("429", "Too many attempts: wait for Retry-After"),
            (
                "503",
                "Unavailable (an injected fault, or the shared state is down): safe to retry",
            ),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    edgepoints_protocol::PROBLEM_CONTENT_TYPE,
                    ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                        .build(),
                )
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait before trying again (429, 503, some 409)"))
                        .build(),
                )
                .build();
            (status.to_owned(), RefOr::T(response))
        })
        .collect()
    }
}

/// The `Idempotent-Replayed` header of a replayed answer, for the success
/// responses of mutating routes.
pub(crate) fn replayed_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        )
        .description(Some(format!(
            "`true` when this is the stored answer of an earlier request with the same {IDEMPOTENCY_KEY_HEADER}"
        )))
        .build()
}

/// Every successful answer of a mutating API route may be a replay: says so
/// on each of them.
fn describe_replays(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        for operation in [&mut item.post, &mut item.put, &mut item.delete, &mut item.patch]
            .into_iter()
            .flatten()
        {
            let idempotent = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.name == IDEMPOTENCY_KEY_HEADER);
            if !idempotent {
                continue;
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    response.headers.insert(
                        edgepoints_protocol::IDEMPOTENT_REPLAYED_HEADER.to_owned(),
                        replayed_header(),
                    );
                }
            }
        }
    }
}

/// What a signed body carries: its purpose and its payload's type.
pub(crate) trait SignedPayload: ToSchema {
    const PURPOSE: Purpose;
}

impl<T: crate::routes::DevicePayload + ToSchema> SignedPayload for T {
    const PURPOSE: Purpose = <T as crate::routes::DevicePayload>::PURPOSE;
}

impl SignedPayload for edgepoints_protocol::DeviceRegistration {
    const PURPOSE: Purpose = Purpose::DeviceRegistration;
}

/// The body of a signed route as the document shows it: a `SignedEnvelope`
/// whose `purpose` is fixed, whose `payload` is the base64url of the JSON of
/// `T`, and which says so in `x-edgepoints-signed` (`purpose`, and a `$ref`
/// to `T`'s schema, which the document carries) — for readers, and for the
/// API fuzzer's hook that signs requests as a device.
pub(crate) struct Signed<T>(std::marker::PhantomData<T>);

// utoipa's macros compose the schema of a generic type from its
// parameters' schemas (and `PartialSchema` follows from that); `Signed<T>`
// is whole in itself.
impl<T: SignedPayload> utoipa::__dev::ComposeSchema for Signed<T> {
    fn compose(_: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        let purpose = T::PURPOSE.as_str();
        let string = |description: String| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let mut extensions = Extensions::default();
        extensions.insert(
            "x-edgepoints-signed".to_owned(),
            serde_json::json!({
                "purpose": purpose,
                "payload": { "$ref": format!("#/components/schemas/{}", T::name()) },
            }),
        );
        ObjectBuilder::new()
            .description(Some(format!(
                "A signed envelope of a `{}`: Ed25519 over `edgepoints/v1\\n{purpose}\\n{{key_id}}\\n{{payload bytes}}`",
                T::name()
            )))
            .property(
                "purpose",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([purpose])),
            )
            .property("key_id", string("The signer's device id".into()))
            .property(
                "payload",
                string(format!("base64url (no padding) of the JSON of a `{}`", T::name())),
            )
            .property("signature", string("base64url (no padding) of the 64-byte signature".into()))
            .required("purpose")
            .required("key_id")
            .required("payload")
            .required("signature")
            .extensions(Some(extensions))
            .into()
    }
}

impl<T: SignedPayload> ToSchema for Signed<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Signed{}", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}
