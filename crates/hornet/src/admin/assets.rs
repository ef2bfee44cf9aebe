//! The dashboard: static files embedded in the binary at build time
//! (`dashboard/`), served at `/` and `/dashboard/...`. Plain ES modules,
//! no build step, no external network: the page talks to the API on the
//! same origin and, for the publish/subscribe panel, to the WebSocket
//! listener with MQTT.js's browser bundle (`mqtt.min.js`, MIT, copied from
//! the npm package `mqtt` 5.16.0 with its licence).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::State;

const INDEX: &str = include_str!("dashboard/index.html");
const APP: &str = include_str!("dashboard/app.js");
const CHART: &str = include_str!("dashboard/chart.js");
const STYLE: &str = include_str!("dashboard/style.css");
const MQTT_JS: &str = include_str!("dashboard/mqtt.min.js");
const MQTT_LICENSE: &str = include_str!("dashboard/mqtt.LICENSE.md");

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The dashboard's routes.
pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/dashboard/chart.js",
            get(|| async { file("text/javascript; charset=utf-8", CHART) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/dashboard/mqtt.min.js",
            get(|| async { file("text/javascript; charset=utf-8", MQTT_JS) }),
        )
        .route(
            "/dashboard/mqtt.LICENSE.md",
            get(|| async { file("text/plain; charset=utf-8", MQTT_LICENSE) }),
        )
}
