//! The admin HTTP listener: the REST API under `/api/v1/`, `/metrics`,
//! `/healthz`, `/readyz` and the dashboard, served with axum on the
//! broker's own tokio runtime.
//!
//! Handlers reach the core through [`Shared::with_core`] and hold its lock
//! only to copy a snapshot out or give one command; paging, filtering and
//! JSON encoding happen after the lock is released, so the API never holds
//! up MQTT traffic for longer than a copy. One file per concern: `auth`
//! (who may call), `error` (JSON errors), `clients`, `subscriptions`,
//! `retained`, `publish`, `broker` (version, listeners, config, `$SYS`
//! figures), `metrics` (Prometheus), `openapi`, `assets` (the dashboard)
//! and `paging`. `docs/admin.md` is the user's reference.

mod assets;
mod auth;
mod broker;
mod clients;
mod error;
mod history;
mod metrics;
mod openapi;
mod paging;
mod publish;
mod retained;
mod subscriptions;
mod view;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::routing::{delete, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
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
}

/// The state handlers share.
pub(crate) type State = Arc<AdminState>;

/// Binds the admin listener of `config` (the caller checked it is enabled).
pub(crate) async fn bind(config: &Config) -> io::Result<TcpListener> {
    let addr = SocketAddr::new(config.admin.bind, config.admin.port);
    TcpListener::bind(addr).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open the admin listener on {addr}: {e}"),
        )
    })
}

/// Serves the admin API on `listener`, and samples figures for
/// `/api/v1/broker/history`, until the tasks are aborted.
pub(crate) fn spawn(listener: TcpListener, state: AdminState) -> Vec<JoinHandle<()>> {
    let state = Arc::new(state);
    let sampler = tokio::spawn(history::sample(state.history.clone(), state.shared.clone()));
    let app = router(state);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        {
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
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .merge(assets::routes())
        .fallback(error::not_found)
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
