//! Listeners: binding, the accept loop, the per-listener limits, and the
//! transport setup (TLS handshake, WebSocket upgrade) before a connection
//! is handed to [`super::conn`].
//!
//! Limits, checked in this order as a connection is accepted, each with a
//! counter in [`ListenerStats`] and a log line when it bites:
//!
//! - `max_connection_rate` (per listener, default unlimited): a token
//!   bucket refilled at that many connections per second and holding one
//!   second's worth. A connection over the rate is closed at once, before
//!   any handshake; one warning per episode (until a connection is
//!   accepted again) names the listener and the setting.
//! - `max_connections` (global, and per listener; default unlimited): a
//!   connection over either is closed at once, with a warning each time.
//!
//! Handshakes (TLS, WebSocket upgrade) run in the connection's own task
//! with a deadline, so a slow or silent client never holds up the accept
//! loop.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_core::{Anonymous, ConnInfo};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::tls::TlsListener;
use super::{conn, tcp, ws, Shared};
use crate::config::{AllowAnonymous, Listener, ListenerKind};

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one listener has seen; see [`super::Server::listener_stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStats {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its transport.
    pub kind: ListenerKind,
    /// The WebSocket path (`ws` and `wss`): the configured one, or
    /// `/mqtt` when any path is accepted.
    pub path: Option<String>,
    /// The TLS mode in words (`tls` and `wss`).
    pub tls: Option<String>,
    /// Connections open now (including those in a handshake).
    pub active: usize,
    /// Connections accepted (past the limits) since start.
    pub accepted: u64,
    /// Connections closed at once because of `max_connections` (this
    /// listener's or the global one).
    pub refused_max_connections: u64,
    /// Connections closed at once because of `max_connection_rate`.
    pub refused_rate: u64,
    /// TLS handshakes or WebSocket upgrades that failed.
    pub failed_handshakes: u64,
}

impl ListenerStats {
    /// The counters as the core publishes them in `$SYS`.
    pub fn figures(&self) -> hornet_core::ListenerFigures {
        hornet_core::ListenerFigures {
            kind: self.kind.name().to_string(),
            port: self.addr.port(),
            active: self.active as u64,
            accepted: self.accepted,
            refused_max_connections: self.refused_max_connections,
            refused_rate: self.refused_rate,
            failed_handshakes: self.failed_handshakes,
        }
    }
}

/// A listener while it runs: its settings, limits and counters.
pub(crate) struct ListenerState {
    pub(crate) addr: SocketAddr,
    kind: ListenerKind,
    /// The WebSocket path; `None` accepts any.
    path: Option<String>,
    name: String,
    pub(crate) tls: Option<Arc<TlsListener>>,
    /// A TLS-PSK listener's OpenSSL acceptor.
    psk: Option<Arc<super::psk::PskListener>>,
    anonymous: Option<Anonymous>,
    /// The listener's `mount_point`, given to each connection.
    mount_point: Option<Arc<str>>,
    max_connections: Option<usize>,
    rate: Option<Mutex<TokenBucket>>,
    max_rate: u32,
    rate_episode: AtomicBool,
    active: AtomicUsize,
    accepted: AtomicU64,
    refused_max: AtomicU64,
    refused_rate: AtomicU64,
    failed_handshakes: AtomicU64,
}

impl ListenerState {
    /// Binds `config`'s socket and loads its certificates.
    pub(crate) fn bind(config: &Listener) -> std::io::Result<(ListenerState, TcpListener)> {
        let socket = bind(config.bind_address, config.port)?;
        let addr = socket.local_addr()?;
        let name = format!("{} {}", config.kind.name(), addr);
        let tls = match &config.tls {
            Some(tls) if config.kind.is_tls() => Some(Arc::new(
                TlsListener::load(tls, config.kind, name.clone()).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the {name} listener cannot start: {e}"),
                    )
                })?,
            )),
            _ if config.kind.is_tls() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the {name} listener needs certfile and keyfile"),
                ))
            }
            _ => None,
        };
        let psk = match &config.psk {
            Some(psk) => Some(Arc::new(super::psk::PskListener::load(psk).map_err(
                |e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the TLS-PSK listener {addr} cannot start: {e}"),
                    )
                },
            )?)),
            None => None,
        };
        let state = ListenerState {
            addr,
            kind: config.kind,
            path: config.path.clone(),
            name,
            tls,
            psk,
            mount_point: config.mount_point.as_deref().map(Arc::from),
            anonymous: config.allow_anonymous.map(|a| match a {
                AllowAnonymous::Loopback => Anonymous::Loopback,
                AllowAnonymous::Always => Anonymous::Always,
                AllowAnonymous::Never => Anonymous::Never,
            }),
            max_connections: config.max_connections,
            rate: config
                .max_connection_rate
                .map(|r| Mutex::new(TokenBucket::new(r, Instant::now()))),
            max_rate: config.max_connection_rate.unwrap_or(0),
            rate_episode: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            refused_max: AtomicU64::new(0),
            refused_rate: AtomicU64::new(0),
            failed_handshakes: AtomicU64::new(0),
        };
        Ok((state, socket))
    }

    pub(crate) fn stats(&self) -> ListenerStats {
        ListenerStats {
            addr: self.addr,
            kind: self.kind,
            // Without a configured path any path is accepted: the one
            // MQTT.js and Paho use is the one to show (the dashboard
            // connects to it).
            path: self.kind.is_websocket().then(|| {
                self.path
                    .clone()
                    .unwrap_or_else(|| crate::config::DEFAULT_WS_PATH.to_string())
            }),
            tls: self.tls.as_ref().map(|t| t.mode()),
            active: self.active.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused_max_connections: self.refused_max.load(Ordering::Relaxed),
            refused_rate: self.refused_rate.load(Ordering::Relaxed),
            failed_handshakes: self.failed_handshakes.load(Ordering::Relaxed),
        }
    }

    /// Whether the rate limit lets one more connection in now.
    fn rate_allows(&self, shared: &Shared, peer: SocketAddr) -> bool {
        let Some(bucket) = &self.rate else {
            return true;
        };
        let allowed = bucket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(Instant::now());
        if allowed {
            self.rate_episode.store(false, Ordering::Relaxed);
            return true;
        }
        self.refused_rate.fetch_add(1, Ordering::Relaxed);
        if !self.rate_episode.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "Listener {}: refusing new connections (first from {peer}): over \
                 max_connection_rate ({} per second). Refusals are counted, not logged, \
                 until a connection is accepted again.",
                self.name,
                self.max_rate
            );
            hint_once(shared, Hint::ConnectionRate, || {
                format!(
                    "max_connection_rate (currently {} per second on the {} listener) limits \
                     how fast new connections are accepted, against reconnect storms. To \
                     change it: `max_connection_rate = 1000` in its [[listener]] table in \
                     hornet.toml, or `max_connection_rate 1000` after its `listener` line in \
                     mosquitto.conf (0 = unlimited); see \
                     docs/configuration.md#max_connection_rate.",
                    self.max_rate, self.name
                )
            });
        }
        false
    }
}

/// New-connection budget: `rate` tokens per second, at most `rate` saved.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Binds one listener. No address means every interface: IPv6 `::`, which
/// on Linux also accepts IPv4, falling back to `0.0.0.0` without IPv6.
fn bind(address: Option<IpAddr>, port: u16) -> std::io::Result<TcpListener> {
    let listen = |addr: SocketAddr| -> std::io::Result<TcpListener> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    };
    match address {
        Some(ip) => listen(SocketAddr::new(ip, port)),
        // Only a machine without IPv6 falls back; a port in use is an error.
        None => match listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)) {
            Err(e) if e.kind() != std::io::ErrorKind::AddrInUse => {
                listen(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port))
            }
            other => other,
        },
    }
    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on port {port}: {e}")))
}

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    state: Arc<ListenerState>,
    listener: TcpListener,
) {
    let port = state.addr.port();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and similar: say so, then retry.
                tracing::error!("Accepting a connection on port {port} failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        if !state.rate_allows(&shared, peer) {
            continue;
        }
        if shared.connection_messages {
            tracing::info!("New connection from {peer} on port {port}.");
        }
        let Some(guard) = admit(&shared, &state, peer) else {
            continue;
        };
        state.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let mut info = ConnInfo::new(peer, port);
        info.anonymous = state.anonymous;
        info.mount_point = state.mount_point.clone();
        if state.kind == ListenerKind::Tcp && state.psk.is_none() {
            // Registered here, so that the connection's task holds no
            // ConnInfo for its whole life (an idle client costs its task).
            let (_, outbox) = conn::open(&shared, info, false);
            tokio::spawn(tcp::run(stream, outbox, guard));
        } else {
            tokio::spawn(serve_upgraded(
                shared.clone(),
                state.clone(),
                stream,
                info,
                guard,
            ));
        }
    }
}

/// Counts a connection against the global and the listener's
/// `max_connections`, or refuses it (logged and counted).
fn admit(shared: &Arc<Shared>, state: &Arc<ListenerState>, peer: SocketAddr) -> Option<Active> {
    let (guard, global_before, listener_before) = Active::new(shared.clone(), state.clone());
    let over = |count: usize, max: Option<usize>| max.is_some_and(|m| count >= m);
    let (limit, scope, hint) = if over(global_before, shared.max_connections) {
        (
            shared.max_connections,
            "max_connections".to_string(),
            Hint::MaxConnections,
        )
    } else if over(listener_before, state.max_connections) {
        (
            state.max_connections,
            format!("the {} listener's max_connections", state.name),
            Hint::ListenerMaxConnections,
        )
    } else {
        return Some(guard);
    };
    state.refused_max.fetch_add(1, Ordering::Relaxed);
    let limit = limit.unwrap_or_default();
    tracing::warn!(
        "Client connection from {peer} denied: {scope} ({limit}) reached. Raise max_connections \
         to allow more."
    );
    hint_once(shared, hint, || match hint {
        Hint::MaxConnections => format!(
            "max_connections (currently {limit}) limits the connections open at once over all \
             listeners. To change it: `[limits] max_connections = 100000` in hornet.toml, or \
             `max_connections 100000` before any `listener` line in mosquitto.conf (-1 = \
             unlimited); see docs/configuration.md#max_connections."
        ),
        _ => format!(
            "{scope} (currently {limit}) limits the connections open at once on that listener. \
             To change it: `max_connections = 10000` in its [[listener]] table in hornet.toml, \
             or `max_connections 10000` after its `listener` line in mosquitto.conf; see \
             docs/configuration.md#max_connections-per-listener."
        ),
    });
    None
}

/// Refusals the shell decides, each explained by one hint per broker run
/// (the core has its own, see hornet-core's `hints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// The global `max_connections`.
    MaxConnections = 1,
    /// A listener's `max_connections`.
    ListenerMaxConnections = 2,
    /// A listener's `max_connection_rate`.
    ConnectionRate = 4,
}

