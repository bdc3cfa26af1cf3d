//! The QA console at `/admin/`: one page, its script and its styles,
//! compiled into the binary. The page reads the admin API and `/metrics`
//! and calls the admin API for its actions; it holds no state of its own.

use std::sync::Arc;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ControlPlane;

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLES: &str = include_str!("../../console/console.css");

/// The page loads only its own files and talks only to this server.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) fn router() -> OpenApiRouter<Arc<ControlPlane>> {
    OpenApiRouter::new()
        .routes(routes!(to_console))
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(styles))
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `GET /admin`: to the console, whose relative links need the slash.
#[utoipa::path(get, path = "/admin", tag = "console", responses((status = 308, description = "To `/admin/`")))]
async fn to_console() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "/admin/")]).into_response()
}

/// `GET /admin/`: the QA console.
#[utoipa::path(get, path = "/admin/", tag = "console", responses((status = 200, description = "The console page", content_type = "text/html", body = String)))]
async fn page() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

#[utoipa::path(get, path = "/admin/console.js", tag = "console", responses((status = 200, description = "The console's script", content_type = "text/javascript", body = String)))]
async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

#[utoipa::path(get, path = "/admin/console.css", tag = "console", responses((status = 200, description = "The console's styles", content_type = "text/css", body = String)))]
async fn styles() -> Response {
    file("text/css; charset=utf-8", STYLES)
}
