//! The network shell: listeners, connection tasks and the timer around
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

mod chain;
mod ciphers;
mod client_cert;
mod conn;
mod encoded;
mod listener;
mod log_topic;
pub(crate) mod outbox;
mod park;
mod password;
pub(crate) mod psk;
mod reload;
pub(crate) mod runtime_auth;
mod store;
mod tcp;
mod timer;
mod tls;
mod tls_io;
mod tls_watch;
mod writer;
pub(crate) mod ws;

pub(crate) use listener::ListenerState;
pub use listener::ListenerStats;
pub use reload::ReloadHandle;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use hornet_core::{Action, Broker, ConnId, Settings};
use tokio::task::JoinHandle;

use crate::config::Config;
use outbox::Outbox;

/// How long a plain TCP connection has nothing to do (nothing read, nothing
/// to write) before its task ends and its socket is parked (`park.rs`); it
/// parks between once and twice this after its last activity. A second:
/// a device that sends or receives more often than that keeps its task
/// (no system calls to park and unpark it per message), one that is quiet
/// longer gives its task and registration back soon after.
const PARK_AFTER: Duration = Duration::from_secs(1);

/// The hasher of the outbox map (zero-sized, fixed keys).
type ConnHasher = std::hash::BuildHasherDefault<ahash::AHasher>;

/// State shared by every task of one server.
///
/// Two locks, always taken in this order: `core` (the broker state machine)
/// and `outboxes` (who receives the packets it emits). A caller holding the
/// core takes the outbox lock before letting the core go (lock coupling):
/// packets therefore reach each outbox in exactly the core's order, while
/// the next caller already runs the core as this one hands packets out.
pub(crate) struct Shared {
    core: Mutex<Broker>,
    /// Looked up once per packet the core emits: a fixed-key hash (the
    /// broker picks connection ids; SipHash was 4% of a QoS 1 fan-in's
    /// instructions).
    outboxes: Mutex<HashMap<ConnId, Arc<Outbox>, ConnHasher>>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) active: AtomicUsize,
    pub(crate) max_packet_size: usize,
    max_connections: Option<usize>,
    connection_messages: bool,
    /// CONNECT password checks the core asked for, to run off the lock
    /// (see `password`).
    password_checks: password::Queue,
    /// The store writer, when persistence is on.
    durability: OnceLock<store::Durability>,
    /// Armed at the core's next deadline after every call (see `timer`).
    timer: timer::Timer,
    /// Rung by every call into the core: wakes a task that sleeps while
    /// the broker is quiet (the dashboard's history sampler).
    pub(crate) activity: Bell,
    /// Refusals the shell decides that were already explained by a hint
    /// (`listener::Hint` bits).
    pub(crate) hints: std::sync::atomic::AtomicU32,
    /// Users, roles and rules managed at runtime (see `runtime_auth`).
    pub(crate) runtime_auth: runtime_auth::RuntimeAuthStore,
    /// The node links, when this broker is a cluster node (`cluster`).
    pub(crate) cluster: OnceLock<Arc<crate::cluster::Links>>,
    /// Idle plain TCP connections without a task (see `park`).
    pub(crate) parker: Arc<park::Parker>,
    /// Claims of client ids in etcd, when this broker is a cluster node.
    pub(crate) ownership: OnceLock<Arc<crate::cluster::Ownership>>,
}

/// Wakes one task that waits for the broker's next activity.
#[derive(Debug, Default)]
pub(crate) struct Bell {
    armed: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Bell {
    /// Something happened: wakes the waiting task, if one waits (one
    /// relaxed load otherwise).
    pub(crate) fn ring(&self) {
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }

    /// Waits until the next `ring` after this call.
    pub(crate) async fn wait(&self) {
        self.armed.store(true, Ordering::Release);
        self.notify.notified().await;
    }
}

/// Actions vectors up to this capacity are kept for the thread's next
/// call into the core (a few hundred KiB per worker thread at most).
const KEPT_ACTIONS: usize = 4096;

thread_local! {
    /// The vector the core's actions are drained into, kept per thread:
    /// growing a fresh one for every call was 6% of a fan-out's
    /// instructions.
    static ACTIONS: std::cell::RefCell<Vec<Action>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A panic while holding a lock is a bug; keep serving the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The store's counters, when persistence is on.
    pub(crate) fn store_stats(&self) -> Option<hornet_store::StoreStats> {
        let durability = self.durability.get()?;
        Some(*lock(&durability.stats))
    }

    /// Feeds the core through `f`, then hands what it emitted to the
    /// connections' outboxes (and its records to the store), and arms the
    /// timer at the core's next deadline.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut Broker) -> R) -> R {
        self.feed(f, true)
    }

