//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 document describing every
//! endpoint, `openapi.json` beside this file. It is written as a Python
//! description in `scripts/admin_openapi.py` and committed as JSON
//! (`python3 scripts/admin_openapi.py > crates/hornet/src/admin/openapi.json`);
//! schemathesis checks the server against it (`tests/admin_schemathesis.rs`).

use axum::http::header;
use axum::response::IntoResponse;

const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`
pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_json_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/clients",
            "/api/v1/clients/{client_id}",
            "/api/v1/clients/{client_id}/session",
            "/api/v1/subscriptions",
            "/api/v1/topics",
            "/api/v1/retained",
            "/api/v1/retained/{topic}",
            "/api/v1/publish",
            "/api/v1/delayed",
            "/api/v1/sessions",
            "/api/v1/delayed/{id}",
            "/api/v1/broker",
            "/api/v1/broker/config",
            "/api/v1/broker/sys",
            "/api/v1/broker/history",
            "/metrics",
            "/healthz",
            "/readyz",
            "/api/v1/login",
            "/api/v1/logout",
            "/api/v1/session",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
    }
}
