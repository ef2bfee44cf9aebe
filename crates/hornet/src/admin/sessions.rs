//! `POST /api/v1/sessions`: make a session for a client id that has never
//! connected, with subscriptions, so messages wait for it (EMQX's
//! pre-created subscriptions).

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json;
use hornet_codec::QoS;
use hornet_core::PresetSession;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::State;

/// One subscription of the request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionRequest {
    filter: String,
    #[serde(default)]
    qos: u8,
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionRequest {
    client_id: String,
    /// Seconds; absent: never expires (capped by `max_session_expiry`).
    #[serde(default)]
    expiry_interval: Option<u32>,
    #[serde(default)]
    subscriptions: Vec<SubscriptionRequest>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct Created {
    client_id: String,
}

/// `POST /api/v1/sessions`
pub(crate) async fn create(
    AxumState(state): AxumState<State>,
    body: Result<Json<SessionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Json(request) = body?;
    let mut subscriptions = Vec::with_capacity(request.subscriptions.len());
    for s in request.subscriptions {
        let qos = QoS::from_u8(s.qos).ok_or_else(|| {
            ApiError::bad_request(format!("qos must be 0, 1 or 2, not {}", s.qos))
        })?;
        subscriptions.push((s.filter, qos));
    }
    let preset = PresetSession {
        client_id: request.client_id.clone(),
        expiry_interval: request.expiry_interval.unwrap_or(u32::MAX),
        subscriptions,
    };
    state
        .shared
        .with_core(|core| core.admin_create_session(Instant::now(), preset))?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            client_id: request.client_id,
        }),
    ))
}
