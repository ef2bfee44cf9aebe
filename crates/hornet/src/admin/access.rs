//! Roles and credentials: who a caller is and what they may do.
//!
//! Three roles, each including the ones below it: `metrics` (`GET
//! /metrics` only, for Prometheus), `read` (every list, detail and figure,
//! `$SYS`, `/metrics`), `admin` (also publish, kick, discard, delete and
//! the configuration). Credentials: the `token`, `read_token` and
//! `metrics_token` as `Authorization: Bearer`, users of `users` and
//! `read_users` with their `password_file` password as HTTP Basic, or the
//! dashboard's session cookie (see `login`). Tokens are compared in
//! constant time.

use axum::http::Method;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::Api;

/// What a caller may do; later variants include earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// `GET /metrics` only.
    Metrics,
    /// Reading: lists, details, figures, `$SYS`, `/metrics`.
    Read,
    /// Everything, including changes and the configuration.
    Admin,
}

impl Role {
    /// The name in JSON and logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Metrics => "metrics",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// The role a request needs.
    pub(crate) fn needed(method: &Method, path: &str) -> Role {
        if path == "/metrics" {
            Role::Metrics
        } else if (method == Method::GET || method == Method::HEAD)
            && path != "/api/v1/broker/config"
        {
            Role::Read
        } else {
            Role::Admin
        }
    }
}

/// An authenticated caller: a name for the audit log and a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// `user alice`, `token`, `read token`, `metrics token`, or
    /// `anonymous` when no credentials are configured.
    pub(crate) name: String,
    pub(crate) role: Role,
}

/// Why credentials were refused (for the 401 message and the log).
pub(crate) type Refusal = &'static str;

/// The caller a bearer token names.
pub(crate) fn by_token(api: &Api, token: &str) -> Result<Caller, Refusal> {
    let admin = &api.config.admin;
    let token = token.trim().as_bytes();
    for (expected, name, role) in [
        (&admin.token, "token", Role::Admin),
        (&admin.read_token, "read token", Role::Read),
        (&admin.metrics_token, "metrics token", Role::Metrics),
    ] {
        if let Some(expected) = expected {
            if bool::from(token.ct_eq(expected.as_bytes())) {
                return Ok(Caller {
                    name: name.into(),
                    role,
                });
            }
        }
    }
    Err("wrong bearer token")
}

/// The caller a user name and password name.
pub(crate) fn by_password(api: &Api, user: &str, password: &str) -> Result<Caller, Refusal> {
    let admin = &api.config.admin;
    let role = if admin.users.iter().any(|u| u == user) {
        Role::Admin
    } else if admin.read_users.iter().any(|u| u == user) {
        Role::Read
    } else {
        return Err("not an admin user");
    };
    let users = api.users.as_ref().ok_or("no password_file is loaded")?;
    if users.verify_password(user, password.as_bytes()) {
        Ok(Caller {
            name: format!("user {user}"),
            role,
        })
    } else {
        Err("wrong user name or password")
    }
}

/// The caller an `Authorization` header names.
pub(crate) fn by_header(api: &Api, header: &str) -> Result<Caller, Refusal> {
    if let Some(token) = header.strip_prefix("Bearer ") {
        return by_token(api, token);
    }
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "malformed Basic credentials")?;
        let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
        let (user, password) = text.split_once(':').ok_or("malformed Basic credentials")?;
        return by_password(api, user, password);
    }
    Err("unsupported Authorization scheme (use Bearer or Basic)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_routes() {
        assert_eq!(Role::needed(&Method::GET, "/metrics"), Role::Metrics);
        assert_eq!(Role::needed(&Method::GET, "/api/v1/clients"), Role::Read);
        assert_eq!(Role::needed(&Method::GET, "/api/v1/broker/sys"), Role::Read);
        assert_eq!(
            Role::needed(&Method::GET, "/api/v1/broker/config"),
            Role::Admin
        );
        assert_eq!(Role::needed(&Method::POST, "/api/v1/publish"), Role::Admin);
        assert_eq!(
            Role::needed(&Method::DELETE, "/api/v1/retained"),
            Role::Admin
        );
        assert!(Role::Admin > Role::Read && Role::Read > Role::Metrics);
    }
}
