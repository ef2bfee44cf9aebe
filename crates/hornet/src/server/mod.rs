//! The network shell: listeners, connection tasks and the ticker around
//! one [`hornet_core::Broker`].
//!
//! Threading: the core is a state machine behind one mutex; the map from
//! connection to outbox is behind a second one, taken before the first is
//! released (see [`Shared::with_core`]). A connection's reader decodes
//! outside both and holds the core only to feed a batch of packets;
//! writers encode and write outside both. Decoding, encoding and socket
//! I/O, most of the work per message, therefore run on every worker thread
//! at once, and the serialized part is routing itself. See
//! `ARCHITECTURE.md`.

mod conn;
mod outbox;
mod store;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use hornet_core::{Action, Anonymous, Broker, ConnId, Settings};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use crate::config::{AllowAnonymous, Config};
use outbox::Outbox;

/// How often the core's timers are checked.
const TICK: Duration = Duration::from_millis(100);

/// State shared by every task of one server.
///
/// Two locks, always taken in this order: `core` (the broker state machine)
/// and `outboxes` (who receives the packets it emits). A caller holding the
/// core takes the outbox lock before letting the core go (lock coupling):
/// packets therefore reach each outbox in exactly the core's order, while
/// the next caller already runs the core as this one hands packets out.
pub(crate) struct Shared {
    core: Mutex<Broker>,
    outboxes: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) active: AtomicUsize,
    pub(crate) max_packet_size: usize,
    max_connections: Option<usize>,
    connection_messages: bool,
    /// The store writer, when persistence is on.
    durability: OnceLock<store::Durability>,
}

/// A panic while holding a lock is a bug; keep serving the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Feeds the core through `f`, then hands what it emitted to the
    /// connections' outboxes.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut Broker) -> R) -> R {
        let mut core = lock(&self.core);
        if let Some(durability) = self.durability.get() {
            let failing = durability.gate.failing();
            if failing != core.store_failed() {
                core.set_store_failed(failing);
            }
        }
        let result = f(&mut core);
        // Records first: their commit number gates this call's packets.
        let mut seq = 0;
        if let Some(durability) = self.durability.get() {
            let mut ops = Vec::new();
            core.drain_store_ops(&mut ops);
            if !ops.is_empty() {
                seq = durability.submit(ops);
            }
        }
        let mut actions = Vec::new();
        core.drain_actions(&mut actions);
        if actions.is_empty() {
            return result;
        }
        let outboxes = lock(&self.outboxes);
        drop(core);
        let gate = self.durability.get().map(|d| &d.gate);
        for action in actions {
            match action {
                Action::Send { conn, packet } => {
                    if let Some(outbox) = outboxes.get(&conn) {
                        match (seq, gate) {
                            (1.., Some(gate)) if store::must_wait(&packet) => {
                                gate.wait(outbox, seq);
                                outbox.push_gated(packet, seq);
                            }
                            _ => outbox.push(packet),
                        }
                    }
                }
                Action::Close { conn } => {
                    if let Some(outbox) = outboxes.get(&conn) {
                        outbox.close();
                    }
                }
            }
        }
        result
    }

    /// Registers a connection's outbox before the core hears of it.
    pub(crate) fn add_outbox(&self, id: ConnId, outbox: Arc<Outbox>) {
        if let Some(durability) = self.durability.get() {
            outbox.set_gate(durability.gate.clone());
        }
        lock(&self.outboxes).insert(id, outbox);
    }

    /// Forgets a finished connection's outbox.
    pub(crate) fn remove_outbox(&self, id: ConnId) {
        lock(&self.outboxes).remove(&id);
    }
}

/// The core settings a configuration asks for.
pub fn settings_from(config: &Config) -> Settings {
    let limits = &config.limits;
    Settings {
        anonymous: match config.allow_anonymous {
            AllowAnonymous::Loopback => Anonymous::Loopback,
            AllowAnonymous::Always => Anonymous::Always,
            AllowAnonymous::Never => Anonymous::Never,
        },
        max_inflight_messages: limits.max_inflight_messages.max(1),
        max_queued_messages: limits.max_queued_messages,
        max_queued_bytes: limits.max_queued_bytes,
        max_packet_size: limits.max_packet_size,
        max_keepalive: limits.max_keepalive,
        queue_qos0_messages: limits.queue_qos0_messages,
        sys_interval: (config.sys_interval > 0).then(|| Duration::from_secs(config.sys_interval)),
        connection_messages: config.log.connection_messages,
        receive_maximum: config.mqtt.receive_maximum,
        max_session_expiry: config.mqtt.max_session_expiry.unwrap_or(u32::MAX),
        max_qos: config.mqtt.max_qos,
        retain_available: config.mqtt.retain_available,
        retained_max_age: config.mqtt.retained_max_age.map(Duration::from_secs),
        wildcard_subscriptions: config.mqtt.wildcard_subscriptions,
        subscription_identifiers: config.mqtt.subscription_identifiers,
        topic_alias_maximum: config.mqtt.topic_alias_maximum,
        response_information: config.mqtt.response_information.clone(),
        server_reference: config.mqtt.server_reference.clone(),
        shared_subscriptions: config.mqtt.shared_subscriptions,
        shared_strategy: config.mqtt.shared_subscription_strategy,
        shared_group_strategies: config.mqtt.shared_group_strategies.clone(),
        server_moved: config.mqtt.server_moved,
        ..Settings::default()
    }
}

