//! Who may call the API: without credentials configured (the listener is
//! then on loopback, see `Admin::check`) everyone who can reach it; with a
//! token, `Authorization: Bearer TOKEN`; with admin users, HTTP Basic with
//! a user of `admin.users` and their `password_file` password. Anything
//! else gets 401 with a JSON error, and a log line naming the peer.

use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::State;

/// The middleware in front of the API and `/metrics`.
pub(crate) async fn require(
    AxumState(state): AxumState<State>,
    request: Request,
    next: Next,
) -> Response {
    let admin = &state.config.admin;
    if !admin.has_credentials() {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verdict = match header {
        None => Err("an Authorization header is needed (Bearer TOKEN or Basic for admin users)"),
        Some(h) => check(&state, h),
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(why) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_else(|| "<unknown>".into());
            tracing::warn!(
                "Admin API request {} {} from {peer} refused: {why}.",
                request.method(),
                request.uri().path()
            );
            ApiError::unauthorized(why).into_response()
        }
    }
}

fn check(state: &State, header: &str) -> Result<(), &'static str> {
    let admin = &state.config.admin;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return match &admin.token {
            Some(expected) if bool::from(token.trim().as_bytes().ct_eq(expected.as_bytes())) => {
                Ok(())
            }
            Some(_) => Err("wrong bearer token"),
            None => Err("no admin token is configured; use Basic authentication"),
        };
    }
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "malformed Basic credentials")?;
        let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
        let (user, password) = text.split_once(':').ok_or("malformed Basic credentials")?;
        if !admin.users.iter().any(|u| u == user) {
            return Err("not an admin user");
        }
        let users = state.users.as_ref().ok_or("no password_file is loaded")?;
        return if users.verify_password(user, password.as_bytes()) {
            Ok(())
        } else {
            Err("wrong user name or password")
        };
    }
    Err("unsupported Authorization scheme (use Bearer or Basic)")
}