    /// Reads the broker state: no event, nothing emitted, not activity
    /// (a lazy bridge's look at its queue).
    pub(crate) fn read_core<R>(&self, f: impl FnOnce(&Broker) -> R) -> R {
        f(&lock(&self.core))
    }

    /// As [`Shared::with_core`] for the timer: time passing is activity
    /// only when it made the core do something (a stale deadline must not
    /// wake the dashboard's sampler of an idle broker).
    pub(crate) fn with_core_on_time<R>(&self, f: impl FnOnce(&mut Broker) -> R) -> R {
        self.feed(f, false)
    }

    fn feed<R>(&self, f: impl FnOnce(&mut Broker) -> R, activity: bool) -> R {
        let mut core = lock(&self.core);
        if let Some(d) = self.durability.get().filter(|d| d.reports.pending()) {
            d.reports.apply(&mut core, Instant::now());
        }
        let result = f(&mut core);
        self.hand_out(core, activity);
        result
    }

    /// Hands what the core emitted to the outboxes, the password checker
    /// and the store, and lets the core go. A drain the shell cannot do
    /// (the connection is gone, or is a stream) is reported at once, and
    /// what that emits is handed out the same way.
    fn hand_out<'a>(&'a self, mut core: MutexGuard<'a, Broker>, mut activity: bool) {
        let durability = self.durability.get();
        loop {
            // The vector is kept per thread: no allocation per call.
            let mut actions = ACTIONS.with(|a| std::mem::take(&mut *a.borrow_mut()));
            core.drain_actions(&mut actions);
            if activity || !actions.is_empty() {
                self.activity.ring();
            }
            self.timer.rearm(core.next_deadline());
            if actions.is_empty() {
                ACTIONS.with(|a| *a.borrow_mut() = actions);
                return;
            }
            // Lock coupling: taken before the core is let go, so packets and
            // records leave in exactly the core's order.
            let outboxes = lock(&self.outboxes);
            drop(core);
            let mut shapes = encoded::Shapes::default();
            let mut drained = Vec::new();
            // (Not `peekable`: that would move every action once more; a
            // run of `SendMany` is found through `as_slice`.)
            let mut actions_iter = actions.drain(..);
            while let Some(action) = actions_iter.next() {
                match action {
                    Action::Send { conn, packet } => {
                        if let Some(outbox) = outboxes.get(&conn) {
                            outbox.push_with(|protocol| shapes.outgoing(packet, protocol));
                        }
                    }
                    Action::SendMany { conns, publish } => {
                        // The messages that follow for exactly the same
                        // connections (a publisher's burst to one topic)
                        // go to each outbox together, encoded once into
                        // one shared buffer: one lookup, one lock and one
                        // queue entry per connection for the run, each
                        // connection's messages still in order.
                        let mut run = encoded::Run::new(publish);
                        while let Some(Action::SendMany { conns: next, .. }) =
                            actions_iter.as_slice().first()
                        {
                            if *next != conns || !run.has_room() {
                                break;
                            }
                            if let Some(Action::SendMany { publish, .. }) = actions_iter.next() {
                                run.push(publish);
                            }
                        }
                        for conn in &conns {
                            if let Some(outbox) = outboxes.get(conn) {
                                outbox.push_many(|protocol, items| run.extend(protocol, items));
                            }
                        }
                    }
                    Action::Close { conn } => {
                        if let Some(outbox) = outboxes.get(&conn) {
                            outbox.close();
                        }
                    }
                    Action::CheckPassword { conn, check } => self.password_checks.push(conn, check),
                    Action::DrainInput { conn } => {
                        if !outboxes.get(&conn).is_some_and(|o| o.request_drain()) {
                            drained.push(conn);
                        }
                    }
                    Action::Persist { seq, records } => match durability {
                        Some(d) => d.submit(seq, records),
                        None => tracing::error!("The core recorded changes but there is no store."),
                    },
                    // Only a cluster node's core emits these (see `cluster`).
                    cluster @ (Action::Forward { .. }
                    | Action::Applied { .. }
                    | Action::Routes { .. }
                    | Action::Retain { .. }
                    | Action::Will { .. }
                    | Action::Takeover { .. }
                    | Action::MoveSession { .. }
                    | Action::Resync { .. }) => {
                        if let Some(links) = self.cluster.get() {
                            links.apply(cluster);
                        }
                    }
                    claim @ (Action::Claim { .. } | Action::Release { .. }) => {
                        if let Some(ownership) = self.ownership.get() {
                            ownership.apply(claim);
                        }
                    }
                }
            }
            drop(actions_iter);
            drop(outboxes);
            if actions.capacity() <= KEPT_ACTIONS {
                ACTIONS.with(|a| *a.borrow_mut() = actions);
            }
            if drained.is_empty() {
                return;
            }
            core = lock(&self.core);
            let now = Instant::now();
            for conn in drained {
                core.input_drained(now, conn);
            }
            activity = true;
        }
    }

    /// Registers a connection's outbox before the core hears of it.
    pub(crate) fn add_outbox(&self, id: ConnId, outbox: Arc<Outbox>) {
        lock(&self.outboxes).insert(id, outbox);
    }

    /// Forgets a finished connection's outbox.
    pub(crate) fn remove_outbox(&self, id: ConnId) {
        lock(&self.outboxes).remove(&id);
    }
}

