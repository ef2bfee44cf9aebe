//! The admin HTTP listener: the REST API under `/api/v1/`, `/metrics`,
//! `/healthz`, `/readyz` and the dashboard, served with axum on the
//! broker's own tokio runtime.
//!
//! Handlers reach the core through [`Shared::with_core`] and hold its lock
//! only to copy a snapshot out or give one command; paging, filtering and
//! JSON encoding happen after the lock is released, so the API never holds
//! up MQTT traffic for longer than a copy. One file per concern: `hosts`
//! (the `Host` / `Origin` checks against DNS rebinding), `access` (roles
//! and credentials), `auth` (the middleware: who may call what, audit
//! lines), `throttle` (failed authentications per address), `login` (the
//! dashboard's session cookie), `tls` (HTTPS), `error` (JSON errors),
//! `clients`, `sessions` (made for client ids that never connected),
//! `subscriptions`, `retained`, `publish`, `delayed` (held
//! `$delayed/` messages), `broker` (version,
//! listeners, config, `$SYS` figures), `metrics` (Prometheus), `openapi`,
//! `assets` (the dashboard) and `paging`. `docs/admin.md` is the user's
//! reference, `docs/security.md` states the rules.

mod access;
mod assets;
mod audit;
mod auth;
mod broker;
mod clients;
mod delayed;
mod error;
mod history;
mod hosts;
mod login;
mod metrics;
mod openapi;
mod paging;
mod publish;
mod retained;
mod sessions;
mod subscriptions;
mod throttle;
mod tls;
mod topology;
mod users;
mod view;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::routing::{delete, get, post, put};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Admin, Config};
use crate::server::Shared;

/// What every admin handler can reach.
pub(crate) struct AdminState {
    pub(crate) shared: Arc<Shared>,
    /// The configuration the broker runs with (secrets hidden on output).
    pub(crate) config: Config,
    /// The MQTT listeners as bound.
    pub(crate) listeners: Vec<std::sync::Arc<crate::server::ListenerState>>,
    /// The admin listener as bound.
    pub(crate) admin_addr: SocketAddr,
    /// The user store, for admin users with HTTP Basic authentication.
    pub(crate) users: Option<Arc<hornet_auth::PasswordFile>>,
    /// When the server started (the monotonic clock the core runs on).
    pub(crate) started: Instant,
    /// Figures of the last minutes, for the dashboard's chart.
    pub(crate) history: Arc<history::History>,
    /// The outgoing bridges' figures (`/metrics`).
    pub(crate) bridges: Arc<crate::bridge::Bridges>,
}

/// What handlers reach: the state the server hands over (through `Deref`)
/// and the admin listener's own security state.
pub(crate) struct Api {
    base: AdminState,
    /// Who may call and how they are told no.
    pub(crate) security: Security,
}

impl std::ops::Deref for Api {
    type Target = AdminState;
    fn deref(&self) -> &AdminState {
        &self.base
    }
}

/// The security side of the admin listener.
pub(crate) struct Security {
    /// The names `Host` and `Origin` may carry.
    pub(crate) hosts: hosts::HostPolicy,
    /// Failed authentications per address, and their counters.
    pub(crate) throttle: throttle::Throttle,
    /// The dashboard's login sessions.
    pub(crate) sessions: login::Sessions,
    /// Why every call is refused, when MQTT clients must authenticate and
    /// the (undeclared) admin listener has no credentials.
    pub(crate) locked: Option<String>,
    /// Whether the listener serves HTTPS (session cookies are `Secure`).
    pub(crate) tls: bool,
}

/// The state handlers share.
pub(crate) type State = Arc<Api>;

/// Binds the admin listener of `config` (the caller checked it is enabled).
/// A declared admin listener without credentials beside MQTT
/// authentication is refused here too, for a library caller's `Server`.
pub(crate) async fn bind(config: &Config) -> io::Result<TcpListener> {
    config
        .admin
        .check_in(config)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if config.admin.tls() {
        // A bad certificate is a start error, not a listener that never answers.
        tls::acceptor(&config.admin)?;
    }
    let addr = SocketAddr::new(config.admin.bind, config.admin.port);
    TcpListener::bind(addr).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open the admin listener on {addr}: {e}"),
        )
    })
}

