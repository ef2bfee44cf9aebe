//! The dashboard's login: `POST /api/v1/login` with a token or a user name
//! and password checks them like the `Authorization` header would and
//! answers with a session cookie (`hornet_session`: 256 random bits,
//! `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over HTTPS, for
//! [`LIFETIME`]); `POST /api/v1/logout` ends it; `GET /api/v1/session`
//! says whether credentials are needed and who the cookie belongs to.
//! Sessions live in memory: a restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::Deserialize;

use super::access::{self, Caller, Role};
use super::audit;
use super::auth;
use super::error::ApiError;
use super::State;

/// The cookie's name.
pub(crate) const COOKIE: &str = "hornet_session";
/// How long a session lasts.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Live sessions by id.
#[derive(Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl Sessions {
    /// A new session for `caller`; returns its id.
    fn create(&self, caller: Caller, now: Instant) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("no randomness for a session id: {e}"),
        })?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, expires)| now < *expires);
        map.insert(id.clone(), (caller, now + LIFETIME));
        Ok(id)
    }

    /// The caller of a live session.
    pub(crate) fn get(&self, id: &str, now: Instant) -> Option<Caller> {
        let map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(_, expires)| now < *expires)
            .map(|(c, _)| c.clone())
    }

    fn remove(&self, id: &str) {
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}

/// The session id in a request's `Cookie` header.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).expect("a cookie of base64 characters")
}

/// The login form: a token, or a user name and password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

fn whoami(caller: &Caller, required: bool) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "required": required,
        "user": caller.name,
        "role": caller.role.name(),
    }))
}

/// `POST /api/v1/login`
pub(crate) async fn login(AxumState(state): AxumState<State>, request: Request) -> Response {
    let peer = audit::peer(&request);
    let (who, response) = match try_login(&state, request).await {
        Ok((caller, response)) => (caller.name, response),
        Err(response) => ("-".to_string(), response),
    };
    audit::record(
        &who,
        peer,
        &axum::http::Method::POST,
        "/api/v1/login",
        response.status(),
    );
    response
}

async fn try_login(state: &State, request: Request) -> Result<(Caller, Response), Response> {
    let admin = &state.config.admin;
    let ip = audit::peer(&request).map(|p| p.ip());
    let body: Result<Json<Credentials>, JsonRejection> =
        Json::<Credentials>::from_request(request, state).await;
    let Json(form) = body.map_err(|e| ApiError::from(e).into_response())?;
    let verdict = match (&form.token, &form.username, &form.password) {
        (Some(token), None, None) => Ok(Some(token)),
        (None, Some(_), Some(_)) => Ok(None),
        _ => Err(ApiError::bad_request(
            "send {\"token\": \"...\"} or {\"username\": \"...\", \"password\": \"...\"}",
        )
        .into_response()),
    }?;
    if !admin.has_credentials() {
        if let Some(why) = &state.security.locked {
            return Err(auth::locked(why).into_response());
        }
        let caller = Caller {
            name: "anonymous".into(),
            role: Role::Admin,
        };
        let body = whoami(&caller, false).into_response();
        return Ok((caller, body));
    }
    let now = Instant::now();
    if let Some(wait) = ip.and_then(|ip| state.security.throttle.blocked(ip, now)) {
        return Err(auth::throttled(wait));
    }
    let verdict = match (verdict, &form.username, &form.password) {
        (Some(token), _, _) => access::by_token(state, token),
        (None, Some(user), Some(password)) => access::by_password(state, user, password),
        (None, _, _) => Err("send a token, or a user name and password"),
    };
    let caller = verdict.map_err(|why| {
        if let Some(ip) = ip {
            state.security.throttle.failed(ip, now);
        }
        ApiError::unauthorized(why).into_response()
    })?;
    let id = state
        .security
        .sessions
        .create(caller.clone(), now)
        .map_err(IntoResponse::into_response)?;
    let mut response = whoami(&caller, true).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&id, LIFETIME.as_secs(), state.security.tls),
    );
    Ok((caller, response))
}

/// `POST /api/v1/logout`
pub(crate) async fn logout(AxumState(state): AxumState<State>, request: Request) -> Response {
    let peer = audit::peer(&request);
    let now = Instant::now();
    let id = session_id(request.headers());
    let who = id
        .and_then(|id| state.security.sessions.get(id, now))
        .map_or_else(|| "-".to_string(), |c| c.name);
    if let Some(id) = id {
        state.security.sessions.remove(id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, state.security.tls));
    audit::record(
        &who,
        peer,
        &axum::http::Method::POST,
        "/api/v1/logout",
        response.status(),
    );
    response
}

/// `GET /api/v1/session`: `{required, user, role}` (`user` and `role` null
/// without a live session), and `locked` with the reason when locked.
pub(crate) async fn session(AxumState(state): AxumState<State>, headers: HeaderMap) -> Response {
    if let Some(why) = &state.security.locked {
        return Json(serde_json::json!({
            "required": true, "user": null, "role": null, "locked": why,
        }))
        .into_response();
    }
    if !state.config.admin.has_credentials() {
        let caller = Caller {
            name: "anonymous".into(),
            role: Role::Admin,
        };
        return whoami(&caller, false).into_response();
    }
    match session_id(&headers).and_then(|id| state.security.sessions.get(id, Instant::now())) {
        Some(caller) => whoami(&caller, true).into_response(),
        None => Json(serde_json::json!({ "required": true, "user": null, "role": null }))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_cookies_are_strict() {
        let s = Sessions::default();
        let now = Instant::now();
        let caller = Caller {
            name: "user alice".into(),
            role: Role::Read,
        };
        let id = s.create(caller.clone(), now).unwrap();
        assert_eq!(id.len(), 43);
        assert_eq!(s.get(&id, now), Some(caller));
        assert_eq!(s.get(&id, now + LIFETIME), None);
        s.remove(&id);
        assert_eq!(s.get(&id, now), None);
        let c = cookie("abc", 60, true);
        let c = c.to_str().unwrap();
        for part in [
            "hornet_session=abc",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!cookie("abc", 60, false)
            .to_str()
            .unwrap()
            .contains("Secure"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; hornet_session=xyz".parse().unwrap());
        assert_eq!(session_id(&h), Some("xyz"));
    }
}