/// The core settings a configuration asks for (derived from the
/// declaration table, `config/schema.rs`, with the files' wording for hints).
pub fn settings_from(config: &Config) -> Settings {
    crate::config::core_settings(config)
}

/// A TLS listener's mode in words (versions, client certificates), as the
/// banner and `hornet check-config` show it.
pub fn describe_tls(tls: &crate::config::Tls) -> String {
    tls::describe(tls)
}

/// Loads a TLS listener's certificate, key and CA files exactly as the
/// listener would at start, without binding anything; the error names the
/// file and the reason (`hornet check-config`).
pub fn check_tls(
    tls: &crate::config::Tls,
    kind: crate::config::ListenerKind,
) -> Result<(), String> {
    tls::build(tls, kind).map(drop)
}

/// Checks a TLS-PSK listener's keys as the broker would load them
/// (`hornet check-config`).
pub fn check_psk(psk: &crate::config::Psk) -> Result<(), String> {
    psk::PskListener::load(psk).map(drop)
}

/// A running broker: its listeners, connections and ticker.
pub struct Server {
    addrs: Vec<SocketAddr>,
    listeners: Vec<Arc<listener::ListenerState>>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// The configuration it was started with (`reload_auth` re-reads its files).
    config: Arc<Config>,
    /// The admin HTTP listener's address, when it runs.
    admin_addr: Option<SocketAddr>,
    /// The running bridges (changed by [`Server::reload_bridges`]).
    bridges: Arc<crate::bridge::Bridges>,
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
    /// A TLS listener whose certificates cannot be loaded is an error
    /// naming the file.
    pub async fn start_with(
        config: &Config,
        users: Option<hornet_auth::PasswordFile>,
    ) -> io::Result<Server> {
        config
            .admin
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let settings = settings_from(config);
        let started = Instant::now();
        let mut broker = Broker::new(settings, started);
        // Plain TCP connections read their pending input on request
        // (`tcp::drain_input`), so a reconnect's takeover sees the old
        // connection's DISCONNECT.
        broker.drain_before_takeover(true);
        // A fan-out's QoS 0 copies come as one action, encoded once per
        // protocol version for all its subscribers (`encoded::Run`).
        broker.send_many(true);
        let admin_users = match &users {
            _ if !config.admin.has_users() || !config.admin.enabled => None,
            Some(users) => Some(Arc::new(users.clone())),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "admin users are configured but there is no password_file to check \
                     their passwords: set password_file, or use an admin token",
                ))
            }
        };
        let acl = match &config.acl_file {
            Some(path) => {
                let acl = crate::config::load_acl_file(path)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                for warning in acl.warnings() {
                    tracing::warn!("{}: {warning}", path.display());
                }
                Some(acl)
            }
            None => None,
        };
        // The password_file and acl_file, with the users and roles managed
        // at runtime beside them (see `runtime_auth`).
        let data_dir = (config.persistence.enabled == Some(true)).then(|| config.persistence.dir());
        let runtime_auth = runtime_auth::RuntimeAuthStore::open(data_dir.as_deref())?;
        runtime_auth.set_files(&mut broker, Some(users), Some(acl));
        let (password_checks, checks_rx) = password::queue();
        if config.cluster.node.is_some() {
            // Before the store's tombstones are restored: their age counts.
            broker.set_retained_tombstones(
                Duration::from_secs(config.cluster.tombstone_ttl),
                hornet_core::TOMBSTONES_MAX,
            );
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
            broker.enable_persistence(match persistence.fsync {
                crate::config::FsyncMode::Fsync => hornet_core::AckPolicy::AfterDurable,
                _ => hornet_core::AckPolicy::Immediate,
            });
            let (now, unix_ms) = wall_clock();
            broker.set_wall_clock(now, unix_ms);
            broker.restore(now, recovery.restored);
            Some(store)
        } else {
            None
        };
        // Stamps of retained writes read the wall clock (the tick follows it).
        let (now, unix_ms) = wall_clock();
        broker.set_wall_clock(now, unix_ms);
        // A cluster node joins before it serves (etcd unreachable: logged
        // and retried here; its name taken: an error).
        let cluster = match &config.cluster.node {
            Some(node) => {
                let prepared = crate::cluster::prepare(&config.cluster).await?;
                broker.enable_cluster(node, prepared.incarnation());
                broker.set_orphan_sessions(config.cluster.orphan_sessions);
                broker.enable_cluster_acks(std::time::Duration::from_secs(
                    config.cluster.ack_timeout.max(1),
                ));
                Some(prepared)
            }
            None => None,
        };
        let (parker, park_poll) = park::Parker::new(park_after())?;
        let shared = Arc::new(Shared {
            core: Mutex::new(broker),
            outboxes: Mutex::new(HashMap::default()),
            next_conn: AtomicU64::new(1),
            active: AtomicUsize::new(0),
            max_packet_size: config.limits.max_packet_size as usize,
            max_connections: config.limits.max_connections,
            connection_messages: config.log.connection_messages,
            password_checks,
            durability: OnceLock::new(),
            timer: timer::Timer::new(started),
            activity: Bell::default(),
            hints: Default::default(),
            runtime_auth,
            cluster: OnceLock::new(),
            parker: parker.clone(),
            ownership: OnceLock::new(),
        });
        if let Some(st) = store {
            let interval = Duration::from_millis(persistence.fsync_interval_ms.max(1));
            let durability = store::start(st, persistence.fsync, interval);
            let _ = shared.durability.set(durability);
        }
        let mut cluster_tasks = Vec::new();
        if let Some(prepared) = cluster {
            let (links, ownership, tasks) =
                crate::cluster::start(prepared, &config.cluster, &shared);
            let _ = shared.cluster.set(links);
            let _ = shared.ownership.set(ownership);
            cluster_tasks = tasks;
        }
        // Bind everything first: a bad listener starts nothing.
        let mut bound = Vec::new();
        for listener in &config.listeners {
            let (state, socket) = listener::ListenerState::bind(listener)?;
            bound.push((Arc::new(state), socket));
        }
        let mut server = Server {
            addrs: Vec::new(),
            listeners: Vec::new(),
            tasks: Vec::new(),
            shared: shared.clone(),
            config: Arc::new(config.clone()),
            admin_addr: None,
            bridges: Arc::new(crate::bridge::Bridges::start(shared.clone(), &[])),
        };
        server.tasks.extend(cluster_tasks);
        for (state, socket) in bound {
            server.addrs.push(state.addr);
            server.listeners.push(state.clone());
            server.tasks.push(tokio::spawn(listener::accept_loop(
                shared.clone(),
                state,
                socket,
            )));
        }
        let watched: Vec<Arc<tls::TlsListener>> = server
            .listeners
            .iter()
            .filter_map(|l| l.tls.clone())
            .collect();
        if !watched.is_empty() {
            server.tasks.push(tokio::spawn(tls_watch::run(watched)));
        }
        server
            .tasks
            .push(tokio::spawn(park::run(parker, park_poll)));
        server.tasks.push(tokio::spawn(timer::run(
            shared.clone(),
            server.listeners.clone(),
        )));
        if shared.durability.get().is_some() {
            server
                .tasks
                .push(tokio::spawn(store::run_reports(shared.clone())));
        }
        server
            .tasks
            .push(tokio::spawn(password::run(shared.clone(), checks_rx)));
        server.bridges = Arc::new(crate::bridge::Bridges::start(
            shared.clone(),
            &config.bridges,
        ));
        if config.admin.enabled {
            match crate::admin::bind(config).await {
                Ok(listener) => {
                    let addr = listener.local_addr()?;
                    server.admin_addr = Some(addr);
                    server.tasks.extend(crate::admin::spawn(
                        listener,
                        crate::admin::AdminState {
                            shared: shared.clone(),
                            config: config.clone(),
                            listeners: server.listeners.clone(),
                            admin_addr: addr,
                            users: admin_users,
                            started,
                            history: Default::default(),
                            bridges: server.bridges.clone(),
                        },
                    ));
                }
                // A second broker on one machine (or a test run in
                // parallel) finds the default admin port taken: MQTT is
                // served all the same, and the log says why there is no API.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => tracing::error!(
                    "{e}; the admin API and dashboard are off. Give the admin listener another \
                     port (`[admin] port` in hornet.toml, `admin_listener PORT` in mosquitto.conf)."
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(server)
    }

    /// The address of each listener, in configuration order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Each listener's address, transport, mode and counters, in
    /// configuration order.
    pub fn listener_stats(&self) -> Vec<ListenerStats> {
        self.listeners.iter().map(|l| l.stats()).collect()
    }

    /// Connections open now, on every listener.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Plain TCP and WebSocket connections parked now (idle, without a
    /// task of their own), and those brought back since start.
    pub fn parked_connections(&self) -> (usize, usize) {
        (self.shared.parker.parked(), self.shared.parker.unparked())
    }

    /// Reads the certificates, keys and CA files of every TLS listener
    /// again (SIGHUP). New connections get the new ones; established
    /// connections are untouched. A listener whose new files are bad keeps
    /// its old certificates; the error (logged too) names the file.
    pub fn reload_tls(&self) -> Result<(), String> {
        let errors: Vec<String> = self
            .listeners
            .iter()
            .filter_map(|l| l.tls.as_ref())
            .filter_map(|t| t.reload().err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Publishes the lines of `feed` on `$SYS/broker/log/<level>`
    /// (`log_dest topic`) from a task of its own.
    pub fn publish_log(&mut self, feed: Arc<crate::logging::TopicFeed>) {
        self.tasks
            .push(tokio::spawn(log_topic::run(self.shared.clone(), feed)));
    }

    /// Each running bridge's state and counters, in configuration order.
    pub fn bridges(&self) -> Vec<crate::bridge::BridgeSnapshot> {
        self.bridges.snapshots()
    }

    /// Stops every bridge cleanly (at shutdown): `0` on both sides,
    /// DISCONNECT.
    pub async fn stop_bridges(&self) {
        self.bridges.stop_all().await;
    }

    /// Makes the running bridges those of `bridges` (SIGHUP): unchanged
    /// ones keep their connection and counters, changed ones reconnect
    /// with their new settings, removed ones stop cleanly, added ones
    /// start (`bridge/set.rs`).
    pub async fn reload_bridges(
        &self,
        bridges: &[crate::config::Bridge],
    ) -> crate::bridge::ReloadSummary {
        self.bridges.reload(bridges).await
    }

    /// The admin HTTP listener's address, when it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Runs `f` on the broker state (for tests and the admin side).
    pub fn inspect<R>(&self, f: impl FnOnce(&Broker) -> R) -> R {
        f(&lock(&self.shared.core))
    }

    /// The store's counters (commits, fsyncs, records, bytes), when
    /// persistence is on.
    pub fn store_stats(&self) -> Option<hornet_store::StoreStats> {
        self.shared.store_stats()
    }

    /// The store's fault switch (simulates a full disk), when persistence is on.
    pub fn store_faults(&self) -> Option<hornet_store::StoreFaults> {
        Some(self.shared.durability.get()?.faults.clone())
    }

    /// A cluster node leaves the cluster (its etcd lease revoked, so the
    /// others count it dead at once); nothing for a single broker.
    pub async fn leave_cluster(&self) {
        if let Some(links) = self.shared.cluster.get() {
            links.leave().await;
        }
    }

    /// Stops accepting and ticking. Open connections end with the runtime.
    pub fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(links) = self.shared.cluster.get() {
            links.stop();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(links) = self.shared.cluster.get() {
            links.stop();
        }
    }
}

/// How long a plain TCP connection stays idle before it parks
/// (`park.rs`): [`PARK_AFTER`], or the environment's
/// `HORNET_PARK_AFTER_MS` (a debug and test setting; `off` never parks).
fn park_after() -> Option<Duration> {
    match std::env::var("HORNET_PARK_AFTER_MS") {
        Ok(v) if v == "off" => None,
        Ok(v) => match v.parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                tracing::warn!("HORNET_PARK_AFTER_MS={v} is not a number of milliseconds or `off`; using {PARK_AFTER:?}");
                Some(PARK_AFTER)
            }
        },
        Err(_) => Some(PARK_AFTER),
    }
}

/// The monotonic and the wall clock, read together: the core (which has no
/// clock) records deadlines in Unix milliseconds from this pair.
fn wall_clock() -> (Instant, u64) {
    let now = Instant::now();
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (now, unix_ms)
}
