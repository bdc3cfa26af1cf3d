//! The mock's OpenAPI description (`GET /openapi.json`) against the router
//! that serves it: every route of the protocol's route table is described
//! with its method, every described operation is served (none falls to the
//! "no such route" fallback), mutating API routes require an
//! `Idempotency-Key` and say how a replay looks, and refusals are
//! problem+json with a schema.

use edgepoints_mock_server::{MockConfig, MockServer};
use edgepoints_protocol::paths::routes;
use serde_json::Value;

fn client() -> reqwest::Client {
    edgepoints_core::transport::http_client().unwrap()
}

async fn document(server: &MockServer) -> Value {
    client()
        .get(format!("{}/openapi.json", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

async fn server() -> MockServer {
    MockServer::start(MockConfig::default()).await.unwrap()
}

#[tokio::test]
async fn every_route_of_the_table_is_described_with_its_method() {
    let server = server().await;
    let document = document(&server).await;
    assert_eq!(document["openapi"], "3.1.0");
    let described: Vec<String> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    let missing: Vec<&&str> = routes::ALL
        .iter()
        .filter(|r| !described.iter().any(|d| d == *r))
        .collect();
    assert!(missing.is_empty(), "not described: {missing:?}");
    // The admin API, the metrics and the document itself are described too.
    for route in [
        "GET /admin/state",
        "POST /admin/faults",
        "POST /admin/clock",
        "GET /metrics",
        "GET /openapi.json",
    ] {
        assert!(described.iter().any(|d| d == route), "{route} is not described");
    }
    assert!(described.len() >= 100, "{} operations", described.len());
}

#[tokio::test]
async fn every_described_operation_is_served() {
    let server = server().await;
    let document = document(&server).await;
    let client = client();
    let mut unserved = Vec::new();
    for (method, path, _) in operations(&document) {
        // Any value for the parameters: the route must match, whatever the
        // handler then says of the values.
        let concrete = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "x" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        let response = client
            .request(method.parse().unwrap(), format!("{}{concrete}", server.url()))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status == 405 || (status == 404 && body.contains("no such route")) {
            unserved.push(format!("{method} {path}: {status}"));
        }
    }
    assert!(unserved.is_empty(), "described but not served: {unserved:#?}");
}

#[tokio::test]
async fn mutating_api_routes_need_an_idempotency_key_and_describe_replays_and_problems() {
    let server = server().await;
    let document = document(&server).await;
    for (method, path, operation) in operations(&document) {
        let route = format!("{method} {path}");
        let mutating_api = method != "GET" && routes::ALL.contains(&route.as_str());
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let key = parameters.iter().find(|p| p["name"] == "Idempotency-Key");
        if mutating_api {
            let key = key.unwrap_or_else(|| panic!("{route} does not ask for an Idempotency-Key"));
            assert_eq!(key["in"], "header");
            assert_eq!(key["required"], true, "{route}");
            let success = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap_or_else(|| panic!("{route} has no success response"));
            assert!(
                success.1["headers"]["Idempotent-Replayed"].is_object(),
                "{route}: replays are not described"
            );
        }
        let bad_request = &operation["responses"]["400"];
        // Static answers that take no input cannot be refused.
        let takes_no_input = path == "/healthz" || path == "/openapi.json" || operation["tags"][0] == "console";
        if !takes_no_input {
            assert!(
                bad_request["content"]["application/problem+json"]["schema"].is_object(),
                "{route}: refusals are not described as problem+json"
            );
        }
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());
}
