//! `POST /api/v1/publish`: publish a message as the broker (topic, payload
//! as UTF-8 or base64, QoS, retain, MQTT 5 properties).

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State as AxumState;
use axum::Json;
use base64::Engine;
use hornet_codec::QoS;
use hornet_core::AdminPublish;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::view::PublishProperties;
use super::State;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishRequest {
    topic: String,
    #[serde(default)]
    payload: String,
    /// `utf8` (default) or `base64`.
    #[serde(default)]
    payload_encoding: Option<String>,
    #[serde(default)]
    qos: u8,
    #[serde(default)]
    retain: bool,
    #[serde(default)]
    properties: PublishProperties,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct Published {
    /// Whether any subscription matched.
    matched: bool,
}

/// `POST /api/v1/publish`
pub(crate) async fn publish(
    AxumState(state): AxumState<State>,
    body: Result<Json<PublishRequest>, JsonRejection>,
) -> Result<Json<Published>, ApiError> {
    let Json(req) = body?;
    let payload = match req.payload_encoding.as_deref().unwrap_or("utf8") {
        "utf8" => req.payload.into_bytes(),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(req.payload.as_bytes())
            .map_err(|e| ApiError::bad_request(format!("payload is not base64: {e}")))?,
        other => {
            return Err(ApiError::bad_request(format!(
                "payload_encoding must be utf8 or base64, not {other:?}"
            )))
        }
    };
    let qos = QoS::from_u8(req.qos)
        .ok_or_else(|| ApiError::bad_request(format!("qos must be 0, 1 or 2, not {}", req.qos)))?;
    let properties = req
        .properties
        .to_properties()
        .map_err(ApiError::bad_request)?;
    let msg = AdminPublish {
        topic: req.topic,
        payload: payload.into(),
        qos,
        retain: req.retain,
        properties,
    };
    let matched = state
        .shared
        .with_core(|core| core.admin_publish(Instant::now(), msg))?;
    Ok(Json(Published { matched }))
}