/// Serves the admin API on `listener` (HTTPS with `[admin] certfile`), and
/// samples figures for `/api/v1/broker/history`, until the tasks are
/// aborted.
pub(crate) fn spawn(listener: TcpListener, state: AdminState) -> Vec<JoinHandle<()>> {
    let admin = &state.config.admin;
    let locked = admin.unguarded(&state.config);
    if let Some(why) = &locked {
        tracing::warn!(
            "The admin API and dashboard on {} are LOCKED (every call answers 401): {why}.",
            state.admin_addr
        );
    } else if admin.allow_unauthenticated && Admin::mqtt_authentication(&state.config).is_some() {
        tracing::warn!(
            "The admin API on {} needs NO credentials (allow_unauthenticated) although MQTT \
             clients must authenticate: any process on this machine can publish to any topic, \
             kick clients, discard sessions and read the configuration through it.",
            state.admin_addr
        );
    }
    let acceptor = if admin.tls() {
        match tls::acceptor(admin) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!("The admin listener cannot serve HTTPS: {e}");
                return Vec::new();
            }
        }
    } else {
        None
    };
    let security = Security {
        hosts: hosts::HostPolicy::new(state.admin_addr, &admin.hosts),
        throttle: Default::default(),
        sessions: Default::default(),
        locked,
        tls: acceptor.is_some(),
    };
    let state = Arc::new(Api {
        base: state,
        security,
    });
    let sampler = tokio::spawn(history::sample(state.history.clone(), state.shared.clone()));
    let app = router(state).into_make_service_with_connect_info::<audit::Peer>();
    let server = tokio::spawn(async move {
        let served = match acceptor {
            Some(acceptor) => axum::serve(tls::TlsListener::new(listener, acceptor), app).await,
            None => axum::serve(listener, app).await,
        };
        if let Err(e) = served {
            tracing::error!("The admin listener stopped: {e}");
        }
    });
    vec![server, sampler]
}

/// Every route, with authentication in front of the API and `/metrics`.
fn router(state: State) -> Router {
    let api = Router::new()
        .route("/api/v1/clients", get(clients::list))
        .route(
            "/api/v1/clients/{client_id}",
            get(clients::detail).delete(clients::kick),
        )
        .route(
            "/api/v1/clients/{client_id}/session",
            delete(clients::discard_session),
        )
        .route("/api/v1/subscriptions", get(subscriptions::list))
        .route("/api/v1/topics", get(subscriptions::topic_tree))
        .route(
            "/api/v1/retained",
            get(retained::list).delete(retained::delete_matching),
        )
        .route(
            "/api/v1/retained/{*topic}",
            get(retained::read_one).delete(retained::delete_one),
        )
        .route("/api/v1/publish", post(publish::publish))
        .route("/api/v1/bridges", get(topology::bridges))
        .route("/api/v1/cluster", get(topology::cluster))
        .route("/api/v1/users", get(users::list_users))
        .route(
            "/api/v1/users/{name}",
            put(users::put_user).delete(users::delete_user),
        )
        .route("/api/v1/roles", get(users::list_roles))
        .route(
            "/api/v1/roles/{name}",
            put(users::put_role).delete(users::delete_role),
        )
        .route("/api/v1/sessions", post(sessions::create))
        .route("/api/v1/delayed", get(delayed::list))
        .route("/api/v1/delayed/{id}", delete(delayed::cancel))
        .route("/api/v1/broker", get(broker::info))
        .route("/api/v1/broker/config", get(broker::config))
        .route("/api/v1/broker/sys", get(broker::sys))
        .route("/api/v1/broker/history", get(history::history))
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ));
    Router::new()
        .merge(api)
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/login", post(login::login))
        .route("/api/v1/logout", post(login::logout))
        .route("/api/v1/session", get(login::session))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .merge(assets::routes())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hosts::require,
        ))
        .with_state(state)
}

/// Liveness: the HTTP side answers.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the core answers (its lock can be taken) and listeners are bound.
async fn ready(
    axum::extract::State(state): axum::extract::State<State>,
) -> axum::Json<serde_json::Value> {
    let clients = state.shared.with_core(|core| core.clients_connected());
    axum::Json(serde_json::json!({
        "status": "ready",
        "listeners": state.listeners.len(),
        "clients_connected": clients,
    }))
}
