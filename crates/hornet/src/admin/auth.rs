//! The middleware in front of the API and `/metrics`: who is calling
//! (`access`), whether their role allows the route, the per-address brake
//! on failed authentications (`throttle`), and the audit line of every
//! state-changing call (`audit`).
//!
//! Without credentials configured everyone who can reach the listener is
//! `anonymous` with the admin role (the listener is then on loopback, see
//! `Admin::check`), unless MQTT clients must authenticate: then the
//! listener is locked and every call gets 401 naming the keys to set.
//! With credentials: `Authorization` (Bearer or Basic) or the dashboard's
//! session cookie; none gets 401, wrong ones 401 and a failure counted
//! against the address, too many of those 429, a role below the route's
//! 403, all as JSON errors.

use std::time::Instant;

use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::{self, Caller, Role};
use super::audit;
use super::error::ApiError;
use super::{login, Api, State};

/// The middleware.
pub(crate) async fn require(
    AxumState(state): AxumState<State>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = audit::peer(&request);
    let verdict = authenticate(&state, &request).and_then(|caller| {
        let needed = Role::needed(&method, &path);
        if caller.role >= needed {
            Ok(caller)
        } else {
            let refusal = ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: format!(
                    "{} has the {} role; {method} {path} needs the {} role",
                    caller.name,
                    caller.role.name(),
                    needed.name()
                ),
            };
            Err((Some(caller), Box::new(refusal.into_response())))
        }
    });
    let (who, response) = match verdict {
        Ok(caller) => {
            let response = next.run(request).await;
            (caller.name, response)
        }
        Err((caller, response)) => {
            tracing::warn!(
                "Admin API request {method} {path} from {} refused ({}).",
                peer.map_or_else(|| "<unknown>".into(), |p| p.to_string()),
                response.status()
            );
            (
                caller.map_or_else(|| "-".to_string(), |c| c.name),
                *response,
            )
        }
    };
    if audit::changes_state(&method) {
        audit::record(&who, peer, &method, &path, response.status());
    }
    response
}

/// The 401 of a locked listener.
pub(crate) fn locked(why: &str) -> ApiError {
    ApiError::unauthorized(format!("the admin API is locked: {why}"))
}

/// The 429 for an address with too many failed authentications.
pub(crate) fn throttled(wait: u64) -> Response {
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "too_many_failures",
        message: format!(
            "too many failed authentications from this address: try again in {wait} s"
        ),
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// Who sends `request`, or the answer that refuses it.
/// A refusal: the caller when known (for the audit line) and the answer.
type Refused = (Option<Caller>, Box<Response>);

fn authenticate(api: &Api, request: &Request) -> Result<Caller, Refused> {
    if !api.config.admin.has_credentials() {
        return match &api.security.locked {
            Some(why) => Err((None, Box::new(locked(why).into_response()))),
            None => Ok(Caller {
                name: "anonymous".into(),
                role: Role::Admin,
            }),
        };
    }
    let now = Instant::now();
    let ip = audit::peer(request).map(|p| p.ip());
    if let Some(wait) = ip.and_then(|ip| api.security.throttle.blocked(ip, now)) {
        return Err((None, Box::new(throttled(wait))));
    }
    let headers = request.headers();
    let verdict = match headers.get(header::AUTHORIZATION) {
        Some(h) => access::by_header(api, h.to_str().unwrap_or("")),
        None => match login::session_id(headers) {
            // A stale cookie (an ended session, a restarted broker) is not
            // a guess: session ids are 256 random bits.
            Some(id) => {
                return api.security.sessions.get(id, now).ok_or_else(|| {
                    let e = ApiError::unauthorized("the session has ended: log in again");
                    (None, Box::new(e.into_response()))
                })
            }
            None => {
                let e = ApiError::unauthorized(
                    "credentials are needed: `Authorization: Bearer TOKEN`, HTTP Basic for \
                     admin users, or log in on the dashboard",
                );
                return Err((None, Box::new(e.into_response())));
            }
        },
    };
    verdict.map_err(|why| {
        if let Some(ip) = ip {
            api.security.throttle.failed(ip, now);
        }
        (None, Box::new(ApiError::unauthorized(why).into_response()))
    })
}
