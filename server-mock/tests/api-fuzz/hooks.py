"""Schemathesis hooks for the mock control plane: requests signed as a
registered device.

Most of the API takes bodies signed by a device's Ed25519 key, and reads
signed by it; a schema cannot describe a valid signature, so a fuzzer alone
would only ever hit the signature check. These hooks register a device of
their own when loaded and then, for most generated cases:

- put that device's id in the `device_id` path parameter;
- for a signed body (a schema with `x-edgepoints-signed`), generate the
  payload from the payload type's schema, name the device in it where it
  has a `device_id`, and sign it for the route's purpose;
- for a signed read (an `Edgepoints-Signature` parameter), sign the method,
  the path and the time.

The rest stay as generated, so the refusals are exercised too.

    EDGEPOINTS_FUZZ_URL=http://127.0.0.1:8080 SCHEMATHESIS_HOOKS=hooks schemathesis run ...
"""

import base64
import json
import os
import secrets
import time
import urllib.parse
import urllib.request

import blake3
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import strategies as st

BASE = os.environ["EDGEPOINTS_FUZZ_URL"].rstrip("/")
DOMAIN = b"edgepoints/v1\n"
SIGNED_SHARE = 0.8


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEY = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
DEVICE_ID = "dev_" + blake3.blake3(PUBLIC).hexdigest()[:32]


def envelope(purpose: str, payload: bytes) -> dict:
    message = DOMAIN + purpose.encode() + b"\n" + DEVICE_ID.encode() + b"\n" + payload
    return {"purpose": purpose, "key_id": DEVICE_ID, "payload": b64(payload), "signature": b64(KEY.sign(message))}


def _register() -> None:
    registration = {
        "device_id": DEVICE_ID,
        "public_key": b64(PUBLIC),
        "platform": "fuzzer",
        "app_version": "1",
        "sdk_version": "1",
    }
    body = json.dumps(envelope("device.register", json.dumps(registration).encode())).encode()
    request = urllib.request.Request(
        BASE + "/v1/devices",
        data=body,
        method="POST",
        headers={"content-type": "application/json", "Idempotency-Key": secrets.token_hex(16)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201), response.status


_register()
with urllib.request.urlopen(BASE + "/openapi.json", timeout=10) as response:
    DOCUMENT = json.load(response)


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = DOCUMENT["components"]["schemas"][name]
    return schema


def strategy(schema: dict, depth: int = 0) -> st.SearchStrategy:
    """Values of a JSON schema as utoipa writes them (enough of the
    vocabulary for the wire types: objects, arrays, scalars, enums,
    `oneOf`/`anyOf`, nullable type lists)."""
    schema = resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return st.one_of([strategy(s, depth + 1) for s in schema[union]])
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return strategy(merged, depth + 1)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        return st.one_of([strategy({**schema, "type": k}, depth + 1) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum", 2**63 - 1))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(max_size=40)
    if kind == "array":
        if depth > 4:
            return st.just([])
        return st.lists(strategy(schema.get("items", {}), depth + 1), max_size=3)
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if depth > 4:
        return st.fixed_dictionaries({})
    return st.fixed_dictionaries(
        {name: strategy(s, depth + 1) for name, s in properties.items() if name in required},
        optional={name: strategy(s, depth + 1) for name, s in properties.items() if name not in required},
    )


def signed_payload_of(ctx):
    body = (ctx.operation.definition.raw.get("requestBody") or {}).get("content", {}).get("application/json")
    if not body:
        return None
    return resolve(body["schema"]).get("x-edgepoints-signed")


def name_the_device(value):
    if isinstance(value, dict):
        return {k: (DEVICE_ID if k in ("device_id", "reporter", "consumer_id") else name_the_device(v)) for k, v in value.items()}
    return value


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    if path_parameters and "device_id" in path_parameters and secrets.randbelow(100) < SIGNED_SHARE * 100:
        path_parameters["device_id"] = DEVICE_ID
    return path_parameters


PAYLOAD_KEY = "__edgepoints_payload"


def positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or not meta.generation.mode.is_negative


@schemathesis.hook
def flatmap_body(ctx, body):
    """Draws a payload of the route's type beside the generated envelope;
    `before_call` signs it (for positive cases only, so that the fuzzer's
    deliberately broken bodies are sent broken)."""
    signed = signed_payload_of(ctx)
    if not signed or not isinstance(body, dict):
        return st.just(body)
    return st.tuples(st.integers(0, 99), strategy(signed["payload"])).map(
        lambda drawn: {**body, PAYLOAD_KEY: drawn[1]} if drawn[0] < SIGNED_SHARE * 100 else body
    )


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Signs the body's payload, or the read, for the concrete request."""
    if isinstance(case.body, dict) and PAYLOAD_KEY in case.body:
        payload = case.body.pop(PAYLOAD_KEY)
        signed = signed_payload_of(ctx)
        if positive(case):
            case.body = envelope(signed["purpose"], json.dumps(name_the_device(payload)).encode())
    # A signature the fuzzer left out on purpose stays out.
    if not positive(case) or "Edgepoints-Signature" not in (case.headers or {}):
        return
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
    now = int(time.time() * 1000)
    message = f"{case.method.upper()} {path} {now}".encode()
    signature = KEY.sign(DOMAIN + b"device.request\n" + DEVICE_ID.encode() + b"\n" + message)
    case.headers["Edgepoints-Signature"] = f"{DEVICE_ID};{now};{b64(signature)}"
