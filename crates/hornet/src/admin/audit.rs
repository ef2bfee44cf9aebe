//! The audit trail: one log line for every state-changing API call
//! (publish, kick, discard, delete, login, logout), refused or not, saying
//! who (the user or token, `anonymous` without configured credentials,
//! `-` when unauthenticated), from where, what, and the result:
//!
//! `Admin audit: user alice from 127.0.0.1:51234: DELETE /api/v1/clients/s1 -> 204`

use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode};
use axum::serve::IncomingStream;

/// The address a request came from, over plain TCP or HTTPS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, super::tls::TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, super::tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The peer of `request` (`None` only for requests built in tests).
pub(crate) fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0)
}

/// Whether a request changes state (everything but GET, HEAD, OPTIONS).
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Writes the audit line of one call.
pub(crate) fn record(
    who: &str,
    peer: Option<SocketAddr>,
    method: &Method,
    path: &str,
    status: StatusCode,
) {
    let from = peer.map_or_else(|| "<unknown>".to_string(), |p| p.to_string());
    let status = status.as_u16();
    if status < 400 {
        tracing::info!("Admin audit: {who} from {from}: {method} {path} -> {status}");
    } else {
        tracing::warn!("Admin audit: {who} from {from}: {method} {path} -> {status}");
    }
}