/// A running broker: its listeners, connections and ticker.
pub struct Server {
    addrs: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds every listener of `config` and starts serving on the current
    /// tokio runtime.
    pub async fn start(config: &Config) -> io::Result<Server> {
        let users = match &config.password_file {
            Some(path) => Some(
                crate::config::load_password_file(path)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
            ),
            None => None,
        };
        Server::start_with(config, users).await
    }

    /// As [`Server::start`], with the `password_file` already loaded (the
    /// binary loads it first, so that a bad file is a configuration error).
    pub async fn start_with(
        config: &Config,
        users: Option<hornet_auth::PasswordFile>,
    ) -> io::Result<Server> {
        let settings = settings_from(config);
        let mut broker = Broker::new(settings, Instant::now());
        if let Some(users) = users {
            broker.set_authenticator(Box::new(hornet_auth::FileAuthenticator::new(users)));
        }
        let persistence = &config.persistence;
        let store = if persistence.enabled == Some(true) {
            let dir = persistence.dir();
            let (store, recovery) =
                hornet_store::Store::open(&dir, hornet_store::StoreOptions::default()).map_err(
                    |e| {
                        io::Error::new(
                            e.kind(),
                            format!("cannot open the store in {}: {e}", dir.display()),
                        )
                    },
                )?;
            store::log_recovery(&dir, &recovery);
            broker.enable_persistence();
            broker.restore(Instant::now(), recovery.restored);
            Some(store)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            core: Mutex::new(broker),
            outboxes: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            active: AtomicUsize::new(0),
            max_packet_size: config.limits.max_packet_size as usize,
            max_connections: config.limits.max_connections,
            connection_messages: config.log.connection_messages,
            durability: OnceLock::new(),
        });
        if let Some(st) = store {
            let interval = Duration::from_millis(persistence.fsync_interval_ms.max(1));
            let durability = store::start(st, persistence.fsync, interval);
            let _ = shared.durability.set(durability);
        }
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for listener in &config.listeners {
            let bound = bind(listener.bind_address, listener.port)?;
            let addr = bound.local_addr()?;
            addrs.push(addr);
            tasks.push(tokio::spawn(accept_loop(
                shared.clone(),
                bound,
                addr.port(),
            )));
        }
        tasks.push(tokio::spawn(tick_loop(shared.clone())));
        Ok(Server {
            addrs,
            tasks,
            shared,
        })
    }

    /// The address of each listener, in configuration order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Runs `f` on the broker state (for tests and the admin side).
    pub fn inspect<R>(&self, f: impl FnOnce(&Broker) -> R) -> R {
        f(&lock(&self.shared.core))
    }

    /// The store's counters (commits, fsyncs, records, bytes), when
    /// persistence is on.
    pub fn store_stats(&self) -> Option<hornet_store::StoreStats> {
        let durability = self.shared.durability.get()?;
        Some(*lock(&durability.stats))
    }

    /// The store's fault switch (simulates a full disk), when persistence is on.
    pub fn store_faults(&self) -> Option<hornet_store::StoreFaults> {
        Some(self.shared.durability.get()?.faults.clone())
    }

    /// Stops accepting and ticking. Open connections end with the runtime.
    pub fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds one listener. No address means every interface: IPv6 `::`, which
/// on Linux also accepts IPv4, falling back to `0.0.0.0` without IPv6.
fn bind(address: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    let listen = |addr: SocketAddr| -> io::Result<TcpListener> {
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
            Err(e) if e.kind() != io::ErrorKind::AddrInUse => {
                listen(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port))
            }
            other => other,
        },
    }
    .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on port {port}: {e}")))
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, port: u16) {
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
        if shared.connection_messages {
            tracing::info!("New connection from {peer} on port {port}.");
        }
        let active = shared.active.fetch_add(1, Ordering::AcqRel);
        if let Some(max) = shared.max_connections {
            if active >= max {
                shared.active.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!(
                    "Client connection from {peer} denied: max_connections ({max}) reached. \
                     Raise max_connections to allow more."
                );
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(conn::run(shared.clone(), stream, peer, port));
    }
}

async fn tick_loop(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        shared.with_core(|core| core.tick(Instant::now()));
    }
}
