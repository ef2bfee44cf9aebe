//! The `Host` and `Origin` checks that close DNS rebinding: a page on
//! another site can point its own name at 127.0.0.1 and then talk to the
//! admin listener as if it were that site, but its requests still carry
//! its name in `Host`. So a request is served only when its `Host` names
//! this listener: an IP address (the bound one, any when bound to all
//! interfaces, or loopback), `localhost` or a `*.localhost` name, or a
//! name of `[admin] hosts`; anything else gets 421 with a JSON error. A
//! state-changing request (not GET, HEAD or OPTIONS) that carries an
//! `Origin` must come from this listener's own origin (the `Host` it was
//! sent to) or a configured name; a foreign one, or `null`, gets 403.
//! A request without `Host` (HTTP/1.0 from a script) is not refused: a
//! browser always sends one, and only a browser can be rebound.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::State;

/// The names this listener answers to.
#[derive(Debug)]
pub(crate) struct HostPolicy {
    bind: IpAddr,
    names: Vec<String>,
}

impl HostPolicy {
    /// The policy of a listener bound to `addr` with the extra `names`.
    pub(crate) fn new(addr: SocketAddr, names: &[String]) -> Self {
        HostPolicy {
            bind: addr.ip(),
            names: names.iter().map(|n| normalize(n)).collect(),
        }
    }

    /// Whether `host` (a `Host` value or an origin's authority, with or
    /// without port) names this listener.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let name = normalize(strip_port(host));
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
            return ip == self.bind || ip.is_loopback() || self.bind.is_unspecified();
        }
        name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
    }

    /// Whether a state-changing request with these headers may proceed:
    /// `Err` says why not.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("");
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let own = !authority.is_empty() && authority.eq_ignore_ascii_case(host);
        let named = self.names.contains(&normalize(strip_port(authority)));
        if own || (named && !authority.is_empty()) {
            Ok(())
        } else {
            Err(format!(
                "a state-changing request from the page of origin {origin:?} is refused: only \
                 pages served by this admin listener (or a name of [admin] hosts) may change state"
            ))
        }
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` without the port.
fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => authority,
    }
}

/// The middleware in front of every route.
pub(crate) async fn require(
    AxumState(state): AxumState<State>,
    request: Request,
    next: Next,
) -> Response {
    let policy = &state.security.hosts;
    if let Some(host) = request.headers().get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !policy.allows(host) {
            tracing::warn!(
                "Admin API request {} {} with Host {host:?} refused: not a name of this \
                 listener (DNS rebinding?); add it to [admin] hosts (admin_host) if it is yours.",
                request.method(),
                request.uri().path()
            );
            return ApiError {
                status: StatusCode::MISDIRECTED_REQUEST,
                code: "misdirected_host",
                message: format!(
                    "the Host {host:?} is not a name of this admin listener: use its address, \
                     localhost, or add the name to [admin] hosts (admin_host NAME)"
                ),
            }
            .into_response();
        }
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        if let Err(why) = policy.check_origin(request.headers()) {
            tracing::warn!(
                "Admin API request {} {} refused: {why}.",
                request.method(),
                request.uri().path()
            );
            return ApiError {
                status: StatusCode::FORBIDDEN,
                code: "foreign_origin",
                message: why,
            }
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        h.insert(header::ORIGIN, origin.parse().unwrap());
        h
    }

    #[test]
    fn hosts_that_name_the_listener() {
        let p = HostPolicy::new(([127, 0, 0, 1], 18083).into(), &["Broker.Example.".into()]);
        for ok in [
            "127.0.0.1:18083",
            "127.0.0.1",
            "localhost:18083",
            "LOCALHOST",
            "hornet.localhost:1",
            "[::1]:18083",
            "broker.example",
            "broker.example:443",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:18083",
            "evil.example",
            "10.0.0.1:18083",
            "localhost.evil.example",
            "",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        let any = HostPolicy::new(([0, 0, 0, 0], 18083).into(), &[]);
        assert!(any.allows("10.0.0.1:18083") && !any.allows("evil.example"));
    }

    #[test]
    fn origins_of_state_changing_requests() {
        let p = HostPolicy::new(([127, 0, 0, 1], 18083).into(), &["broker.example".into()]);
        assert!(p
            .check_origin(&headers("127.0.0.1:18083", "http://127.0.0.1:18083"))
            .is_ok());
        assert!(p
            .check_origin(&headers("localhost:18083", "https://broker.example"))
            .is_ok());
        for bad in [
            "http://evil.example",
            "null",
            "http://localhost:18083",
            "http://127.0.0.1:8080",
        ] {
            assert!(
                p.check_origin(&headers("127.0.0.1:18083", bad)).is_err(),
                "{bad}"
            );
        }
        assert!(p.check_origin(&HeaderMap::new()).is_ok());
    }
}