/// Logs `text` as a hint unless `hint` was given already by this server.
fn hint_once(shared: &Shared, hint: Hint, text: impl FnOnce() -> String) {
    let bit = hint as u32;
    if shared.hints.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        tracing::info!("hint: {} (This hint is shown once.)", text());
    }
}

/// One open connection in the global and the listener's counts; dropping
/// it takes it out of both. (Kept small: every connection's task holds one.)
pub(crate) struct Active {
    shared: Arc<Shared>,
    state: Arc<ListenerState>,
}

impl Active {
    /// Counts a connection in; also returns the global and the listener's
    /// counts before it.
    fn new(shared: Arc<Shared>, state: Arc<ListenerState>) -> (Active, usize, usize) {
        let global_before = shared.active.fetch_add(1, Ordering::AcqRel);
        let listener_before = state.active.fetch_add(1, Ordering::AcqRel);
        (Active { shared, state }, global_before, listener_before)
    }
}

impl Active {
    /// The server it counts in (so that a TCP task needs no second `Arc`).
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.state.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sets up a TLS, WebSocket or WebSocket-over-TLS connection (handshake
/// and upgrade, each with a deadline), then serves MQTT over the stream.
/// Plain TCP connections do not come here: they are a task of their own
/// kind (`tcp::run`), whose size does not depend on these streams (a TLS
/// stream is several KiB).
async fn serve_upgraded(
    shared: Arc<Shared>,
    state: Arc<ListenerState>,
    stream: TcpStream,
    mut info: ConnInfo,
    active: Active,
) {
    let peer = info.peer;
    let failed = |what: &str, reason: &dyn std::fmt::Display| {
        state.failed_handshakes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            "Client connection from {peer} on the {} listener closed: {what} failed: {reason}",
            state.name
        );
    };
    if let Some(psk) = &state.psk {
        let handshake = psk.accept(stream);
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok((stream, user))) => {
                info.cert_username = user;
                return conn::run_stream(shared, stream, info).await;
            }
            Ok(Err(e)) => return failed("the TLS-PSK handshake", &e),
            Err(_) => return failed("the TLS-PSK handshake", &"timed out"),
        }
    }
    match (state.kind, &state.tls) {
        (ListenerKind::Tcp, _) => {
            let (_, outbox) = conn::open(&shared, info, false);
            tcp::run(stream, outbox, active).await;
        }
        (ListenerKind::Ws, _) => {
            // Served (and parked when idle) as a TCP connection is, with
            // the WebSocket framing in between (`tcp.rs`, the `hornet-ws` crate).
            let upgrade = ws::upgrade(stream, state.path.as_deref());
            match tokio::time::timeout(ws::HANDSHAKE_TIMEOUT, upgrade).await {
                Ok(Ok((stream, leftover))) => {
                    let (_, outbox) = conn::open(&shared, info, false);
                    // A task of its own: this one is as large as a TLS
                    // handshake.
                    tokio::spawn(tcp::run_ws(stream, outbox, active, leftover));
                }
                Ok(Err(e)) => failed("the WebSocket upgrade", &e.0),
                Err(_) => failed("the WebSocket upgrade", &"timed out"),
            }
        }
        (ListenerKind::Tls | ListenerKind::Wss, Some(tls)) => {
            let handshake = tls.acceptor().accept(stream);
            let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return failed("the TLS handshake", &e),
                Err(_) => return failed("the TLS handshake", &"timed out"),
            };
            info.identity_required = tls.identity_required();
            match tls.cert_username(stream.get_ref().1) {
                Ok(name) => info.cert_username = name,
                Err(e) => return failed("the client certificate check", &e),
            }
            // From here rustls is driven by the connection's task
            // (`tls_io.rs`), which parks it when idle as a TCP one.
            if state.kind == ListenerKind::Tls {
                let (stream, tls) = stream.into_inner();
                let (_, outbox) = conn::open(&shared, info, false);
                let run = tcp::run_tls(
                    stream,
                    outbox,
                    active,
                    false,
                    Box::new(tls),
                    BytesMut::new(),
                );
                tokio::spawn(run);
                return;
            }
            let upgrade = ws::upgrade(stream, state.path.as_deref());
            match tokio::time::timeout(ws::HANDSHAKE_TIMEOUT, upgrade).await {
                Ok(Ok((stream, leftover))) => {
                    let (stream, tls) = stream.into_inner();
                    let (_, outbox) = conn::open(&shared, info, false);
                    let run = tcp::run_tls(stream, outbox, active, true, Box::new(tls), leftover);
                    tokio::spawn(run);
                }
                Ok(Err(e)) => failed("the WebSocket upgrade", &e.0),
                Err(_) => failed("the WebSocket upgrade", &"timed out"),
            }
        }
        // Not reached: TLS listeners are bound with their certificates.
        (_, None) => failed("the TLS setup", &"the listener has no certificates"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_refills_at_the_rate_and_saves_one_second() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(3, t0);
        assert!(bucket.take(t0));
        assert!(bucket.take(t0));
        assert!(bucket.take(t0));
        assert!(!bucket.take(t0));
        // a third of a second buys one more
        let t1 = t0 + Duration::from_millis(340);
        assert!(bucket.take(t1));
        assert!(!bucket.take(t1));
        // a long pause saves at most one second's worth
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take(t2));
        }
        assert!(!bucket.take(t2));
    }
}
